"""Operations executing at once, in one process, whatever carries them (plain HTTP,
server-sent events, WebSockets). Past the limit a new operation is refused at once
(429 OVERLOADED) rather than queued: a saturated loop would otherwise make every
answer late, far past the deadline. An operation takes its place as it is checked,
before admission (which may await Redis), so a burst cannot slip past the limit, and
holds it until it has executed. Subscriptions are checked when they start but not
counted while they wait for events (``OG_LIVE_MAX_CONNECTIONS`` bounds those)."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from gateway.refusal import RequestRefused

OVERLOADED = "OVERLOADED"


class Slot:
    """A place taken in a bounded count: given back once, by ``release`` or on leaving
    its ``with`` block, whichever comes first."""

    def __init__(self, give_back: Callable[[], None]) -> None:
        self._give_back: Callable[[], None] | None = give_back

    def release(self) -> None:
        give_back, self._give_back = self._give_back, None
        if give_back is not None:
            give_back()

    def __enter__(self) -> Slot:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


class InFlight:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0

    def claim(self) -> Slot:
        """One operation's place, taken at once; 429 OVERLOADED when ``limit``
        operations hold one."""
        if self.count >= self.limit:
            raise RequestRefused(
                429, OVERLOADED, "the gateway is at capacity: retry shortly", {"Retry-After": "1"}
            )
        self.count += 1
        return Slot(self._release)

    def _release(self) -> None:
        self.count -= 1
