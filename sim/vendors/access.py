"""Who a simulated vendor API lets in, and how often: one API key and a number of
requests per fixed window (AfterShip counts a second, Zendesk a minute).

The window runs on the wall clock, not the data set's clock: a rate limit is about
real time, and the gateway reads its reset the same way.
"""

from __future__ import annotations

import hmac
import math
import time
from dataclasses import dataclass, field

SIM_API_KEY = "og-sim-vendor-key"  # what `ordergraph sim --vendors` prints and admits


@dataclass(frozen=True)
class Admission:
    """One call's fate: admitted or not, and the limit's state for its headers."""

    admitted: bool
    limit: int
    remaining: int
    reset: int  # Unix seconds when the window resets
    retry_after: int  # whole seconds until then, at least one


@dataclass
class VendorAccount:
    """``limit`` requests per window of ``window_s`` seconds."""

    limit: int = 10
    window_s: int = 1
    api_key: str = field(default=SIM_API_KEY, repr=False)
    _window: int = 0
    _used: int = 0

    def knows(self, key: str | None) -> bool:
        return key is not None and hmac.compare_digest(key.encode(), self.api_key.encode())

    def take(self) -> Admission:
        """Count one call in the current window."""
        now = time.time()
        window = math.floor(now / self.window_s) * self.window_s
        if window != self._window:
            self._window, self._used = window, 0
        admitted = self._used < self.limit
        if admitted:
            self._used += 1
        return Admission(
            admitted=admitted,
            limit=self.limit,
            remaining=self.limit - self._used,
            reset=window + self.window_s,
            retry_after=max(1, math.ceil(window + self.window_s - now)),
        )
