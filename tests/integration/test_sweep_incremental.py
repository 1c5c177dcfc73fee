"""The exception sweep reads what changed and what fell due, not every order: after
its first (full) pass, a pass lists only the orders the OMS changed since the last
one and re-evaluates the orders whose due time passed; finished orders leave the due
index; the watermark lives in the cache backend, so a restarted instance continues
from it; and without Redis no pass runs.

Each test runs its own simulated sources (its changes stay its own) and an exception
queue whose gateway clock the test moves. Nothing is cached, so every evaluated order
asks the ticketing source for its tickets once: its batch sizes count the orders a
pass read, as the OMS's search calls count its pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest

from domain.exception_rules import ExceptionCode, detect_exceptions, next_change_at
from services.exception_queue import index as index_module
from services.exception_queue.index import ExceptionIndex
from services.exception_queue.sweep import PassReport
from sim.cluster import SOURCES, SimCluster, start_cluster
from sim.seed import Dataset
from sources.adapters.registry import Upstreams
from sources.cache import open_backend
from sources.cache.backend import CacheBackend, CacheUnavailable
from sources.cache.upstreams import CachedUpstreams
from sources.options import CachePolicy, SourceConfig
from sources.records import Order, ShipmentStatus
from tests.support.clocks import ManualClock
from tests.support.gateways import FIXED_NOW, MakeDataset
from tests.support.redis_server import RedisServer
from tests.support.sim_http import touch

LOCK_S = 0.2  # the sweep's lock, held for its interval: tests wait it out between passes
NOTHING_CACHED = CachePolicy(ttl_s=0.0, stale_s=0.0, keep_s=0.0, negative_ttl_s=0.0)
TIMED = (ExceptionCode.LATE, ExceptionCode.STALLED_IN_TRANSIT)


@pytest.fixture
def data(make_dataset: MakeDataset) -> Dataset:
    """300 orders: three pages of the OMS's search, and the first pass reads them all."""
    return make_dataset(orders=300)


@pytest.fixture
async def sources(data: Dataset) -> AsyncIterator[SimCluster]:
    async with await start_cluster(data) as cluster:
        yield cluster


@contextlib.asynccontextmanager
async def exception_queue(
    sources: SimCluster, backend: CacheBackend, clock: ManualClock
) -> AsyncIterator[ExceptionIndex]:
    """An exception queue over ``sources``, swept only when the test says. Its source
    timeouts are generous: an order whose sources time out on a busy machine is due
    again at once, and the tests count what each pass reads."""
    upstreams = Upstreams.open(
        *(
            SourceConfig(
                base_url=sources.urls[n],
                connect_timeout_s=5.0,
                read_timeout_s=10.0,
                total_timeout_s=10.0,
            )
            for n in SOURCES
        )
    )
    policies = dict.fromkeys(SOURCES, NOTHING_CACHED)
    cached = CachedUpstreams.build(upstreams, backend, policies, clock=clock)
    index = ExceptionIndex(cached, sweep_interval_s=LOCK_S)
    cached.listen()
    index.listen()
    await backend.start()
    try:
        yield index
    finally:
        await index.close()
        await backend.close()
        await upstreams.close()


async def sweep(index: ExceptionIndex) -> PassReport:
    """One pass, as ``Sweeper.run`` makes it: tried again if Redis's answer to the lock
    came too late for this busy test process (a lock taken all the same expires first)."""
    for attempt in range(3):
        await asyncio.sleep(LOCK_S * 1.5)  # the previous pass's lock has expired
        try:
            assert await index.sweeper.sweep()
            break
        except CacheUnavailable:
            if attempt == 2:
                raise
    assert index.sweeper.last is not None
    return index.sweeper.last


def orders_read(sources: SimCluster) -> int:
    """Orders evaluated since the counters were reset: one ticket lookup each."""
    return sum(sum(sizes) for sizes in sources.stats("ticketing").snapshot().batch_sizes.values())


