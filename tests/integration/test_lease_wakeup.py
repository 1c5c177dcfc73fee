"""A cold instance that finds another instance fetching what it needs waits for that
fetch's release to be announced (Redis pub/sub; in process for the memory backend),
not polling the cache: it reads the entry once when woken. The leases' time to live
is set far above the tests' own time limits, so only a wake-up can end the wait in
time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from redis.asyncio import Redis

from resolvers.relay import to_global_id
from sim.cluster import start_cluster
from sim.seed import Dataset
from sources.cache import MemoryBackend, RedisBackend
from sources.cache.backend import CacheBackend
from sources.cache.redis_backend import RELEASED_CHANNEL
from sources.cache.through import CacheCounts, Cached, CachedSource
from sources.failures import SOURCE_UNAVAILABLE, SourceError
from sources.options import CachePolicy
from sources.records import Money
from tests.support.gateways import SourceStats, gateway_at, in_process_gateway, settings_for
from tests.support.redis_server import PATIENT_TIMEOUT_S, RedisServer
from tests.support.waiting import eventually

LONG_LEASE_MS = 20_000  # the upper bound of a wait: never reached here
WAKE_LIMIT_S = 5.0  # a waiter must be done well before its lease would expire


class ReadCounter:
    """A backend as one instance sees it, counting that instance's cache reads."""

    def __init__(self, backend: CacheBackend) -> None:
        self._backend = backend
        self._read = backend.get_many
        self.reads: list[list[str]] = []
        self.read = asyncio.Event()

    async def get_many(self, keys: Sequence[str], *, strict: bool = False) -> list[bytes | None]:
        self.reads.append(list(keys))
        self.read.set()
        return await self._read(keys, strict=strict)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


class HeldSource:
    """An upstream that answers only once ``answer`` is set, and says when asked."""

    def __init__(self, fail: bool = False) -> None:
        self.asked = asyncio.Event()
        self.answer = asyncio.Event()
        self.calls = 0
        self._fail = fail

    async def fetch(self, ids: list[str]) -> dict[str, Money | None]:
        self.calls += 1
        self.asked.set()
        await self.answer.wait()
        if self._fail:
            raise SourceError("oms", SOURCE_UNAVAILABLE, "down", retryable=True)
        return {i: Money(amount=i, currency_code="USD") for i in ids}


def _cached(backend: Any, source: HeldSource) -> CachedSource[Money]:
    return CachedSource(
        kind="price",
        source="oms",
        value_type=Money,
        fetch=source.fetch,
        tags=lambda ident, _: [f"price:{ident}"],
        policy=CachePolicy(ttl_s=60, stale_s=60, keep_s=600, lock_ms=LONG_LEASE_MS),
        backend=backend,
        scoped=False,
    )


@pytest.fixture(params=["memory", "redis"])
async def two_instances(
    request: pytest.FixtureRequest, redis_server: RedisServer, redis_admin: Redis
) -> AsyncIterator[tuple[CacheBackend, CacheBackend]]:
    """Two instances' backends: two Redis clients on one server, or one memory
    backend (two sources over it are two instances of one process)."""
    if request.param == "memory":
        shared = MemoryBackend()
        await shared.start()
        yield shared, shared
        await shared.close()
        return
    one, two = (RedisBackend(redis_server.url, timeout_s=PATIENT_TIMEOUT_S) for _ in range(2))
    await one.start()
    await two.start()

    async def both_listen() -> bool:  # start() waits only briefly for its subscription
        (_, listeners), *_ = await redis_admin.pubsub_numsub(RELEASED_CHANNEL)
        return int(listeners) >= 2

    await eventually(both_listen, "both instances hear released leases")
    yield one, two
    await one.close()
    await two.close()


async def _waiting(first: HeldSource, counter: ReadCounter) -> None:
    """Until the second instance has read the cache once and has had time to poll
    many times (a 20 ms poll would have read it ten times more)."""
    await asyncio.wait_for(first.asked.wait(), WAKE_LIMIT_S)
    await asyncio.wait_for(counter.read.wait(), WAKE_LIMIT_S)
    # Real time on purpose: what is shown is that nothing happens (no poll) while time
    # passes, and no event marks the moment a poll would have come.
    await asyncio.sleep(0.2)


async def test_a_waiter_is_woken_by_the_release_and_reads_once(
    two_instances: tuple[CacheBackend, CacheBackend],
) -> None:
    one, two = two_instances
    fetching, idle = HeldSource(), HeldSource()
    counter = ReadCounter(two)
    first, second = _cached(one, fetching), _cached(counter, idle)
    owner = asyncio.create_task(first.load_many(["7"], scope="-", counts=CacheCounts()))
    # the first instance holds the lease (its source is asked) before the second asks:
    # over two Redis connections, the order they were sent in is not the order they land
    await asyncio.wait_for(fetching.asked.wait(), WAKE_LIMIT_S)
    waiter = asyncio.create_task(second.load_many(["7"], scope="-", counts=CacheCounts()))
    await _waiting(fetching, counter)
    assert len(counter.reads) == 1  # its first look only: no poll while waiting

    fetching.answer.set()
    (result,) = await asyncio.wait_for(waiter, WAKE_LIMIT_S)
    assert isinstance(result, Cached) and result.value == Money(amount="7", currency_code="USD")
    assert idle.calls == 0  # the other instance's fetch served it
    assert len(counter.reads) == 2  # one read when woken
    await owner


