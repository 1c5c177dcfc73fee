"""Per-key token buckets charged with an operation's cost (Shopify's "leaky bucket":
``capacity`` points, refilled at ``refill_per_s``).

A bucket starts full. A charge is taken whole or refused; a refusal leaves the bucket
unchanged and says how long until the charge would fit (``retry_after_s``), or
``inf`` when the charge is larger than the capacity and never will.

The buckets live in the cache backend, so with Redis they are shared by every
gateway process (one atomic script per charge, on Redis's clock) and Redis trouble
is handled once, with the cache's own timeouts and cooldown. While the backend cannot
answer, charges go to this process's own buckets: every key stays limited (to its
limit per process) and none is locked out, as a cache outage must neither lift the
limits nor refuse every client. Those buckets start full.
"""

from __future__ import annotations

from dataclasses import dataclass

from sources.cache.backend import TokenBuckets
from sources.cache.memory_backend import MemoryBackend

KEY_PREFIX = "og:cost:"
OWN_BUCKETS = 10_000  # keys this process charges itself while the backend cannot answer


@dataclass(frozen=True)
class BucketState:
    allowed: bool
    available: float  # after the charge, or unchanged if refused
    capacity: float
    refill_per_s: float
    retry_after_s: float  # 0 when allowed; inf when the charge exceeds the capacity


class CostBucket:
    def __init__(self, backend: TokenBuckets) -> None:
        self._backend = backend
        self._own = MemoryBackend(max_entries=OWN_BUCKETS)  # while the backend cannot answer

    async def take(
        self, key: str, cost: float, capacity: float, refill_per_s: float
    ) -> BucketState:
        if refill_per_s <= 0:
            raise ValueError("refill_per_s must be positive")
        taken = await self._backend.take_tokens(KEY_PREFIX + key, cost, capacity, refill_per_s)
        if taken is None:
            taken = await self._own.take_tokens(key, cost, capacity, refill_per_s)
        assert taken is not None  # the memory backend always answers
        return BucketState(taken.allowed, taken.tokens, capacity, refill_per_s, taken.retry_after_s)
