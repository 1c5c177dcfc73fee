"""Shopify's calculated query cost, as the adapter paces by it ("GraphQL Admin API rate
limits": every answer's ``extensions.cost`` carries the query's requested cost and the
account's leaky bucket, ``throttleStatus`` {maximumAvailable, currentlyAvailable,
restoreRate}; a query the bucket cannot hold is refused with a THROTTLED error).

:class:`CostBucket` is the adapter's picture of that bucket: what the last answer said
it held, refilled at its restore rate since, and what each kind of query cost last
time, per key it asked for (an id, a SKU, an order of a page). A query is held back
until the bucket holds what it is expected to cost, instead of drawing THROTTLED.

Besides the bucket, one query may cost at most ``MAX_QUERY_COST`` (1,000); a costlier
one is refused with MAX_COST_EXCEEDED, whatever the bucket holds. How much a key costs
is the shop's to say (its rule weighs every nested connection), so a batch of keys is
sized by what the operation cost per key last time (:meth:`CostBucket.keys_per_call`),
and a refused batch teaches what it would have cost (:meth:`CostBucket.too_costly`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sources.adapters.shopify import wire
from sources.resilience.throttle import DEFAULT_THROTTLE_WAIT_S, REQUESTS_SHARE


@dataclass
class CostBucket:
    """The account's bucket as the last answer left it, and the cost per key of each
    operation (by name) seen so far."""

    _status: wire.ThrottleStatus | None = None
    _at: float = 0.0  # time.monotonic() when the status was read
    _per_key: dict[str, float] = field(default_factory=dict)
    _max_cost: int = wire.MAX_QUERY_COST  # the most one query may cost, as last said

    def observe(self, cost: wire.Cost, now: float | None = None) -> None:
        """Read an answer's ``extensions.cost``."""
        self._status = cost.throttle_status
        self._at = time.monotonic() if now is None else now

    def learn(self, operation: str, keys: int, cost: wire.Cost) -> None:
        """``operation`` asked for ``keys`` keys and requested ``cost``."""
        self._per_key[operation] = cost.requested_query_cost / max(keys, 1)

    def too_costly(self, operation: str, keys: int, refused: wire.ErrorExtensions) -> None:
        """``operation`` for ``keys`` keys was refused with MAX_COST_EXCEEDED: what it
        would have cost per key, as the shop said (a cost it did not say, or that does
        not exceed the limit: twice what fits, so half as many keys a call), and the
        most one query may cost."""
        self._max_cost = refused.max_cost or self._max_cost
        fits = self._max_cost / max(keys, 1)
        cost = refused.cost or 0
        per_key = cost / max(keys, 1) if cost > self._max_cost else 2 * fits
        self._per_key[operation] = max(per_key, self._per_key.get(operation, 0.0), fits * 1.01)

    def keys_per_call(self, operation: str, keys: int) -> int:
        """How many of ``keys`` keys one call of ``operation`` may ask for: as many as
        its last known cost per key lets under the most one query may cost (at least
        one; all of them while nothing is known)."""
        per_key = self._per_key.get(operation)
        if not per_key:
            return max(keys, 1)
        return max(1, min(keys, int(self._max_cost // per_key)))

    def available(self, now: float | None = None) -> float | None:
        """What the bucket holds now, by the last answer (None: no answer yet)."""
        status = self._status
        if status is None:
            return None
        elapsed = (time.monotonic() if now is None else now) - self._at
        restored = status.currently_available + elapsed * status.restore_rate
        return min(status.maximum_available, restored)

    def wait_s(
        self, operation: str, keys: int, now: float | None = None, *, background: bool = False
    ) -> float:
        """How long ``operation`` for ``keys`` keys should wait before it is sent:
        (expected cost - available) / restore rate; 0 while nothing is known. A
        ``background`` call also leaves :data:`REQUESTS_SHARE` of the bucket to requests."""
        available = self.available(now)
        per_key = self._per_key.get(operation)
        if available is None or per_key is None or self._status is None:
            return 0.0
        rate = self._status.restore_rate
        reserve = self._status.maximum_available * REQUESTS_SHARE if background else 0.0
        missing = per_key * max(keys, 1) + reserve - available
        return max(0.0, missing / rate) if rate > 0 else 0.0


def throttled_wait_s(errors: Sequence[wire.GraphQLError], cost: wire.Cost | None) -> float | None:
    """How long an answer with ``errors`` and ``cost`` asks to wait when one of its
    errors is THROTTLED: until the bucket, refilling at its restore rate, holds the
    requested cost again (the default wait when the answer says nothing of its cost);
    None when it was not throttled."""
    if not any(e.extensions is not None and e.extensions.code == wire.THROTTLED for e in errors):
        return None
    return DEFAULT_THROTTLE_WAIT_S if cost is None else cost.wait_s()
