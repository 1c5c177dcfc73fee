"""A retry budget: retries may add at most ``ratio`` of the calls made.

Every call deposits ``ratio`` of a token (up to ``cap``); a retry spends a whole
one. A small starting reserve lets the first failures of a quiet source retry.
"""

from __future__ import annotations


class RetryBudget:
    def __init__(self, *, ratio: float = 0.1, reserve: float = 2.0, cap: float = 10.0) -> None:
        self._ratio = ratio
        self._cap = cap
        self._tokens = min(reserve, cap)

    def on_call(self) -> None:
        self._tokens = min(self._cap, self._tokens + self._ratio)

    def try_spend(self) -> bool:
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
