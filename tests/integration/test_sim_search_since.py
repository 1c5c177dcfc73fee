"""The simulated OMS's search for incremental readers: every page says ``listedAt``
(the OMS's clock, not the wall clock), a later ``updatedSince=<listedAt>`` lists
exactly the orders changed since, the bound inclusive; and pages read from their
cursor through an index give what sorting every order gives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import msgspec
import pytest

from sim.cluster import start_cluster
from sim.oms import search_orders
from sim.seed import Dataset
from sources.records import OrderPage
from tests.support.clocks import ManualClock
from tests.support.gateways import FIXED_NOW, MakeDataset
from tests.support.sim_http import touch


@pytest.fixture
def data(make_dataset: MakeDataset) -> Dataset:
    return make_dataset(seed=5, orders=700)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(FIXED_NOW + timedelta(minutes=5))


@pytest.fixture
async def oms(data: Dataset, clock: ManualClock) -> AsyncIterator[str]:
    async with await start_cluster(data, clock=clock) as cluster:
        yield cluster.urls["oms"]


async def search(url: str, params: dict[str, Any]) -> OrderPage:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{url}/orders/search", params=params) as resp,
    ):
        assert resp.status == 200, await resp.text()
        return msgspec.json.decode(await resp.read(), type=OrderPage)


async def every_page(url: str, params: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = await search(url, {**params, "limit": 100, **({"cursor": cursor} if cursor else {})})
        ids += [edge.node.id for edge in page.edges]
        cursor = page.page_info.end_cursor
        if not page.page_info.has_next_page:
            return ids


async def test_updated_since_listed_at_lists_exactly_the_orders_changed_since(
    oms: str, data: Dataset, clock: ManualClock
) -> None:
    first = await search(oms, {"limit": 5})
    assert first.listed_at == clock.at  # the OMS's clock, pinned here, not the calendar
    assert max(o.updated_at for o in data.orders.values()) < clock.at
    since = {"updatedSince": first.listed_at.isoformat()}
    assert await every_page(oms, since) == []
    changed = list(data.orders)[10:13]
    for order_id in changed[:2]:
        await touch(oms, order_id)  # at the very instant of the listing: still listed
    clock.at += timedelta(seconds=1)
    await touch(oms, changed[2])
    assert sorted(await every_page(oms, since)) == sorted(changed)
    later = await search(oms, {"limit": 1})
    assert later.listed_at == clock.at
    assert await every_page(oms, {"updatedSince": later.listed_at.isoformat()}) == [changed[2]]


def sorted_pages(data: Dataset, params: dict[str, str]) -> list[str]:
    """Every page of ``search_orders``, which sorts every order for each page."""
    ids: list[str] = []
    query = {**params, "limit": "100"}
    while True:
        page = search_orders(data.orders.values(), query)
        ids += [edge.node.id for edge in page.edges]
        if not page.page_info.has_next_page:
            return ids
        query["cursor"] = page.page_info.end_cursor or ""


async def test_pages_through_the_index_match_sorting_every_order(oms: str, data: Dataset) -> None:
    assert await every_page(oms, {}) == sorted_pages(data, {})
    assert len(set(sorted_pages(data, {}))) == len(data.orders)
    account = next(iter(data.orders.values())).account_id
    assert await every_page(oms, {"accountId": account}) == sorted_pages(
        data, {"accountId": account}
    )
