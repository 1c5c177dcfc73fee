"""The four simulated sources over real loopback HTTP: endpoints, errors, search, stats."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import aiohttp
import msgspec
import pytest
import pytest_asyncio

from sim.cluster import SOURCES, SimCluster, start_cluster
from sim.oms import search_orders
from sim.openapi import build_document
from sim.seed import Dataset
from sources.records import (
    MAX_BATCH,
    ErrorBody,
    FinancialStatus,
    FulfillmentStatus,
    InventoryBatch,
    Order,
    OrderBatch,
    OrderPage,
    TicketBatch,
    TrackingBatch,
)
from tests.support.gateways import FIXED_NOW
from tests.support.ports import free_port_block

T = TypeVar("T")


@pytest.fixture(scope="module")
def sim_data(make_dataset) -> Dataset:
    return make_dataset(seed=7)


@pytest_asyncio.fixture(scope="module")
async def cluster(sim_data: Dataset) -> AsyncIterator[SimCluster]:
    running = await start_cluster(sim_data)
    yield running
    await running.close()


@pytest_asyncio.fixture(scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Client:
    """Calls one source and decodes answers into records."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base

    async def raw(self, path: str, params: dict[str, str] | None = None) -> tuple[int, bytes]:
        async with self.session.get(self.base + path, params=params) as resp:
            if resp.status in (200, 400, 404):
                assert resp.content_type == "application/json"
            return resp.status, await resp.read()

    async def ok(self, path: str, into: type[T], params: dict[str, str] | None = None) -> T:
        status, body = await self.raw(path, params)
        assert status == 200, body
        return msgspec.json.decode(body, type=into)

    async def error(self, path: str, params: dict[str, str] | None = None) -> ErrorBody:
        status, body = await self.raw(path, params)
        assert status == 400, body
        return msgspec.json.decode(body, type=ErrorBody)


@pytest.fixture
def oms(cluster: SimCluster, http: aiohttp.ClientSession) -> Client:
    return Client(http, cluster.urls["oms"])


def client(cluster: SimCluster, http: aiohttp.ClientSession, source: str) -> Client:
    return Client(http, cluster.urls[source])


# --- cluster, health, contract -------------------------------------------------------


async def test_cluster_urls_and_health(cluster: SimCluster, http: aiohttp.ClientSession) -> None:
    assert tuple(cluster.urls) == SOURCES
    assert len(set(cluster.urls.values())) == 4
    for source, url in cluster.urls.items():
        assert url.startswith("http://127.0.0.1:")
        async with http.get(f"{url}/healthz") as resp:
            assert resp.status == 200
            assert await resp.json() == {"status": "ok", "source": source}
        async with http.get(f"{url}/openapi.json") as resp:
            assert resp.status == 200
            assert await resp.json() == build_document(source)


async def test_unknown_route_and_method(oms: Client, http: aiohttp.ClientSession) -> None:
    status, body = await oms.raw("/nope")
    assert status == 404
    assert msgspec.json.decode(body, type=ErrorBody).code == "NOT_FOUND"
    async with http.post(oms.base + "/orders", data=b"{}") as resp:
        assert resp.status == 405
        assert (await resp.json())["code"] == "METHOD_NOT_ALLOWED"


async def test_port_base(sim_data: Dataset, http: aiohttp.ClientSession) -> None:
    # Outside the ephemeral range, in this worker's stripe: an ephemeral base's next
    # ports are often taken by the suite's own connections.
    for _ in range(5):
        base = free_port_block(len(SOURCES))
        try:
            running = await start_cluster(sim_data, port_base=base)
        except OSError:
            continue
        async with running:
            expected = {s: f"http://127.0.0.1:{base + i}" for i, s in enumerate(SOURCES)}
            assert running.urls == expected
            async with http.get(running.urls["ticketing"] + "/healthz") as resp:
                assert (await resp.json())["source"] == "ticketing"
        return
    pytest.fail("no free block of four ports found")


# --- batch endpoints -----------------------------------------------------------------


