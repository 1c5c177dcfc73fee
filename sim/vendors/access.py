"""Who a simulated vendor API lets in, and how often: one API key and a request rate
per one-second window, as AfterShip and Zendesk count theirs.

The window runs on the wall clock, not the data set's clock: a rate limit is about
real time, and the gateway reads its reset the same way.
"""

from __future__ import annotations

import hmac
import math
import time
from dataclasses import dataclass, field

SIM_API_KEY = "og-sim-vendor-key"  # what `ordergraph sim --vendors` prints and admits
DEFAULT_RATE_PER_S = 10  # AfterShip's Tracking API (2024-04): 10 requests/s per account


@dataclass(frozen=True)
class Admission:
    """One call's fate: admitted or not, and the limit's state for its headers."""

    admitted: bool
    limit: int
    remaining: int
    reset: int  # Unix seconds when the window resets


@dataclass
class VendorAccount:
    api_key: str = field(default=SIM_API_KEY, repr=False)
    rate_per_s: int = DEFAULT_RATE_PER_S
    _window: int = 0
    _used: int = 0

    def knows(self, key: str | None) -> bool:
        return key is not None and hmac.compare_digest(key.encode(), self.api_key.encode())

    def take(self) -> Admission:
        """Count one call in the current one-second window."""
        now = time.time()
        window = math.floor(now)
        if window != self._window:
            self._window, self._used = window, 0
        admitted = self._used < self.rate_per_s
        if admitted:
            self._used += 1
        return Admission(
            admitted=admitted,
            limit=self.rate_per_s,
            remaining=self.rate_per_s - self._used,
            reset=window + 1,
        )
