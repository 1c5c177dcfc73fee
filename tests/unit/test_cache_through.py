"""The cache-through layer on its own, over the real in-memory backend: tenant
scopes never share entries, keys carry a version of the record's shape, an
unreadable entry is a miss, a change by tag reaches every scope, and requests that
joined a fetch which was abandoned fetch on their own."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from sources.cache.memory_backend import MemoryBackend
from sources.cache.through import CacheCounts, Cached, CachedSource, Freshness
from sources.failures import SourceError
from sources.options import CachePolicy
from sources.records import Money
from sources.resilience import deadline
from tests.support.timing import HANG_S
from tests.support.waiting import eventually


class CountingSource:
    """Stands in for an upstream batch endpoint; counts the ids it is asked for."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    async def fetch(self, ids: list[str]) -> dict[str, Money | None]:
        self.asked.append(ids)
        return {
            i: None if i == "missing" else Money(amount=i, currency_code="USD")
            for i in ids
            if i != "left-out"
        }


def _cached(backend: MemoryBackend, source: CountingSource) -> CachedSource[Money]:
    return CachedSource(
        kind="price",
        source="oms",
        value_type=Money,
        fetch=source.fetch,
        tags=lambda ident, _: [f"price:{ident}"],
        policy=CachePolicy(ttl_s=60, stale_s=60, keep_s=600),
        backend=backend,
        scoped=True,
    )


async def test_scopes_never_share_entries():
    backend, source = MemoryBackend(), CountingSource()
    cached = _cached(backend, source)
    counts = CacheCounts()
    first = await cached.load_many(["1", "2"], scope="acct_a", counts=counts)
    again = await cached.load_many(["1", "2"], scope="acct_a", counts=counts)
    other = await cached.load_many(["1"], scope="acct_b", counts=counts)
    assert source.asked == [["1", "2"], ["1"]]
    assert all(isinstance(r, Cached) and r.status is Freshness.FRESH for r in first + again + other)
    assert counts.as_dict() == {"oms": {"hits": 2, "misses": 3, "stale": 0}}
    assert cached.key("acct_a", "1") != cached.key("acct_b", "1")


async def test_not_found_is_cached_as_none():
    backend, source = MemoryBackend(), CountingSource()
    cached = _cached(backend, source)
    for _ in range(2):
        (result,) = await cached.load_many(["missing"], scope="*", counts=CacheCounts())
        assert isinstance(result, Cached) and result.value is None
    assert source.asked == [["missing"]]


async def test_keys_carry_a_version_of_the_record_shape():
    cached = _cached(MemoryBackend(), CountingSource())
    other_shape = CachedSource(
        kind="price",
        source="oms",
        value_type=list[Money],
        fetch=CountingSource().fetch,  # type: ignore[arg-type]
        tags=lambda ident, _: [],
        policy=cached.policy,
        backend=MemoryBackend(),
        scoped=True,
    )
    assert cached.key("*", "1").startswith("og:")
    assert cached.key("*", "1") != other_shape.key("*", "1")


async def test_an_unreadable_entry_is_a_miss():
    backend, source = MemoryBackend(), CountingSource()
    cached = _cached(backend, source)
    await backend.set_many([(cached.key("*", "1"), b"\x00garbage", 60)], {})
    (result,) = await cached.load_many(["1"], scope="*", counts=CacheCounts())
    assert isinstance(result, Cached) and result.value == Money(amount="1", currency_code="USD")
    assert source.asked == [["1"]]


async def test_invalidating_a_tag_reaches_every_scope():
    backend, source = MemoryBackend(), CountingSource()
    cached = _cached(backend, source)
    for scope in ("acct_a", "acct_b"):
        await cached.load_many(["1", "2"], scope=scope, counts=CacheCounts())
    assert await backend.invalidate_tags(["price:1"]) == 2
    for scope in ("acct_a", "acct_b"):
        await cached.load_many(["1", "2"], scope=scope, counts=CacheCounts())
    assert source.asked[2:] == [["1"], ["1"]]


async def test_an_id_left_out_of_the_answer_is_an_error_for_it_alone():
    backend, source = MemoryBackend(), CountingSource()
    cached = _cached(backend, source)
    for _ in range(2):
        good, left_out = await cached.load_many(["1", "left-out"], scope="*", counts=CacheCounts())
        assert isinstance(good, Cached) and good.value is not None
        assert isinstance(left_out, SourceError) and left_out.code == "SOURCE_BAD_RESPONSE"
    assert source.asked == [["1", "left-out"], ["left-out"]]  # the error was not cached