async def test_orders_by_id(oms: Client, sim_data: Dataset) -> None:
    a, b, c = list(sim_data.orders)[5:8]
    batch = await oms.ok("/orders", OrderBatch, {"ids": f"{c},missing_1,{a},{c},{b},missing_2"})
    assert batch.data == [sim_data.orders[c], sim_data.orders[a], sim_data.orders[b]]
    assert batch.not_found == ["missing_1", "missing_2"]


async def test_orders_by_number(oms: Client, sim_data: Dataset) -> None:
    batch = await oms.ok("/orders/by-number", OrderBatch, {"numbers": "#1002,1001,99999,1002"})
    assert [o.number for o in batch.data] == ["1002", "1001"]
    assert batch.data[0] == sim_data.orders_by_number["1002"]
    assert batch.not_found == ["99999"]


async def test_inventory_batch(cluster: SimCluster, http: aiohttp.ClientSession) -> None:
    inventory = client(cluster, http, "inventory")
    batch = await inventory.ok("/inventory", InventoryBatch, {"skus": "MUG-CER-350,NOPE"})
    assert [item.sku for item in batch.data] == ["MUG-CER-350"]
    assert len(batch.data[0].levels) == 4
    assert batch.not_found == ["NOPE"]


async def test_tracking_batch(
    cluster: SimCluster, http: aiohttp.ClientSession, sim_data: Dataset
) -> None:
    carrier = client(cluster, http, "carrier")
    ups = next(n for n in sim_data.trackings if n.startswith("1Z"))
    other = list(sim_data.trackings)[-1]
    numbers = f"{ups.lower()},{other},1Z000000000000000"
    batch = await carrier.ok("/trackings", TrackingBatch, {"numbers": numbers})
    assert batch.data == [sim_data.trackings[ups], sim_data.trackings[other]]
    assert batch.not_found == ["1Z000000000000000"]


async def test_tickets_batch(
    cluster: SimCluster, http: aiohttp.ClientSession, sim_data: Dataset
) -> None:
    ticketing = client(cluster, http, "ticketing")
    with_tickets = next(oid for oid, ts in sim_data.tickets.items() if len(ts) >= 2)
    without = next(oid for oid in sim_data.orders if oid not in sim_data.tickets)
    batch = await ticketing.ok(
        "/tickets", TicketBatch, {"orderIds": f"{without},{with_tickets},unknown"}
    )
    assert [entry.order_id for entry in batch.data] == [without, with_tickets, "unknown"]
    assert batch.data[0].tickets == [] and batch.data[2].tickets == []
    assert batch.data[1].tickets == sim_data.tickets[with_tickets]


@pytest.mark.parametrize(
    ("source", "path", "param"),
    [
        ("oms", "/orders", "ids"),
        ("oms", "/orders/by-number", "numbers"),
        ("inventory", "/inventory", "skus"),
        ("carrier", "/trackings", "numbers"),
        ("ticketing", "/tickets", "orderIds"),
    ],
)
async def test_batch_limits(
    cluster: SimCluster, http: aiohttp.ClientSession, source: str, path: str, param: str
) -> None:
    api = client(cluster, http, source)
    ids = [f"X{i}" for i in range(MAX_BATCH + 1)]
    status, _ = await api.raw(path, {param: ",".join(ids[:MAX_BATCH])})
    assert status == 200
    status, _ = await api.raw(path, {param: ",".join(ids[:MAX_BATCH] + ids[:50])})
    assert status == 200  # duplicates do not count
    error = await api.error(path, {param: ",".join(ids)})
    assert error == ErrorBody(code="BATCH_TOO_LARGE", message="at most 100 ids per call, got 101")
    for params in ({}, {param: ""}, {param: " , ,"}, {"other": "x"}):
        error = await api.error(path, params)
        assert error.code == "BAD_REQUEST" and param in error.message


# --- search --------------------------------------------------------------------------


def expected_search(ds: Dataset, keep: Any) -> list[Order]:
    return sorted(
        (o for o in ds.orders.values() if keep(o)), key=lambda o: (o.placed_at, o.id), reverse=True
    )


