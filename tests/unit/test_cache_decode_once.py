"""A cached record is decoded once per read, whether it comes from the in-process
copies or from the shared backend behind them (which also fills those copies)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sources.cache.memory_backend import MemoryBackend
from sources.cache.through import CacheCounts, Cached, CachedSource
from sources.options import CachePolicy
from sources.records import Money


async def _fetch(ids: list[str]) -> dict[str, Money | None]:
    return {i: Money(amount=i, currency_code="USD") for i in ids}


class CountingDecoder:
    def __init__(self, decoder: Any) -> None:
        self._decoder = decoder
        self.blobs: Counter[bytes] = Counter()

    def decode(self, blob: bytes) -> Any:
        self.blobs[blob] += 1
        return self._decoder.decode(blob)


def _instance(shared: MemoryBackend) -> tuple[CachedSource[Money], CountingDecoder]:
    """One gateway instance's cache-through reads: its own local copies in front of
    the shared backend."""
    cached: CachedSource[Money] = CachedSource(
        kind="price",
        source="oms",
        value_type=Money,
        fetch=_fetch,
        tags=lambda ident, _: [f"price:{ident}"],
        policy=CachePolicy(ttl_s=60, stale_s=60, keep_s=600),
        backend=shared,
        scoped=False,
        local=MemoryBackend(),
    )
    decoder = CountingDecoder(cached._decoder)
    cached._decoder = decoder  # type: ignore[assignment]
    return cached, decoder


async def test_each_entry_read_is_decoded_once():
    shared = MemoryBackend()
    first, _ = _instance(shared)
    ids = ["1", "2", "3"]
    await first.load_many(ids, scope="-", counts=CacheCounts())  # fills the shared backend
    other, decoder = _instance(shared)
    for _ in range(2):  # from the shared backend, then from its own copies
        decoder.blobs.clear()
        found = await other.load_many(ids, scope="-", counts=CacheCounts())
        assert all(isinstance(r, Cached) and r.value is not None for r in found)
        assert len(decoder.blobs) == len(ids)
        assert set(decoder.blobs.values()) == {1}