async def test_a_request_waits_for_a_shared_fetch_only_until_its_deadline():
    release = asyncio.Event()

    fetching = asyncio.Event()

    async def slow(ids: list[str]) -> dict[str, Money | None]:
        fetching.set()
        await release.wait()
        return {i: Money(amount=i, currency_code="USD") for i in ids}

    cached = CachedSource(
        kind="price", source="oms", value_type=Money, fetch=slow, tags=lambda i, _: [],
        policy=CachePolicy(ttl_s=60, stale_s=60, keep_s=600), backend=MemoryBackend(),
        scoped=False,
    )  # fmt: skip
    first = asyncio.create_task(cached.load_many(["1"], scope="*", counts=CacheCounts()))
    await asyncio.wait_for(fetching.wait(), timeout=HANG_S)

    async def with_deadline() -> list[Cached[Money] | SourceError]:
        deadline.start(0.1)
        return await cached.load_many(["1"], scope="*", counts=CacheCounts())

    started = time.monotonic()
    (joined,) = await asyncio.wait_for(asyncio.create_task(with_deadline()), timeout=HANG_S)
    # The shared fetch never ends by itself: only the deadline can end the wait (the
    # upper bound is loose, for a loaded machine; a joiner that ignored it would hang).
    assert 0.1 <= time.monotonic() - started < 2
    assert isinstance(joined, SourceError) and joined.code == "SOURCE_TIMEOUT"
    release.set()
    (done,) = await asyncio.wait_for(first, timeout=HANG_S)  # the shared fetch went on
    assert isinstance(done, Cached) and done.value is not None


class HangingSource:
    """A batch endpoint whose first ``hanging`` calls hang until cancelled (or told to
    crash); later calls answer once the tasks ready with them have run (the other
    requests woken by the same abandoned fetch join them first)."""

    def __init__(self, hanging: int = 1) -> None:
        self.hanging = hanging
        self.asked: list[list[str]] = []
        self.crash = asyncio.Event()
        self._asked_more = asyncio.Condition()

    async def fetch(self, ids: list[str]) -> dict[str, Money | None]:
        async with self._asked_more:
            self.asked.append(ids)
            self._asked_more.notify_all()
        if len(self.asked) <= self.hanging:
            await self.crash.wait()
            raise RuntimeError("the fetch crashed")
        # Not a wait for time: one pass of the loop, in which the requests woken with
        # this one (by the same abandoned fetch) reach the fetch and join it.
        await asyncio.sleep(0)
        return {i: Money(amount=i, currency_code="USD") for i in ids}

    async def called(self, times: int) -> None:
        async with self._asked_more:
            await self._asked_more.wait_for(lambda: len(self.asked) >= times)


def _over(source: HangingSource) -> CachedSource[Money]:
    return CachedSource(
        kind="price", source="oms", value_type=Money, fetch=source.fetch, tags=lambda i, _: [],
        policy=CachePolicy(ttl_s=60, stale_s=60, keep_s=600), backend=RecordingBackend(),
        scoped=False,
    )  # fmt: skip


async def _owner_and_joiners(
    cached: CachedSource[Money], source: HangingSource, joiners: int
) -> tuple[asyncio.Task[Any], list[asyncio.Task[Any]]]:
    """A request fetching "1" and ``joiners`` requests that joined its fetch."""
    owner = asyncio.create_task(cached.load_many(["1"], scope="*", counts=CacheCounts()))
    await asyncio.wait_for(source.called(1), timeout=HANG_S)
    joined = [
        asyncio.create_task(cached.load_many(["1"], scope="*", counts=CacheCounts()))
        for _ in range(joiners)
    ]
    backend = cached._backend
    assert isinstance(backend, RecordingBackend)
    # Each has read the cache (a miss), and so joined: nothing in between suspends.
    await eventually(lambda: len(backend.read) == 1 + joiners, "the joiners read the cache")
    return owner, joined


