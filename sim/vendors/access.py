"""Who a simulated vendor API lets in, and how often: one API key and a number of
requests per fixed window (AfterShip counts a second, Zendesk a minute), or a leaky
bucket of query-cost points that refills at that rate (Shopify's GraphQL Admin API).

The window runs on the wall clock, not the data set's clock: a rate limit is about
real time, and the gateway reads its reset the same way.
"""

from __future__ import annotations

import hmac
import math
import time
from dataclasses import dataclass, field
from datetime import timedelta

SIM_API_KEY = "og-sim-vendor-key"  # what `ordergraph sim --vendors` prints and admits


@dataclass(frozen=True)
class Admission:
    """One call's fate: admitted or not, and the limit's state for its headers."""

    admitted: bool
    limit: int
    remaining: int
    reset: int  # Unix seconds when the window resets
    retry_after: int  # whole seconds until then, at least one


# A cost bucket holds this many windows of the rate: Shopify's standard plan restores
# 100 points a second into a bucket of 1,000.
BUCKET_WINDOWS = 10


@dataclass(frozen=True)
class Spent:
    """One query's cost taken from a leaky bucket, or refused (nothing taken)."""

    admitted: bool
    maximum: float
    available: float  # what the bucket holds now
    restore_per_s: float


@dataclass
class VendorAccount:
    """``limit`` requests per window of ``window_s`` seconds; or, for cost, ``limit``
    points restored per window into a bucket of :data:`BUCKET_WINDOWS` windows' worth."""

    limit: int = 10
    window_s: int = 1
    max_cost: int | None = None  # for cost: the most one query may cost (None: no limit)
    documented_cost: bool = False  # for cost: Shopify's documented rule, not roots only
    # for search (Zendesk): how long a new ticket takes to be listed (the vendor's index
    # lags by minutes; none unless a test sets it): until then it is found by id only
    search_lag: timedelta = timedelta()
    api_key: str = field(default=SIM_API_KEY, repr=False)
    _window: int = 0
    _used: int = 0
    _points: float | None = None  # what the cost bucket held at _points_at (None: full)
    _points_at: float = 0.0

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

    def spend(self, cost: float) -> Spent:
        """Take ``cost`` points from the bucket, refilled since the last call; refused
        when it holds less."""
        now = time.monotonic()
        maximum, rate = self.limit * BUCKET_WINDOWS, self.limit / self.window_s
        held = maximum if self._points is None else self._points + (now - self._points_at) * rate
        held = min(maximum, held)
        admitted = held >= cost
        self._points, self._points_at = held - cost if admitted else held, now
        return Spent(admitted, maximum, self._points, rate)

    def refund(self, points: float) -> None:
        """Give back what a query was charged beyond its actual cost."""
        if self._points is not None:
            self._points = min(self.limit * BUCKET_WINDOWS, self._points + points)
