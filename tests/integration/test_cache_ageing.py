"""Entries ageing, on both backends: a stale entry is served at once, the background
refresh runs once however many requests see the entry stale meanwhile, a refresh
that failed is not retried on every stale request, and a not-found answer is
remembered only for the negative TTL."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest

from sources.cache.backend import CacheBackend
from sources.cache.memory_backend import MemoryBackend
from sources.cache.redis_backend import RedisBackend
from sources.cache.through import CacheCounts, Cached, CachedSource, Freshness
from sources.failures import SOURCE_UNAVAILABLE, SourceError
from sources.options import CachePolicy
from sources.records import Money
from tests.support.redis_server import PATIENT_TIMEOUT_S
from tests.support.timing import HANG_S
from tests.support.waiting import eventually

# How long the source takes once it is slow: long enough that an answer that waited
# for it stands out from one merely slowed by a loaded machine.
SLOW_S = 2.0


class Upstream:
    """Stands in for a source: counts calls; answers after ``delay_s`` with the
    current ``version`` (not found for ``"missing"``), or fails while ``failing``."""

    def __init__(self) -> None:
        self.calls = 0
        self.delay_s = 0.0
        self.version = 1
        self.failing = False
        self.answered = asyncio.Event()  # set by every successful answer

    async def fetch(self, ids: list[str]) -> dict[str, Money | None]:
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        if self.failing:
            raise SourceError("oms", SOURCE_UNAVAILABLE, "down", retryable=True)
        self.answered.set()
        return {
            i: None if i == "missing" else Money(amount=f"v{self.version}", currency_code="USD")
            for i in ids
        }


@pytest.fixture(params=["memory", "redis"])
async def backend(request, redis_server, redis_admin) -> AsyncIterator[CacheBackend]:
    cache: CacheBackend = (
        MemoryBackend()
        if request.param == "memory"
        else RedisBackend(redis_server.url, timeout_s=PATIENT_TIMEOUT_S)
    )
    await cache.start()
    yield cache
    await cache.close()


def _cached(
    backend: CacheBackend,
    upstream: Upstream,
    *,
    ttl_s: float = 0.3,
    backoff_s: float = 1.0,
    negative_ttl_s: float = 5.0,
) -> CachedSource[Money]:
    policy = CachePolicy(
        ttl_s=ttl_s,
        stale_s=30,
        keep_s=600,
        negative_ttl_s=negative_ttl_s,
        refresh_backoff_s=backoff_s,
    )
    return CachedSource(
        kind="price", source="oms", value_type=Money, fetch=upstream.fetch,
        tags=lambda ident, _: [f"price:{ident}"], policy=policy, backend=backend, scoped=False,
    )  # fmt: skip


async def _load(cached: CachedSource[Money]) -> tuple[Freshness, str]:
    (result,) = await cached.load_many(["1"], scope="*", counts=CacheCounts())
    assert isinstance(result, Cached) and result.value is not None, result
    return result.status, result.value.amount


async def test_stale_is_served_at_once_and_refreshed_once_while_the_refresh_runs(backend):
    upstream = Upstream()
    cached = _cached(backend, upstream)
    assert await _load(cached) == (Freshness.FRESH, "v1")
    await asyncio.sleep(0.35)  # past the fresh TTL
    upstream.answered.clear()
    upstream.delay_s, upstream.version = SLOW_S, 2
    for _ in range(10):  # one after another while the refresh is under way
        started = time.monotonic()
        assert await _load(cached) == (Freshness.STALE, "v1")
        assert time.monotonic() - started < SLOW_S / 5  # at once, not after the source
        await asyncio.sleep(0.02)
    assert upstream.calls == 2  # the first fetch and one refresh
    await asyncio.wait_for(upstream.answered.wait(), timeout=HANG_S)

    async def written_back() -> bool:
        return await _load(cached) == (Freshness.FRESH, "v2")

    await eventually(written_back, "the refresh is written back", timeout_s=HANG_S)
    assert upstream.calls == 2


async def test_a_failing_refresh_runs_once_and_is_not_retried_on_every_stale_request(
    backend, caplog
):
    caplog.set_level(logging.INFO, logger="ordergraph.cache")
    upstream = Upstream()
    cached = _cached(backend, upstream, ttl_s=0.1, backoff_s=0.5)
    await _load(cached)
    await asyncio.sleep(0.15)
    upstream.failing, upstream.delay_s = True, 0.2
    # ~0.3 s of stale requests, one after another: while the refresh runs (0.2 s, then it
    # fails), and after, inside the backoff.
    failed = "background refresh of 1 price entries failed"
    for _ in range(15):
        assert await _load(cached) == (Freshness.STALE, "v1")
        await asyncio.sleep(0.02)
    await eventually(lambda: failed in caplog.text, "the refresh fails", timeout_s=HANG_S)
    assert upstream.calls == 2  # the first fetch and the one refresh
    assert caplog.text.count(failed) == 1

    await asyncio.sleep(0.5)  # the backoff is over (it began as the failure was logged)
    upstream.failing, upstream.delay_s, upstream.version = False, 0.0, 2
    key = cached.key("*", "1")
    (stale,) = await backend.get_many([key])
    assert await _load(cached) == (Freshness.STALE, "v1")  # refreshes again

    async def written_back() -> bool:
        return await backend.get_many([key]) != [stale]

    await eventually(written_back, "the refresh is written back", timeout_s=HANG_S)
    assert await _load(cached) == (Freshness.FRESH, "v2")
    assert upstream.calls == 3


async def test_a_not_found_answer_is_remembered_only_for_the_negative_ttl(backend):
    upstream = Upstream()
    cached = _cached(backend, upstream, ttl_s=30, negative_ttl_s=0.2)
    for _ in range(3):
        (result,) = await cached.load_many(["missing"], scope="*", counts=CacheCounts())
        assert isinstance(result, Cached) and result.value is None
    assert upstream.calls == 1
    await asyncio.sleep(0.25)  # the negative entry has expired (the found ones live on)
    (result,) = await cached.load_many(["missing"], scope="*", counts=CacheCounts())
    assert isinstance(result, Cached) and result.value is None
    assert upstream.calls == 2
