"""The change feed: a change applied on one instance reaches every instance's
listeners (itself included, without the round trip) once, after that instance's
copies are gone; changes lost while pub/sub was away count as changing everything."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from redis.asyncio import Redis

from gateway.settings import SOURCE_NAMES
from sources.adapters.registry import Upstreams
from sources.cache import open_backend
from sources.cache.memory_backend import MemoryBackend
from sources.cache.upstreams import CachedUpstreams
from sources.clock import ShiftedClock
from sources.events import ChangeEvent, EventType, order_tag
from tests.support.gateways import FIXED_NOW, settings_for
from tests.support.redis_server import PATIENT_TIMEOUT_S, RedisServer
from tests.support.timing import HANG_S
from tests.support.waiting import eventually

EVENT = ChangeEvent(
    type=EventType.ORDER_UPDATED, occurred_at=datetime(2026, 1, 1, tzinfo=UTC), order_id="o1"
)
LATER = ChangeEvent(
    type=EventType.ORDER_UPDATED, occurred_at=datetime(2026, 1, 1, tzinfo=UTC), order_id="o3"
)


@contextlib.asynccontextmanager
async def instance(urls: dict[str, str], cache_url: str) -> AsyncIterator[CachedUpstreams]:
    settings = settings_for(urls)
    upstreams = Upstreams.open(*(settings.source(name) for name in SOURCE_NAMES))
    backend = open_backend(cache_url, timeout_s=PATIENT_TIMEOUT_S)
    local = MemoryBackend() if backend.name != "memory" else None
    cached = CachedUpstreams.build(
        upstreams, backend, settings.cache_policies(), local=local, clock=ShiftedClock(FIXED_NOW)
    )
    cached.listen()
    await backend.start()
    try:
        yield cached
    finally:
        await backend.close()
        await upstreams.close()


async def _subscribers(url: str, count: int) -> bool:
    """Whether ``count`` clients are subscribed to some channel on the Redis at ``url``."""
    async with Redis.from_url(url) as admin:
        channels = await admin.pubsub_channels()
        subscribed = await admin.pubsub_numsub(*channels) if channels else []
    return sum(number for _, number in subscribed) >= count


async def test_a_change_on_one_instance_reaches_every_instance_once(sim, redis_server):
    async with (
        instance(sim.urls, redis_server.url) as first,
        instance(sim.urls, redis_server.url) as second,
    ):
        await eventually(lambda: _subscribers(redis_server.url, 2), "both listeners subscribe")
        seen: list[tuple[str, ChangeEvent, bytes | None]] = []
        assert second.local is not None
        await second.local.set_many([("k", b"v", 60.0)], {order_tag("o1"): ["k"]})

        def recorder(name: str, cached: CachedUpstreams):
            async def record(event: ChangeEvent) -> None:
                copy = None
                if cached.local is not None:
                    (copy,) = await cached.local.get_many(["k"])
                seen.append((name, event, copy))

            return record

        first.on_change(recorder("first", first))
        second.on_change(recorder("second", second))
        before = [(cached, cached.invalidations.epoch) for cached in (first, second)]
        await first.apply_change(EVENT)
        await eventually(lambda: len(seen) >= 2, "both listener calls", timeout_s=2.0)
        # A later change from the second: the feed brings it to the first after anything
        # more the first one's own change would bring it.
        await second.apply_change(LATER)
        await eventually(
            lambda: {name for name, event, _ in seen if event == LATER} == {"first", "second"},
            "both instances hear the later change",
        )
        # Both instances noted the change, so their fetches in flight do not write back.
        for cached, epoch in before:
            assert cached.invalidations.changed_since(epoch, [order_tag("o1")])
            assert not cached.invalidations.changed_since(epoch, [order_tag("o2")])
    assert sorted(name for name, event, _ in seen if event == EVENT) == ["first", "second"]
    assert all(event in (EVENT, LATER) for _, event, _ in seen)
    assert all(copy is None for _, _, copy in seen), "a listener ran before the copy was gone"


async def test_a_failing_listener_does_not_starve_the_others(sim):
    async with instance(sim.urls, "memory://") as cached:
        seen: list[ChangeEvent] = []

        async def broken(_event: ChangeEvent) -> None:
            raise RuntimeError("bug")

        async def record(event: ChangeEvent) -> None:
            seen.append(event)

        cached.on_change(broken)
        cached.on_change(record)
        await cached.apply_change(EVENT)
        await cached.invalidate([order_tag("o2")])  # a bare invalidation is no event
        await eventually(lambda: len(seen) >= 1, "the working listener's call", timeout_s=2.0)
    assert seen == [EVENT]


async def test_changes_lost_while_pubsub_was_away_count_as_changing_everything(sim):
    """Both instances' pub/sub connections are killed, and the first announces a change
    before they are back: no instance hears it over pub/sub. The first's own listeners
    are told at once; once back, each instance assumes anything changed: a fetch begun
    before writes nothing back, no in-process copy is kept, followers read again."""
    redis = RedisServer()
    await redis.start()
    try:
        async with (
            instance(sim.urls, redis.url) as first,
            instance(sim.urls, redis.url) as second,
            Redis.from_url(redis.url) as admin,
        ):
            await eventually(lambda: _subscribers(redis.url, 2), "both listeners subscribe")
            assert second.local is not None
            await second.local.set_many([("k", b"v", 60.0)], {order_tag("o9"): ["k"]})
            fetching = second.invalidations.epoch  # a fetch on the second begins
            heard: dict[str, list[ChangeEvent]] = {"first": [], "second": []}
            resynced: list[str] = []
            for name, cached in (("first", first), ("second", second)):
                cached.on_change(lambda event, name=name: _append(heard[name], event))
                cached.on_resync(lambda name=name: resynced.append(name))
            # Drop the listeners and keep them away (no SUBSCRIBE) until it is announced.
            await admin.execute_command("ACL", "SETUSER", "default", "-subscribe")
            await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
            await first.apply_change(EVENT, strict=True)
            assert heard == {"first": [EVENT], "second": []}
            await admin.execute_command("ACL", "SETUSER", "default", "+subscribe")
            await eventually(
                lambda: sorted(resynced) == ["first", "second"], "both resync", timeout_s=HANG_S
            )
            assert await second.local.get_many(["k"]) == [None]
            assert second.invalidations.changed_since(fetching, [order_tag("o9")])
            assert not second.invalidations.changed_since(second.invalidations.epoch, ["x"])
            await second.apply_change(LATER)  # heard again, by each instance once
            await eventually(lambda: heard["first"][-1:] == [LATER], "the first hears it")
        assert heard == {"first": [EVENT, LATER], "second": [LATER]}
        assert sorted(resynced) == ["first", "second"]
    finally:
        await redis.stop()


async def _append(events: list[ChangeEvent], event: ChangeEvent) -> None:
    events.append(event)
