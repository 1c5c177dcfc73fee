"""The change feed: a change applied on one instance reaches every instance's
listeners (itself included) once, after that instance's copies are gone."""

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
    backend = open_backend(cache_url)
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
        # A later change: the feed brings it to each instance after anything more the
        # first one would bring.
        await first.apply_change(LATER)
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
