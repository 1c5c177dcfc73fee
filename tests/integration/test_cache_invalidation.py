"""A change that lands while a fetch is in flight: the fetch's (possibly older)
answer is neither written back, to the shared cache or the in-process copies, nor
handed to requests that arrive after the change. Over both backends (Redis with
in-process copies in front, as the gateway runs it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

import aiohttp
import msgspec
import pytest

from sim.cluster import SimCluster
from sim.seed import Dataset
from sources.adapters.registry import Upstreams
from sources.cache.backend import CacheBackend
from sources.cache.invalidations import Invalidations
from sources.cache.memory_backend import MemoryBackend
from sources.cache.redis_backend import RedisBackend
from sources.cache.through import CacheCounts, Cached, CachedSource
from sources.cache.upstreams import INVALIDATION_CHANNEL, CachedUpstreams, ChangeNotice
from sources.events import ChangeEvent, EventType, sku_tag
from sources.options import CachePolicy, SourceConfig, default_policy
from sources.records import InventoryItem, Money
from tests.support.gateways import MakeDataset
from tests.support.redis_server import PATIENT_TIMEOUT_S
from tests.support.waiting import eventually

TAG = "price:1"


class VersionedSource:
    """Stands in for an upstream whose record ``1`` changes: each call answers the
    version current when it arrived; the first call's answer is held back until
    ``release`` is set, as a slow network would."""

    def __init__(self) -> None:
        self.version = 1
        self.calls: list[int] = []  # the version each call read
        self.arrived = asyncio.Event()  # the first call has read its version
        self.release = asyncio.Event()

    async def fetch(self, ids: list[str]) -> dict[str, Money | None]:
        version = self.version
        self.calls.append(version)
        if len(self.calls) == 1:
            self.arrived.set()
            await self.release.wait()
        return {i: Money(amount=f"v{version}", currency_code="USD") for i in ids}


@dataclass
class Caches:
    shared: CacheBackend
    local: CacheBackend | None
    invalidations: Invalidations
    reads: int = 0  # reads the shared cache has answered

    def __post_init__(self) -> None:
        read = self.shared.get_many

        async def counted(keys: Sequence[str], *, strict: bool = False) -> list[bytes | None]:
            found = await read(keys, strict=strict)
            self.reads += 1
            return found

        self.shared.get_many = counted  # type: ignore[method-assign]

    def source(self, fetch: VersionedSource) -> CachedSource[Money]:
        return CachedSource(
            kind="price", source="oms", value_type=Money, fetch=fetch.fetch,
            tags=lambda ident, _: [f"price:{ident}"],
            policy=CachePolicy(ttl_s=60, stale_s=60, keep_s=600), backend=self.shared,
            local=self.local, invalidations=self.invalidations, scoped=False,
        )  # fmt: skip

    async def change(self, tags: Sequence[str]) -> None:
        """What an instance does on a change (CachedUpstreams._announce): record, then
        delete in the shared cache, then drop its copies."""
        self.invalidations.record(tags)
        await self.shared.invalidate_tags(tags)
        if self.local is not None:
            await self.local.invalidate_tags(tags)

    async def stored(self, key: str) -> list[bytes | None]:
        found = await self.shared.get_many([key])
        if self.local is not None:
            found += await self.local.get_many([key])
        return found


@pytest.fixture(params=["memory", "redis"])
async def caches(request, redis_server, redis_admin) -> AsyncIterator[Caches]:
    if request.param == "memory":
        yield Caches(MemoryBackend(), None, Invalidations())
        return
    shared = RedisBackend(redis_server.url, timeout_s=PATIENT_TIMEOUT_S)
    await shared.start()
    yield Caches(shared, MemoryBackend(), Invalidations())
    await shared.close()


async def _load(cached: CachedSource[Money]) -> str:
    (result,) = await cached.load_many(["1"], scope="*", counts=CacheCounts())
    assert isinstance(result, Cached) and result.value is not None, result
    return result.value.amount


async def test_a_fetch_in_flight_when_its_entry_changes_does_not_write_it_back(caches):
    source = VersionedSource()
    cached = caches.source(source)
    first = asyncio.create_task(_load(cached))
    await source.arrived.wait()
    source.version = 2
    await caches.change([TAG])
    source.release.set()
    assert await first == "v1"  # it asked before the change: its answer stands
    assert set(await caches.stored(cached.key("*", "1"))) == {None}
    assert await _load(cached) == "v2"
    assert source.calls == [1, 2]


async def test_a_request_after_a_change_does_not_take_a_fetch_started_before_it(caches):
    source = VersionedSource()
    cached = caches.source(source)
    first = asyncio.create_task(_load(cached))
    await source.arrived.wait()
    source.version = 2
    await caches.change([TAG])
    reads = caches.reads
    second = asyncio.create_task(_load(cached))  # joins the running fetch...
    # Once the shared cache has answered its read (a miss), it has joined: nothing in
    # between suspends.
    await eventually(lambda: caches.reads > reads, "the second request reads the cache")
    source.release.set()
    assert await first == "v1"
    assert await second == "v2"  # ...but does not take its answer: it fetches again
    assert source.calls == [1, 2]


async def test_records_fetched_before_a_change_are_not_stored(caches):
    cached = caches.source(VersionedSource())
    since = caches.invalidations.epoch
    await caches.change([TAG])
    await cached.store({"1": Money(amount="v1", currency_code="USD")}, scope="*", since=since)
    assert set(await caches.stored(cached.key("*", "1"))) == {None}
    await cached.store({"2": Money(amount="v1", currency_code="USD")}, scope="*", since=since)
    assert None not in await caches.stored(cached.key("*", "2"))  # another record: stored


class SlowLinkMemory(MemoryBackend):
    """The in-memory backend behind a slow link: while ``hold`` names ``"read"`` or
    ``"write"``, a read answers (what it read) or a write lands only once ``release``
    is set."""

    def __init__(self) -> None:
        super().__init__()
        self.hold: str | None = None
        self.release = asyncio.Event()
        self.held = asyncio.Event()

    async def get_many(self, keys: Sequence[str], *, strict: bool = False) -> list[bytes | None]:
        values = await super().get_many(keys, strict=strict)
        await self._link("read")
        return values

    async def set_many(
        self,
        entries: Sequence[tuple[str, bytes, float]],
        tags: Mapping[str, Sequence[str]],
        *,
        strict: bool = False,
    ) -> None:
        await self._link("write")
        await super().set_many(entries, tags, strict=strict)

    async def _link(self, operation: str) -> None:
        if self.hold == operation:
            self.held.set()
            await self.release.wait()


async def test_a_shared_read_in_flight_when_its_entry_changes_leaves_no_local_copy():
    shared, source = SlowLinkMemory(), VersionedSource()
    source.release.set()
    caches = Caches(shared, MemoryBackend(), Invalidations())
    cached = caches.source(source)
    assert await _load(cached) == "v1"
    assert caches.local is not None
    await caches.local.invalidate_tags([TAG])  # the local copy has expired
    shared.hold = "read"
    reading = asyncio.create_task(_load(cached))
    await shared.held.wait()  # the shared cache has answered v1; the answer is on its way
    source.version = 2
    await caches.change([TAG])
    shared.release.set()
    assert await reading == "v1"
    assert await caches.local.get_many([cached.key("*", "1")]) == [None]
    shared.hold = None
    assert await _load(cached) == "v2"


async def test_an_entry_changed_while_it_is_being_written_is_deleted_again():
    shared, source = SlowLinkMemory(), VersionedSource()
    source.release.set()
    caches = Caches(shared, MemoryBackend(), Invalidations())
    cached = caches.source(source)
    shared.hold = "write"
    loading = asyncio.create_task(_load(cached))
    await shared.held.wait()  # fetched v1; its write is on its way
    source.version = 2
    await caches.change([TAG])  # deletes nothing yet: the write has not landed
    shared.release.set()
    assert await loading == "v1"
    assert set(await caches.stored(cached.key("*", "1"))) == {None}
    shared.hold = None
    assert await _load(cached) == "v2"


async def test_a_fetch_whose_entry_changed_does_not_even_try_to_write_it():
    # Not written then deleted (another instance could read it in between): not written.
    shared, source = SlowLinkMemory(), VersionedSource()
    caches = Caches(shared, None, Invalidations())
    cached = caches.source(source)
    first = asyncio.create_task(_load(cached))
    await source.arrived.wait()
    await caches.change([TAG])
    shared.hold = "write"  # a write would now wait for ever
    source.release.set()
    assert await asyncio.wait_for(first, timeout=1) == "v1"
    assert not shared.held.is_set()


def test_invalidations_forget_after_the_horizon_and_then_assume_a_change():
    now = [0.0]
    changes = Invalidations(horizon_s=60, clock=lambda: now[0])
    start = changes.epoch
    changes.record(["a"])
    after_a = changes.epoch
    assert changes.changed_since(start, ["a"]) and not changes.changed_since(start, ["b"])
    assert not changes.changed_since(after_a, ["a"])
    now[0] = 61.0
    changes.record(["b"])  # "a" is forgotten now
    assert changes.changed_since(start, ["c"])  # older than what is kept: assume changed
    assert not changes.changed_since(after_a, ["a", "c"])
    assert changes.changed_since(after_a, ["b"])


class HeldDeletes(MemoryBackend):
    """A shared cache whose tag deletes land only once ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def invalidate_tags(self, tags: Sequence[str], *, strict: bool = False) -> int:
        self.held.set()
        await self.release.wait()
        return await super().invalidate_tags(tags, strict=strict)


