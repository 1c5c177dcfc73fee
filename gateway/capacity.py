"""Operations executing at once, in one process, whatever carries them (plain HTTP,
server-sent events, WebSockets). Past the limit a new operation is refused at once
(429 OVERLOADED) rather than queued: a saturated loop would otherwise make every
answer late, far past the deadline. Subscriptions are checked when they start but
not counted while they wait for events (``OG_LIVE_MAX_CONNECTIONS`` bounds those)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from gateway.refusal import Refusal

OVERLOADED = "OVERLOADED"


class InFlight:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0

    def check(self) -> None:
        """Raise 429 OVERLOADED when ``limit`` operations are executing."""
        if self.count >= self.limit:
            raise Refusal(
                429, OVERLOADED, "the gateway is at capacity: retry shortly", {"Retry-After": "1"}
            )

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Count one operation while the block runs (admitted by ``check`` before)."""
        self.count += 1
        try:
            yield
        finally:
            self.count -= 1
