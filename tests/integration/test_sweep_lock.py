"""The exception queue's sweep lock when a pass outlasts the sweep interval (a large
OMS's full pass): the instance sweeping renews it as it goes, so two instances never
sweep at once, and a pass whose lock was taken over stops."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from services.exception_queue.store import QueueStore
from services.exception_queue.sweep import LOCK_KEY, Sweeper, SweepLockLost
from sim.seed import Dataset
from sources import records
from sources.adapters.search import OrderSearch
from sources.cache.memory_backend import MemoryBackend
from tests.support.clocks import ManualClock
from tests.support.gateways import FIXED_NOW, MakeDataset
from tests.support.timing import HANG_S
from tests.support.waiting import eventually

INTERVAL_S = 0.45
PAGES, PAGE_S = 6, 0.15  # a pass: twice the interval


class SlowOms:
    """An OMS whose order list takes ``PAGE_S`` a page, ``PAGES`` pages in all."""

    def __init__(self, data: Dataset) -> None:
        self.order = next(iter(data.orders.values()))
        self.pages = 0

    async def search_orders(
        self, search: OrderSearch, *, limit: int, cursor: str | None = None
    ) -> records.OrderPage:
        await asyncio.sleep(PAGE_S)
        self.pages += 1
        page = int(cursor or 0) + 1
        return records.OrderPage(
            edges=[records.OrderEdge(cursor=str(page), node=self.order)],
            page_info=records.PageInfo(has_next_page=page < PAGES, end_cursor=str(page)),
            listed_at=FIXED_NOW,
        )


class Passes:
    """Counts the passes running at once (every page of a pass is evaluated)."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0

    def sweeper(self, oms: SlowOms, backend: MemoryBackend) -> Sweeper:
        async def evaluate(orders: Sequence[records.Order], read_at: float) -> None:
            pass

        async def evaluate_ids(ids: Sequence[str]) -> set[str]:
            return set()

        sweeper = Sweeper(
            oms,  # it reads the order list only
            QueueStore(backend),
            backend,
            evaluate,
            evaluate_ids,
            INTERVAL_S,
            ManualClock(FIXED_NOW),
        )
        one_pass = sweeper._sweep

        async def counted() -> object:
            self.running += 1
            self.most = max(self.most, self.running)
            try:
                return await one_pass()
            finally:
                self.running -= 1

        sweeper._sweep = counted
        return sweeper


@pytest.fixture
def data(make_dataset: MakeDataset) -> Dataset:
    return make_dataset(orders=5)


async def test_two_instances_never_sweep_at_once(data: Dataset) -> None:
    backend = MemoryBackend()  # what the instances share (Redis in production)
    passes = Passes()
    a, b = (passes.sweeper(SlowOms(data), backend) for _ in range(2))
    runs = [asyncio.create_task(a.run())]
    await eventually(lambda: passes.running == 1, "a pass begins")
    runs.append(asyncio.create_task(b.run()))
    try:
        await eventually(lambda: a.completed + b.completed >= 2, "two passes", HANG_S)
    finally:
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
    assert passes.most == 1


async def test_a_pass_whose_lock_was_taken_over_stops(data: Dataset) -> None:
    backend = MemoryBackend()
    oms = SlowOms(data)
    sweeper = Passes().sweeper(oms, backend)
    swept = asyncio.create_task(sweeper.sweep())
    await eventually(lambda: oms.pages == 1, "the pass reads its first page")
    # Another instance takes the lock, as once it lapsed while this one was stuck.
    await backend.set_many([(LOCK_KEY, b"another instance's token", 10)], {})
    with pytest.raises(SweepLockLost):
        await asyncio.wait_for(swept, HANG_S)
    pages = oms.pages
    assert pages < PAGES
    await asyncio.sleep(2 * PAGE_S)  # a pass left running would read on
    assert oms.pages == pages
    assert sweeper.completed == 0
