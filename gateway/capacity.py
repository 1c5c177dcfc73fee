"""Operations executing at once, in one process, whatever carries them (plain HTTP,
server-sent events, WebSockets). Past the limit a new operation is refused at once
(429 OVERLOADED) rather than queued: a saturated loop would otherwise make every
answer late, far past the deadline. An operation takes its place as it is checked,
before admission (which may await Redis), so a burst cannot slip past the limit, and
holds it until it has executed. Subscriptions are checked when they start but not
counted while they wait for events (``OG_LIVE_MAX_CONNECTIONS`` bounds those).

The count alone does not see a loop saturated by cheap operations, nor by work that
holds no place (event streams' pushes, webhooks): :class:`LoopAdmission` refuses new
requests (503 OVERLOADED) while the event loop itself keeps running late, so the
calls in flight get the loop back instead of sharing it with ever more."""

from __future__ import annotations

from collections.abc import Callable

from gateway.refusal import RequestRefused
from sources.resilience.loop_lag import LoopLag

OVERLOADED = "OVERLOADED"
RETRY_AFTER_S = 1


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

    def __exit__(self, *_exc_info: object) -> None:
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
                429,
                OVERLOADED,
                "the gateway is at capacity: retry shortly",
                {"Retry-After": str(RETRY_AFTER_S)},
            )
        self.count += 1
        return Slot(self._release)

    def _release(self) -> None:
        self.count -= 1


class LoopAdmission:
    """New requests refused while the loop's sustained lag is above ``max_lag_s``
    (0: never)."""

    def __init__(self, lag: LoopLag, max_lag_s: float) -> None:
        self._lag = lag
        self._max_lag_s = max_lag_s

    def check(self) -> None:
        """503 OVERLOADED with ``Retry-After`` while the loop is saturated."""
        if self._max_lag_s > 0 and self._lag.sustained() > self._max_lag_s:
            raise RequestRefused(
                503,
                OVERLOADED,
                "the gateway is overloaded: retry shortly",
                {"Retry-After": str(RETRY_AFTER_S)},
            )