async def test_a_waiter_fetches_at_once_when_the_holder_gives_up(
    two_instances: tuple[CacheBackend, CacheBackend],
) -> None:
    one, two = two_instances
    failing, own = HeldSource(fail=True), HeldSource()
    own.answer.set()
    counter = ReadCounter(two)
    first, second = _cached(one, failing), _cached(counter, own)
    owner = asyncio.create_task(first.load_many(["7"], scope="-", counts=CacheCounts()))
    # the first instance holds the lease (its source is asked) before the second asks:
    # over two Redis connections, the order they were sent in is not the order they land
    await asyncio.wait_for(failing.asked.wait(), WAKE_LIMIT_S)
    waiter = asyncio.create_task(second.load_many(["7"], scope="-", counts=CacheCounts()))
    await _waiting(failing, counter)

    failing.answer.set()  # the holder's source fails: it writes nothing, and releases
    (result,) = await asyncio.wait_for(waiter, WAKE_LIMIT_S)
    assert isinstance(result, Cached) and result.value is not None
    assert own.calls == 1
    assert len(counter.reads) == 2
    assert isinstance((await owner)[0], SourceError)


async def test_a_lease_nobody_waits_for_is_released_without_an_announcement(
    redis_server: RedisServer, redis_admin: Redis
) -> None:
    cache = RedisBackend(redis_server.url, timeout_s=PATIENT_TIMEOUT_S)
    async with redis_admin.pubsub() as pubsub:
        await pubsub.subscribe("og:released")
        await pubsub.get_message(timeout=1)  # the subscription's confirmation
        leases, _ = await cache.lease_many(["lock:a"], 10)
        await cache.release_claim(leases)
        assert await pubsub.get_message(timeout=0.2) is None
        leases, _ = await cache.lease_many(["lock:a"], 10)
        _, busy = await cache.lease_many(["lock:a"], 10)  # someone waits now
        assert busy == [True]
        await cache.release_claim(leases)
        message = await pubsub.get_message(timeout=1)
        assert message is not None and message["data"] == b'["lock:a"]'
    await cache.close()


async def test_two_gateways_one_waits_for_the_others_fetch(
    dataset: Dataset, redis_server: RedisServer, redis_admin: Redis
) -> None:  # redis_admin: a flushed Redis
    """Two gateways on one Redis, an OMS that takes 250 ms: the second gateway, asked
    for an order while the first fetches it, reads the order's entry twice (its first
    look and once woken) and never asks the OMS. On a busy machine the second may ask
    only after the first's fetch is done (one read, a hit): then with the next order."""
    query = "query($id: ID!) { order(id: $id) { number } }"
    async with await start_cluster(dataset, latency_ms={"oms": 250}) as cluster:
        # No response cache: a late second query would take the first one's whole
        # answer from it and never meet the entity cache's lease.
        settings = settings_for(
            cluster.urls, cache_url=redis_server.url, cache_local_ttl_ms=0, response_cache=False
        )
        first_gateway, second_gateway = gateway_at(settings), gateway_at(settings)
        async with (
            in_process_gateway(settings, gateway=first_gateway) as a,
            in_process_gateway(settings, gateway=second_gateway) as b,
        ):
            assert first_gateway.cached is not None and second_gateway.cached is not None
            leased = asyncio.Event()
            lease = first_gateway.cached.backend.lease_many

            async def leasing(keys: Sequence[str], ttl_s: float) -> Any:
                taken = await lease(keys, ttl_s)
                leased.set()
                return taken

            first_gateway.cached.backend.lease_many = leasing  # type: ignore[method-assign]
            backend = second_gateway.cached.backend
            counter = ReadCounter(backend)
            backend.get_many = counter.get_many  # type: ignore[method-assign]
            stats = SourceStats(cluster.urls)
            for order_id in dataset.order_ids("in_transit")[:3]:
                order, variables = dataset.orders[order_id], {"id": to_global_id("Order", order_id)}
                await stats.reset()
                leased.clear()
                first = asyncio.create_task(a.query(query, variables))
                await asyncio.wait_for(leased.wait(), WAKE_LIMIT_S)  # a fetches from the OMS
                second = await asyncio.wait_for(b.query(query, variables), WAKE_LIMIT_S)
                assert second["data"]["order"]["number"] == order.number
                assert (await first)["data"] == second["data"]
                assert (await stats.requests())["oms"] == 1
                reads = [keys for keys in counter.reads if any(order.id in k for k in keys)]
                if len(reads) == 2:
                    break
                assert len(reads) == 1, counter.reads  # b came after a's fetch: a hit
            else:
                raise AssertionError("b never asked while a was fetching")
