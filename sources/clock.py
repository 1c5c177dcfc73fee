"""One clock for the rules and services: everything that asks "what time is it now"
(exception rules and the sweep, freshness ages, the cache's TTLs, subscriptions, the
simulated sources' changes) asks the clock object it was given, never the wall clock.

Production runs on :class:`SystemClock`. ``ordergraph demo --now T`` runs the
simulated sources and the gateway on one :class:`ShiftedClock` that starts at T and
ticks with the wall clock, so both agree about what is late; tests pin it the same way.

Three things keep the wall clock on purpose: API key lifetimes and the audit log (they
are promises about real time, and keys are minted outside any demo), webhook
signatures (the receiver checks their timestamp against the sender's real time), and
a source's rate limit (it resets in real time: ``X-RateLimit-Reset``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...

    def time(self) -> float:
        """The current instant in seconds since the epoch (``now().timestamp()``)."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def time(self) -> float:
        return time.time()


class ShiftedClock:
    """A clock that reads ``start`` when it is made and then ticks with the wall
    clock (measured monotonically, so a wall-clock step does not move it)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock's start needs a time zone")
        self._start = start.astimezone(UTC)
        self._started = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._started)

    def time(self) -> float:
        return self.now().timestamp()


SYSTEM_CLOCK = SystemClock()