async def test_a_request_begun_while_the_shared_delete_is_on_its_way_writes_nothing_back(
    sim: SimCluster,
) -> None:
    """Between noting a change and its shared delete landing, a request that begins may
    still read the old entry (shared, or this process's copy): the change must count as
    after it, so what it read is never written back (an entry, a whole response)."""
    names = ("oms", "inventory", "carrier", "ticketing")
    upstreams = Upstreams.open(*(SourceConfig(base_url=sim.urls[n]) for n in names))
    backend = HeldDeletes()
    cached = CachedUpstreams.build(upstreams, backend, {n: default_policy(n) for n in names})
    tags = [sku_tag("SKU-1")]
    try:
        change = asyncio.create_task(cached.invalidate(tags))
        await backend.held.wait()  # noted here; the shared delete is on its way
        since = cached.invalidations.epoch  # a request begins, and may read the old entry
        backend.release.set()
        await change
        assert cached.invalidations.changed_since(since, tags)
    finally:
        await upstreams.close()


@pytest.fixture
def own_dataset(make_dataset: MakeDataset) -> Dataset:
    """For ``own_sim`` (tests/support/own_sources.py): the test changes its stock."""
    return make_dataset(orders=50)


async def test_an_instance_deletes_the_old_value_it_wrote_back_before_it_heard_the_change(
    own_sim: SimCluster, redis_server, redis_admin
) -> None:
    """Instance B's fetch, begun before a change, lands its old answer in the shared
    cache after the announcing instance A deleted it, but before B hears of the change:
    B's own guard cannot see it yet. Hearing the change, B deletes the entry again, so
    its next read (and every instance's) asks the source."""
    names = ("oms", "inventory", "carrier", "ticketing")
    upstreams = Upstreams.open(*(SourceConfig(base_url=own_sim.urls[n]) for n in names))
    backend = RedisBackend(redis_server.url, timeout_s=PATIENT_TIMEOUT_S)
    b = CachedUpstreams.build(upstreams, backend, {n: default_policy(n) for n in names})
    heard = asyncio.Event()

    async def hear(_: ChangeEvent) -> None:
        heard.set()

    b.on_change(hear)
    b.listen()
    await backend.start()
    item = next(item for item in own_sim.dataset.inventory.values() if item.levels)
    location = item.levels[0].location_id

    async def available() -> int:
        (read,) = await b.inventory.load_many([item.sku], scope="*", counts=CacheCounts())
        assert isinstance(read, Cached) and isinstance(read.value, InventoryItem), read
        return next(lv.available for lv in read.value.levels if lv.location_id == location)

    try:
        before = await available()
        key = b.inventory.key("*", item.sku)
        (old,) = await backend.get_many([key])
        assert old is not None
        url = f"{own_sim.urls['inventory']}/admin/inventory/{item.sku}"
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json={"locationId": location, "available": before + 5}) as resp,
        ):
            assert resp.status == 200, await resp.text()
        tags = [sku_tag(item.sku)]
        await backend.invalidate_tags(tags)  # A applies the change...
        await backend.set_many([(key, old, 600.0)], {tags[0]: [key]})  # ...B's late write
        event = ChangeEvent(
            type=EventType.INVENTORY_CHANGED, occurred_at=own_sim.dataset.now, sku=item.sku
        )
        notice = ChangeNotice(tags=tags, event=event, origin="instance-a")
        await backend.publish(INVALIDATION_CHANNEL, msgspec.json.encode(notice))
        await asyncio.wait_for(heard.wait(), 5)
        assert await backend.get_many([key]) == [None]
        assert await available() == before + 5
    finally:
        await backend.close()
        await upstreams.close()