def facts(data: Dataset, order: Order) -> tuple[dict, dict, list]:
    trackings = {
        s.tracking_number: data.trackings.get(s.tracking_number)
        for s in order.shipments
        if s.tracking_number
    }
    return (
        trackings,
        {line.sku: data.inventory.get(line.sku) for line in order.lines},
        (data.tickets.get(order.id, [])),
    )


def due_at(data: Dataset, order: Order, now: datetime) -> datetime | None:
    trackings, stock, tickets = facts(data, order)
    return next_change_at(order, trackings, stock, tickets, now=now)


async def test_a_pass_after_k_changes_reads_only_those_orders(
    sources: SimCluster, data: Dataset
) -> None:
    clock = ManualClock(FIXED_NOW)
    async with exception_queue(sources, open_backend("memory://"), clock) as index:
        sources.reset_stats()
        first = await sweep(index)
        assert first == PassReport(full=True, searches=3, listed=300, due=0, gone=0)
        assert orders_read(sources) == 300
        changed = list(data.orders)[100:107]
        await touch(sources.urls["oms"], *changed)
        sources.reset_stats()
        second = await sweep(index)
        assert second == PassReport(full=False, searches=1, listed=7, due=0, gone=0)
        assert sources.stats("oms").snapshot().paths == {"/orders/search": 1}
        assert orders_read(sources) == 7
        sources.reset_stats()
        third = await sweep(index)  # nothing changed since, nothing fell due
        assert (third.listed, third.due, orders_read(sources)) == (0, 0, 0)


async def test_an_order_whose_due_time_passes_unchanged_gets_its_exception(
    sources: SimCluster, data: Dataset
) -> None:
    """No change, no event: only the due index brings the order back, at its due time."""

    def turns_timed(order: Order) -> datetime | None:
        due = due_at(data, order, data.now)
        if due is None:
            return None
        trackings, stock, tickets = facts(data, order)
        before = {
            e.code
            for e in detect_exceptions(
                order, trackings, stock, tickets, now=due - timedelta(microseconds=1)
            )
        }
        after = {e.code for e in detect_exceptions(order, trackings, stock, tickets, now=due)}
        return due if (after - before) & set(TIMED) else None

    candidates = {o.id: due for o in data.orders.values() if (due := turns_timed(o)) is not None}
    order_id = min(candidates, key=candidates.__getitem__)
    due = candidates[order_id]
    falling_due = [
        o.id for o in data.orders.values() if (at := due_at(data, o, data.now)) and at <= due
    ]
    clock = ManualClock(FIXED_NOW)
    async with exception_queue(sources, open_backend("memory://"), clock) as index:
        await sweep(index)
        before = {e.order_id: e for e in await index.store.every_entry()}.get(order_id)
        assert before is None or not {f.code for f in before.exceptions} & set(TIMED)
        clock.at = due
        sources.reset_stats()
        report = await sweep(index)
        assert (report.listed, report.due) == (0, len(falling_due))
        assert orders_read(sources) == len(falling_due)
        entry = {e.order_id: e for e in await index.store.every_entry()}[order_id]
        assert {f.code for f in entry.exceptions} & set(TIMED)
        assert entry.evaluated_at == due


async def test_a_delivered_order_and_a_cancelled_one_leave_the_due_index(
    sources: SimCluster, data: Dataset
) -> None:
    clock = ManualClock(FIXED_NOW)
    async with exception_queue(sources, open_backend("memory://"), clock) as index:
        await sweep(index)
        waiting = set(await index.store.every_due())
        in_transit = next(
            o
            for o in data.orders.values()
            if o.id in waiting
            and len(o.shipments) == 1
            and data.trackings[o.shipments[0].tracking_number or ""].status
            is ShipmentStatus.IN_TRANSIT
            and not data.tickets.get(o.id)
        )
        cancellable = next(
            o.id for o in data.orders.values() if o.id in waiting and not o.shipments
        )
        async with aiohttp.ClientSession() as http:
            number = in_transit.shipments[0].tracking_number
            url = f"{sources.urls['carrier']}/admin/trackings/{number}/advance"
            async with http.post(url, json={"status": "DELIVERED"}) as resp:
                assert resp.status == 200, await resp.text()
            url = f"{sources.urls['oms']}/admin/orders/{cancellable}/cancel"
            async with http.post(url, json={"reason": "CUSTOMER"}) as resp:
                assert resp.status == 200, await resp.text()
        await index.evaluate([in_transit.id])  # as its tracking event would
        report = await sweep(index)  # lists the cancelled order
        assert report.listed == 1
        left = set(await index.store.every_due())
        assert in_transit.id not in left and cancellable not in left
        assert waiting - left == {in_transit.id, cancellable}


