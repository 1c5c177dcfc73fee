"""A clock the test moves, for the gateway or the sources (``sources.clock.Clock``)."""

from __future__ import annotations

from datetime import datetime


class ManualClock:
    """Reads ``at`` until the test sets it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def time(self) -> float:
        return self.at.timestamp()