async def search_all(oms: Client, params: dict[str, str], limit: int) -> list[Order]:
    """Walk every page of a search, checking page shapes on the way."""
    seen: list[Order] = []
    cursor: str | None = None
    for _ in range(200):
        page_params = {**params, "limit": str(limit)}
        if cursor:
            page_params["cursor"] = cursor
        page = await oms.ok("/orders/search", OrderPage, page_params)
        assert len(page.edges) <= limit
        seen.extend(edge.node for edge in page.edges)
        if page.edges:
            assert page.page_info.end_cursor == page.edges[-1].cursor
        else:
            assert page.page_info.end_cursor is None
        if not page.page_info.has_next_page:
            return seen
        assert len(page.edges) == limit
        cursor = page.page_info.end_cursor
    pytest.fail("pagination did not end")


async def test_search_pagination_walks_everything(oms: Client, sim_data: Dataset) -> None:
    got = await search_all(oms, {"accountId": "acct_webshop"}, limit=37)
    expected = expected_search(sim_data, lambda o: o.account_id == "acct_webshop")
    assert len(expected) > 37 * 5
    assert [o.id for o in got] == [o.id for o in expected]
    assert len({o.id for o in got}) == len(got)
    everything = await search_all(oms, {}, limit=100)
    assert len(everything) == len(sim_data.orders)


async def test_search_defaults_and_empty_page(oms: Client, sim_data: Dataset) -> None:
    page = await oms.ok("/orders/search", OrderPage)
    assert len(page.edges) == 50 and page.page_info.has_next_page
    assert page.edges[0].node == expected_search(sim_data, lambda o: True)[0]
    page = await oms.ok("/orders/search", OrderPage, {"customerId": "cus_nobody"})
    assert page.edges == [] and page.page_info.end_cursor is None
    assert not page.page_info.has_next_page


async def test_search_filters(oms: Client, sim_data: Dataset) -> None:
    customer = next(iter(sim_data.orders.values())).customer.id
    cut = FIXED_NOW - timedelta(days=10)
    since = FIXED_NOW - timedelta(days=2)
    held = {FulfillmentStatus.ON_HOLD, FulfillmentStatus.PARTIALLY_FULFILLED}
    money = {FinancialStatus.AUTHORIZED, FinancialStatus.PENDING}
    cases: list[tuple[dict[str, str], Any]] = [
        ({"customerId": customer}, lambda o: o.customer.id == customer),
        ({"status": "ON_HOLD,PARTIALLY_FULFILLED"}, lambda o: o.fulfillment_status in held),
        ({"financialStatus": "AUTHORIZED,PENDING"}, lambda o: o.financial_status in money),
        ({"placedFrom": cut.isoformat()}, lambda o: o.placed_at >= cut),
        ({"placedTo": cut.isoformat().replace("+00:00", "Z")}, lambda o: o.placed_at < cut),
        ({"updatedSince": since.isoformat()}, lambda o: o.updated_at >= since),
        (
            {"accountId": "acct_partner_north", "status": "FULFILLED", "placedFrom": "2026-11-01"},
            lambda o: (
                o.account_id == "acct_partner_north"
                and o.fulfillment_status is FulfillmentStatus.FULFILLED
                and o.placed_at >= datetime(2026, 11, 1, tzinfo=UTC)
            ),
        ),
    ]
    for params, keep in cases:
        got = await search_all(oms, params, limit=100)
        expected = expected_search(sim_data, keep)
        assert expected, params
        assert [o.id for o in got] == [o.id for o in expected], params


async def test_search_time_bounds(oms: Client, sim_data: Dataset) -> None:
    order = list(sim_data.orders.values())[600]
    at = order.placed_at.isoformat()
    from_ids = [o.id for o in await search_all(oms, {"placedFrom": at}, 100)]
    to_ids = [o.id for o in await search_all(oms, {"placedTo": at}, 100)]
    assert order.id in from_ids and order.id not in to_ids  # from inclusive, to exclusive
    assert len(from_ids) + len(to_ids) == len(sim_data.orders)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"status": "SHIPPED"},
        {"financialStatus": "PAID,FREE"},
        {"placedFrom": "yesterday"},
        {"updatedSince": "2026-13-01"},
        {"cursor": "%%%"},
        {"cursor": "bm90LWEtY3Vyc29y"},
        {"customer_id": "cus_1"},
    ],
)
async def test_search_rejects_bad_values(oms: Client, params: dict[str, str]) -> None:
    error = await oms.error("/orders/search", params)
    assert error.code == "BAD_REQUEST"
    assert next(iter(params)) in error.message