async def test_an_order_whose_rules_fail_is_logged_and_tried_again_while_the_rest_go_on(
    sources: SimCluster,
    data: Dataset,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A rule raising on one order (a bug, a record no rule foresaw) costs that order
    its evaluation, not its page's nor the pass's: the pass ends and keeps its
    watermark, and the order is due again at once."""

    def raised(order: Order) -> bool:
        return bool(detect_exceptions(order, *facts(data, order), now=data.now))

    queued = {o.id for o in data.orders.values() if raised(o)}
    broken = next(o for o in list(data.orders)[100:200] if o in queued)  # on the 2nd page
    failing = {broken}

    def next_change_at_unless_failing(order: Order, *args: Any, **kwargs: Any) -> Any:
        if order.id in failing:
            raise RuntimeError("a rule's bug")
        return next_change_at(order, *args, **kwargs)

    monkeypatch.setattr(index_module, "next_change_at", next_change_at_unless_failing)
    clock = ManualClock(FIXED_NOW)
    async with exception_queue(sources, open_backend("memory://"), clock) as index:
        with caplog.at_level(logging.ERROR, logger="ordergraph.exception_queue"):
            first = await sweep(index)
        assert first == PassReport(full=True, searches=3, listed=300, due=0, gone=0)
        assert f"order {broken} kept, its rules failed" in caplog.text
        state = await index.store.sweep_state()
        assert state is not None and state.watermark is not None
        assert {e.order_id for e in await index.store.every_entry()} == queued - {broken}
        assert broken in await index.store.due_orders(FIXED_NOW, 10)
        failing.clear()  # fixed: the next pass evaluates it, and only it
        sources.reset_stats()
        second = await sweep(index)
        assert (second.listed, second.due, orders_read(sources)) == (0, 1, 1)
        assert {e.order_id for e in await index.store.every_entry()} == queued


@pytest.fixture
async def redis() -> AsyncIterator[RedisServer]:
    server = RedisServer()
    await server.start()
    yield server
    await server.stop()


async def test_a_restarted_instance_continues_from_the_shared_watermark(
    sources: SimCluster, data: Dataset, redis: RedisServer
) -> None:
    clock = ManualClock(FIXED_NOW)
    async with exception_queue(sources, open_backend(redis.url), clock) as first:
        assert (await sweep(first)).full
    changed = list(data.orders)[200:203]
    await touch(sources.urls["oms"], *changed)
    sources.reset_stats()
    async with exception_queue(sources, open_backend(redis.url), clock) as restarted:
        report = await sweep(restarted)
        assert report == PassReport(full=False, searches=1, listed=3, due=0, gone=0)
        assert orders_read(sources) == 3


async def test_without_redis_the_sweep_skips_and_reads_nothing(
    sources: SimCluster, redis: RedisServer
) -> None:
    clock = ManualClock(FIXED_NOW)
    async with exception_queue(sources, open_backend(redis.url), clock) as index:
        await sweep(index)
        await redis.stop()
        sources.reset_stats()
        await asyncio.sleep(LOCK_S * 1.5)
        with pytest.raises(CacheUnavailable):
            await index.sweeper.sweep()
        assert sources.stats("oms").snapshot().requests == 0
        assert index.sweeper.completed == 1