@pytest.mark.parametrize("ending", ["cancelled", "crashed"])
async def test_joiners_of_an_abandoned_fetch_fetch_on_their_own_once(ending):
    source = HangingSource()
    cached = _over(source)
    owner, joiners = await _owner_and_joiners(cached, source, 2)
    if ending == "cancelled":  # e.g. its client went away, or a sibling field failed
        owner.cancel()
    else:
        source.crash.set()
    answers = await asyncio.wait_for(asyncio.gather(*joiners), timeout=HANG_S)
    assert all(
        isinstance(r, Cached) and r.value == Money(amount="1", currency_code="USD")
        for (r,) in answers
    ), answers
    assert source.asked == [["1"], ["1"]]  # the joiners shared one fetch of their own
    with pytest.raises(asyncio.CancelledError if ending == "cancelled" else RuntimeError):
        await owner


async def test_a_fetch_abandoned_twice_is_unavailable_rather_than_tried_a_third_time():
    source = HangingSource(hanging=2)
    cached = _over(source)
    owner, (first, second) = await _owner_and_joiners(cached, source, 2)
    owner.cancel()
    await asyncio.wait_for(source.called(2), timeout=HANG_S)  # first fetches again, second joins
    first.cancel()
    (result,) = await asyncio.wait_for(second, timeout=HANG_S)
    assert isinstance(result, SourceError) and result.code == "SOURCE_UNAVAILABLE"
    assert source.asked == [["1"], ["1"]]
    with pytest.raises(asyncio.CancelledError):
        await first


@pytest.mark.parametrize("owner_too", [False, True])
async def test_a_cancelled_joiner_is_cancelled_even_when_the_fetch_is(owner_too):
    source = HangingSource()
    cached = _over(source)
    owner, (joiner,) = await _owner_and_joiners(cached, source, 1)
    if owner_too:
        owner.cancel()  # the joined fetch is abandoned in the same tick
    joiner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(joiner, timeout=HANG_S)
    assert source.asked == [["1"]]  # the cancelled joiner fetched nothing of its own
    if not owner_too:
        assert not owner.done()  # the fetch it joined goes on
        owner.cancel()


class RecordingBackend(MemoryBackend):
    """The in-memory backend, noting the keys read, the leases asked for and the rows
    written."""

    def __init__(self) -> None:
        super().__init__()
        self.read: list[str] = []
        self.leased: list[str] = []
        self.written: list[str] = []

    async def get_many(self, keys: Any) -> Any:
        self.read.extend(keys)
        return await super().get_many(keys)

    async def lease_many(self, keys: Any, ttl_s: float) -> Any:
        self.leased.extend(keys)
        return await super().lease_many(keys, ttl_s)

    async def set_many(self, entries: Any, tags: Any, *, strict: bool = False) -> None:
        self.written.extend(key for key, _, _ in entries)
        await super().set_many(entries, tags, strict=strict)


def _recorded_prices(
    policy: CachePolicy,
) -> tuple[RecordingBackend, CountingSource, CachedSource[Money]]:
    """Prices cached under ``policy`` in a backend that records its leases and writes."""
    backend, source = RecordingBackend(), CountingSource()
    cached = CachedSource(
        kind="price", source="oms", value_type=Money, fetch=source.fetch,
        tags=lambda ident, _: [f"price:{ident}"], policy=policy, backend=backend, scoped=True,
    )  # fmt: skip
    return backend, source, cached


async def test_a_policy_that_keeps_nothing_reads_takes_no_lease_and_writes_nothing():
    nothing = CachePolicy(ttl_s=0, stale_s=0, keep_s=0, negative_ttl_s=0)
    backend, source, cached = _recorded_prices(nothing)
    counts = CacheCounts()
    for _ in range(2):
        results = await cached.load_many(["1", "missing"], scope="*", counts=counts)
        assert [r.value for r in results if isinstance(r, Cached)] == [
            Money(amount="1", currency_code="USD"),
            None,
        ]
    assert source.asked == [["1", "missing"], ["1", "missing"]]
    assert backend.read == backend.leased == backend.written == []
    assert counts.as_dict() == {"oms": {"hits": 0, "misses": 4, "stale": 0}}


async def test_not_found_kept_for_no_time_is_not_written():
    policy = CachePolicy(ttl_s=60, stale_s=60, keep_s=600, negative_ttl_s=0)
    backend, _, cached = _recorded_prices(policy)
    await cached.load_many(["1", "missing"], scope="*", counts=CacheCounts())
    assert backend.leased == [f"{cached.key('*', i)}:lock" for i in ("1", "missing")]
    assert backend.written == [cached.key("*", "1")]