def test_cursor_survives_data_changes(sim_data: Dataset) -> None:
    orders = list(sim_data.orders.values())
    first = search_orders(orders, {"limit": "10"})
    second = search_orders(orders, {"limit": "10", "cursor": first.page_info.end_cursor or ""})
    removed = first.edges[-1].node
    changed = [o for o in orders if o.id != removed.id]
    again = search_orders(changed, {"limit": "10", "cursor": first.page_info.end_cursor or ""})
    assert again == second
    mid = search_orders(orders, {"limit": "3", "cursor": first.edges[4].cursor})
    assert [e.node for e in mid.edges] == [e.node for e in first.edges[5:8]]


# --- stats and latency ---------------------------------------------------------------


async def stats_of(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(f"{url}/__stats") as resp:
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
        return body


async def test_stats_count_and_reset(
    cluster: SimCluster, http: aiohttp.ClientSession, oms: Client, sim_data: Dataset
) -> None:
    async with http.delete(f"{oms.base}/__stats") as resp:
        assert resp.status == 204
    empty = {"requests": 0, "paths": {}, "batchSizes": {}, "throttled": 0}
    assert await stats_of(http, oms.base) == empty
    ids = list(sim_data.orders)
    await oms.raw("/orders", {"ids": ",".join(ids[:50])})
    await oms.raw("/orders", {"ids": f"{ids[0]},{ids[1]},{ids[0]}"})
    await oms.raw("/orders/by-number", {"numbers": "1001"})
    await oms.raw("/orders/search", {"limit": "5"})
    await oms.raw("/orders", {"ids": ",".join(f"x{i}" for i in range(101))})  # rejected
    await oms.raw("/healthz")
    await oms.raw("/openapi.json")
    stats = await stats_of(http, oms.base)
    assert stats == {
        "requests": 5,
        "paths": {"/orders": 3, "/orders/by-number": 1, "/orders/search": 1},
        "batchSizes": {"/orders": [50, 2], "/orders/by-number": [1]},
        "throttled": 0,
    }
    assert cluster.stats("oms").requests == 5
    async with http.delete(f"{oms.base}/__stats") as resp:
        assert resp.status == 204
    assert (await stats_of(http, oms.base))["requests"] == 0


async def timed(api: Client, path: str, params: dict[str, str]) -> float:
    start = time.perf_counter()
    status, _ = await api.raw(path, params)
    assert status == 200
    return time.perf_counter() - start


async def test_latency_applies_to_data_endpoints(
    cluster: SimCluster, http: aiohttp.ClientSession
) -> None:
    inventory = client(cluster, http, "inventory")
    cluster.set_latency("inventory", 50)
    try:
        assert await timed(inventory, "/inventory", {"skus": "MUG-CER-350"}) >= 0.05
        assert await timed(inventory, "/healthz", {}) < 0.05
        cluster.set_latency("inventory", 20, jitter_ms=30)
        durations = [
            await timed(inventory, "/inventory", {"skus": "MUG-CER-350"}) for _ in range(5)
        ]
        assert min(durations) >= 0.02
    finally:
        cluster.set_latency("inventory", 0)
    assert await timed(inventory, "/inventory", {"skus": "MUG-CER-350"}) < 0.05


async def test_start_cluster_latency_per_source(
    sim_data: Dataset, http: aiohttp.ClientSession
) -> None:
    async with await start_cluster(sim_data, latency_ms={"carrier": 60}) as running:
        carrier = client(running, http, "carrier")
        ticketing = client(running, http, "ticketing")
        number = next(iter(sim_data.trackings))
        assert await timed(carrier, "/trackings", {"numbers": number}) >= 0.06
        assert await timed(ticketing, "/tickets", {"orderIds": "x"}) < 0.06
    async with await start_cluster(sim_data, latency_ms=55) as running:
        assert (
            await timed(client(running, http, "ticketing"), "/tickets", {"orderIds": "x"}) >= 0.055
        )
