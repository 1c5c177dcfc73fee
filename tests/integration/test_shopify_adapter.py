"""The Shopify adapters against the simulated Shopify Admin GraphQL API: the contract
kit, one GraphQL call per batch (counted by the simulated API's ``/__stats``), the
250-key limit, the query cost taken as back-pressure (paced, THROTTLED waited out within
the deadline, never a source failure), the two writes, an address Shopify has no
country code for (the caller's error, never a source failure), and webhooks end to
end."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp import web
from msgspec.structs import replace

from domain import addresses
from domain.eligibility import change_eligibility
from gateway.settings import Settings, SourceSettings
from resolvers.relay import to_global_id
from sim.app import create_source_app
from sim.changes import ChangeError
from sim.changes.oms import check_address_change, check_cancel
from sim.cluster import SimCluster, start_cluster
from sim.common import STATS_KEY
from sim.faults import FaultSpec
from sim.seed import Dataset
from sim.stats import Stats
from sim.vendors.access import SIM_API_KEY, VendorAccount
from sim.vendors.shopify import webhook
from sources.adapters.contract import (
    BatchReadContract,
    ChangeEventsContract,
    DownSourceContract,
    OrderListContract,
    Subject,
)
from sources.adapters.protocols import InventoryAdapter, OrdersAdapter
from sources.adapters.search import OrderSearch
from sources.adapters.shopify import adapter as shopify_adapter
from sources.adapters.shopify import wire
from sources.adapters.shopify.adapter import (
    INVALID_COUNTRY,
    UPDATED,
    ShopifyInventory,
    ShopifyOrders,
)
from sources.adapters.shopify.client import ShopifyClient
from sources.adapters.shopify.gid import shopify_gid
from sources.adapters.shopify.inventory import item_from_shopify, shopify_from_item
from sources.adapters.shopify.orders import order_from_shopify, shopify_from_order
from sources.adapters.shopify.queries import CHANGE_ADDRESS
from sources.clients.changes import ChangeRefused
from sources.clients.http import SourceRejected
from sources.events import ChangeEvent, EventType
from sources.failures import BAD_USER_INPUT, SOURCE_BAD_RESPONSE, SOURCE_UNAVAILABLE, SourceError
from sources.options import SourceConfig
from sources.records import (
    LINE_CANCEL_NOT_SUPPORTED,
    AddressChangeStatus,
    AddressRequestStatus,
    CancelReason,
    LineQuantities,
    LineQuantity,
    MailingAddress,
    Order,
)
from sources.resilience import deadline
from sources.resilience.breaker import CLOSED
from sources.telemetry import UPSTREAM_THROTTLE_WAITS
from sources.webhooks import generate_secret, hmac_signature, new_msg_id
from tests.support.deliveries import as_sent, refusal
from tests.support.gateways import in_process_gateway, settings_for
from tests.support.ports import free_port_block
from tests.support.queries import ADDRESS, CANCEL, NEW_ADDRESS
from tests.support.serving import served_aiohttp
from tests.support.timing import HANG_S, TRIES

SECRET = generate_secret()  # the app's webhook secret: the simulated Shopify signs with it
MISSING = [f"missing-{n}" for n in range(10)]
UNKNOWN_ORDERS = [f"ord_{n}" for n in range(1, 51)]  # ids Shopify could have, but has not
GRAPHQL = f"/admin/api/{wire.API_VERSION}/graphql.json"


@pytest.fixture(scope="module")
def data(make_dataset: Any) -> Dataset:
    return make_dataset(orders=200)


@pytest.fixture(scope="module")
async def deliveries() -> AsyncIterator[tuple[str, list[tuple[str, bytes, dict[str, str]]]]]:
    """A webhook endpoint keeping every delivery as (source, body, headers)."""
    kept: list[tuple[str, bytes, dict[str, str]]] = []

    async def keep(request: web.Request) -> web.Response:
        kept.append((request.match_info["source"], await request.read(), dict(request.headers)))
        return web.json_response({"status": "applied"})

    app = web.Application()
    app.router.add_post("/webhooks/{source}", keep)
    async with served_aiohttp(app) as url:
        yield f"{url}/webhooks", kept


@pytest.fixture(scope="module")
async def cluster(data: Dataset, deliveries: Any) -> AsyncIterator[SimCluster]:
    """Every source and vendor API; Shopify's bucket holds 10,000 points here."""
    url, _ = deliveries
    async with await start_cluster(
        data, vendors=True, vendor_rate_per_s=1000, webhook_url=url, webhook_secret=SECRET
    ) as running:
        yield running


def config(url: str, **options: Any) -> SourceConfig:
    settings = {"credential": SIM_API_KEY, "webhook_secrets": (SECRET,), **options}
    return SourceConfig(base_url=url, **settings)


@contextlib.asynccontextmanager
async def opened(kind: type[ShopifyClient], url: str, **options: Any) -> AsyncIterator[Any]:
    adapter = kind(config(url, **options))
    try:
        yield adapter
    finally:
        await adapter.close()


def through_shopify(data: Dataset) -> dict[str, Any]:
    """The data set's items as Shopify carries them (no restock dates or history)."""
    return {sku: item_from_shopify(shopify_from_item(i)) for sku, i in data.inventory.items()}


# --- the contract kit ------------------------------------------------------------------


class TestOrdersBatchReads(BatchReadContract):
    @pytest.fixture
    async def subject(self, cluster, data) -> AsyncIterator[Subject]:
        async with opened(ShopifyOrders, cluster.urls["shopify"], batch_size=500) as orders:
            yield Subject(orders, orders.orders_by_ids, dict(data.orders), MISSING)


class TestInventoryBatchReads(BatchReadContract):
    @pytest.fixture
    async def subject(self, cluster, data) -> AsyncIterator[Subject]:
        async with opened(ShopifyInventory, cluster.urls["shopify"]) as items:
            yield Subject(items, items.items_by_skus, through_shopify(data), MISSING)


class TestOrderList(OrderListContract):
    @pytest.fixture
    async def orders(self, cluster) -> AsyncIterator[OrdersAdapter]:
        async with opened(ShopifyOrders, cluster.urls["shopify"]) as orders:
            yield orders


class TestADownShopify(DownSourceContract):
    @pytest.fixture(params=["oms", "inventory"])
    async def subject(self, request, data) -> AsyncIterator[Subject]:
        nobody = f"http://127.0.0.1:{free_port_block(1)}"  # nothing listens there
        kind = ShopifyOrders if request.param == "oms" else ShopifyInventory
        async with opened(kind, nobody) as adapter:
            read = adapter.orders_by_ids if request.param == "oms" else adapter.items_by_skus
            yield Subject(adapter, read, {}, [next(iter(data.orders))])


class TestChangeEvents(ChangeEventsContract):
    @pytest.fixture(params=["oms", "inventory"])
    async def subject(self, request, cluster, data) -> AsyncIterator[Subject]:
        source = request.param
        order = next(iter(data.orders.values()))
        sku = next(iter(data.inventory))
        event = ChangeEvent(
            type=EventType.ORDER_UPDATED if source == "oms" else EventType.INVENTORY_CHANGED,
            occurred_at=data.now,
            order_id=order.id if source == "oms" else None,
            sku=None if source == "oms" else sku,
        )

        def delivery() -> tuple[bytes, dict[str, str]]:
            return webhook(data, source)(event, new_msg_id(), SECRET)

        kind = ShopifyOrders if source == "oms" else ShopifyInventory
        async with opened(kind, cluster.urls["shopify"]) as adapter:
            # the inventory adapter has read no item: it asks Shopify what the item is
            read = getattr(adapter, "orders_by_ids" if source == "oms" else "items_by_skus")
            yield Subject(adapter, read, {}, delivery=delivery)


async def test_a_level_of_an_item_never_read_needs_shopify_and_a_down_one_is_a_503(data):
    """Asked what the item is, a Shopify that cannot answer makes the webhook a 503:
    Shopify delivers it again."""
    body = msgspec.json.encode(UNKNOWN_LEVEL)
    nobody = f"http://127.0.0.1:{free_port_block(1)}"
    async with opened(ShopifyInventory, nobody) as inventory:
        assert await refusal(inventory, body, level_headers(body)) == (
            503,
            "WEBHOOK_SOURCE_UNAVAILABLE",
        )


UNKNOWN_LEVEL = {
    "inventory_item_id": 999999999,
    "location_id": 1,
    "updated_at": "2026-11-20T00:00:00Z",
}


def level_headers(body: bytes) -> dict[str, str]:
    return {
        "X-Shopify-Hmac-Sha256": hmac_signature(SECRET, body),
        "X-Shopify-Topic": "inventory_levels/update",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    }


async def test_a_level_of_an_item_shopify_does_not_know_is_refused(cluster, data):
    body = msgspec.json.encode(UNKNOWN_LEVEL)
    async with opened(ShopifyInventory, cluster.urls["shopify"]) as inventory:
        assert await refusal(inventory, body, level_headers(body)) == (400, "WEBHOOK_ITEM_UNKNOWN")


async def test_the_adapters_are_their_sources_adapters(cluster):
    async with opened(ShopifyOrders, cluster.urls["shopify"], batch_size=1000) as orders:
        assert isinstance(orders, OrdersAdapter) and orders.name == "oms"
        assert orders.batch_size == wire.MAX_IDS  # Shopify's limit on nodes(ids:)
    async with opened(ShopifyInventory, cluster.urls["shopify"]) as items:
        assert isinstance(items, InventoryAdapter) and items.name == "inventory"
        assert items.batch_size == 100  # the configured batch size, under Shopify's limit


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"credential": None}, "access token"),
        ({"options": {"api_version": "latest"}}, "not a Shopify API version"),
    ],
)
async def test_an_adapter_without_what_it_needs_is_refused(options, problem):
    settings = {"base_url": "http://127.0.0.1:9", "credential": SIM_API_KEY, **options}
    with pytest.raises(ValueError, match=problem):
        ShopifyOrders(SourceConfig(**settings))


# --- one call per batch, and Shopify's limits --------------------------------------------


def stats(cluster: SimCluster) -> Stats:
    return cluster.stats("shopify")


async def test_a_batch_of_250_ids_is_one_graphql_call(cluster, data):
    ids = [*data.orders, *UNKNOWN_ORDERS]
    assert len(ids) == wire.MAX_IDS
    async with opened(ShopifyOrders, cluster.urls["shopify"], batch_size=1000) as orders:
        cluster.reset_stats()
        answer = await orders.orders_by_ids(ids)
    assert answer == {**data.orders, **dict.fromkeys(UNKNOWN_ORDERS)}
    assert (stats(cluster).requests, stats(cluster).batch_sizes) == (1, {"nodes": [250]})


async def test_numbers_and_skus_are_one_call_each(cluster, data):
    numbers = [order.number for order in list(data.orders.values())[:20]]
    skus = list(data.inventory)[:20]
    async with (
        opened(ShopifyOrders, cluster.urls["shopify"]) as orders,
        opened(ShopifyInventory, cluster.urls["shopify"]) as items,
    ):
        cluster.reset_stats()
        by_number = await orders.orders_by_numbers([f"#{n}" for n in numbers] + ["99999"])
        by_sku = await items.items_by_skus([*skus, "NO-SUCH-SKU"])
    assert by_number == {
        **{o.number: o for o in list(data.orders.values())[:20]},
        "99999": None,
    }
    assert by_sku == {**{s: through_shopify(data)[s] for s in skus}, "NO-SUCH-SKU": None}
    assert stats(cluster).batch_sizes == {"orders": [21], "inventoryItems": [21]}
    assert stats(cluster).requests == 2


async def test_the_simulated_api_takes_at_most_250_ids(cluster):
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    ids = [f"gid://shopify/Order/{n}" for n in range(251)]
    async with (
        aiohttp.ClientSession(headers={"X-Shopify-Access-Token": SIM_API_KEY}) as http,
        http.post(
            cluster.urls["shopify"] + GRAPHQL, json={"query": query, "variables": {"ids": ids}}
        ) as resp,
    ):
        body = await resp.json()
    assert resp.status == 200
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["MAX_INPUT_SIZE_EXCEEDED"]
    assert body["extensions"]["cost"]["requestedQueryCost"] == 251


async def test_a_wrong_token_is_the_gateway_s_problem_not_the_caller_s(cluster, data):
    async with opened(ShopifyOrders, cluster.urls["shopify"], credential="nope") as orders:
        with pytest.raises(SourceError) as raised:
            await orders.orders_by_ids([next(iter(data.orders))])
        assert (raised.value.code, raised.value.retryable) == (SOURCE_BAD_RESPONSE, False)
        assert await orders.ping() is False


async def test_a_partial_answer_leaves_out_the_orders_struck(cluster, data):
    ids = list(data.orders)[:10]
    async with opened(ShopifyOrders, cluster.urls["shopify"]) as orders:
        cluster.set_faults("shopify", FaultSpec(partial_batch=True, rate=1.0))
        try:
            answer = await orders.orders_by_ids(["ord_1", *ids])
        finally:
            cluster.set_faults("shopify", None)
    assert answer == {"ord_1": None, **{i: data.orders[i] for i in ids[1::2]}}


# --- query cost: paced, waited out, never a failure --------------------------------------


@contextlib.asynccontextmanager
async def low_bucket(
    data: Dataset, restored_per_s: int = 40
) -> AsyncIterator[tuple[ShopifyOrders, Stats]]:
    """A simulated Shopify restoring ``restored_per_s`` points a second into a bucket of
    ten times that, full. The adapter's call timeouts only bound a hang: these tests
    are about waiting for points, not about how soon a loaded host serves a page."""
    app = create_source_app("shopify", data, account=VendorAccount(limit=restored_per_s))
    patient = {"read_timeout_s": HANG_S, "total_timeout_s": HANG_S}
    async with served_aiohttp(app) as url, opened(ShopifyOrders, url, **patient) as orders:
        yield orders, app[STATS_KEY]


async def test_throttled_queries_are_waited_out_within_the_deadline(data):
    """Five reads of 20 ids at once against 80 points: four run, the fifth draws
    THROTTLED, waits as its cost says (20 points at 8 a second) and runs; no read fails
    and the breaker sees no failure. Pages this small are served in far less than the
    2.5 s the bucket takes to refill, however loaded the host: the fifth read always
    finds it empty."""
    ids = list(data.orders)[:20]
    waits = UPSTREAM_THROTTLE_WAITS.labels("oms")._value.get()

    async def read(orders: ShopifyOrders) -> dict[str, Order | None]:
        deadline.start(HANG_S)
        return await orders.orders_by_ids(ids)

    async with low_bucket(data, restored_per_s=8) as (orders, counted):
        started = time.monotonic()
        answers = await asyncio.gather(*(read(orders) for _ in range(5)))
        elapsed = time.monotonic() - started
        assert answers == [{i: data.orders[i] for i in ids}] * 5
        assert counted.throttled >= 1
        assert counted.requests - counted.throttled == 5  # each read ran once
        assert elapsed >= 2.0
        assert UPSTREAM_THROTTLE_WAITS.labels("oms")._value.get() > waits
        assert orders.breaker.state == "closed"


async def test_a_query_waits_for_its_cost_instead_of_drawing_throttled(data):
    """250 points of 400, then 250 more: the second read waits (250 - 150) / 40 s for
    the bucket to hold its cost, as the first answer's cost said, and is not refused."""
    ids = [*data.orders, *UNKNOWN_ORDERS]
    async with low_bucket(data) as (orders, counted):
        await orders.orders_by_ids(ids)
        started = time.monotonic()
        await orders.orders_by_ids(ids)
        assert time.monotonic() - started >= 2.0
        assert (counted.requests, counted.throttled) == (2, 0)


async def test_background_reads_leave_half_the_bucket_to_requests(data):
    """500 points of 1,000 left, restored at 50 a second: a request's read of 100 ids
    goes at once; a background read (the exception queue's) waits until the bucket
    holds 100 more than half, about two seconds less what refilled meanwhile."""
    ids = [*data.orders, *UNKNOWN_ORDERS]
    asked = ids[:100]

    async def background_wait_s() -> float:
        """What a background read took beyond a request's, the same read at once: its
        wait, whatever a loaded host adds to both reads."""
        account = VendorAccount(limit=100, window_s=2)
        app = create_source_app("shopify", data, account=account)
        async with served_aiohttp(app) as url, opened(ShopifyOrders, url) as orders:
            for _ in range(2):
                await orders.orders_by_ids(ids)  # 250 points each

            async def timed() -> float:
                started = time.monotonic()
                read = await orders.orders_by_ids(asked)
                assert read == {i: data.orders.get(i) for i in asked}
                return time.monotonic() - started

            in_background = deadline.detached(timed(), background=True)
            for_request = await timed()
            waited = await in_background - for_request
            assert app[STATS_KEY].throttled == 0
            return waited

    # A loaded host's slow reads let the bucket refill meanwhile, shortening the wait:
    # one of a few fresh buckets must show it.
    waits = [await background_wait_s()]
    while len(waits) < TRIES and max(waits) < 1.0:
        waits.append(await background_wait_s())
    assert max(waits) >= 1.0, waits  # without the reserve: 0.2-0.4 s, the reads in turn


async def test_a_wait_longer_than_the_deadline_is_a_retryable_error_not_a_failure(data):
    ids = [*data.orders, *UNKNOWN_ORDERS]

    async def within_half_a_second() -> None:
        deadline.start(0.5)
        await orders.orders_by_ids(ids)

    async with low_bucket(data) as (orders, counted):
        await orders.orders_by_ids(ids)
        for _ in range(3):
            with pytest.raises(SourceError) as raised:
                await within_half_a_second()
            assert (raised.value.code, raised.value.retryable) == (SOURCE_UNAVAILABLE, True)
            assert "rate limited" in str(raised.value)
        assert counted.requests == 1  # none of them was sent
        assert orders.breaker.state == "closed"


# --- the most one query may cost: smaller calls, never a failure ----------------------


@contextlib.asynccontextmanager
async def capped(data: Dataset, kind: type[ShopifyClient]) -> AsyncIterator[tuple[Any, Stats]]:
    """A simulated Shopify where one query may cost 30 points at the most (a nodes
    call costs a point an id, a search 2 plus its page), its bucket plenty."""
    account = VendorAccount(limit=10_000, max_cost=30)
    app = create_source_app("shopify", data, account=account)
    async with served_aiohttp(app) as url, opened(kind, url) as adapter:
        yield adapter, app[STATS_KEY]


async def test_a_batch_costlier_than_one_query_may_is_read_in_smaller_calls(data):
    """100 ids: refused as costing 100, then asked in four calls of at most 30; the
    next batch goes in calls of 30 at once. Every order is read, nothing failed."""
    ids = list(data.orders)[:100]
    async with capped(data, ShopifyOrders) as (orders, counted):
        assert await orders.orders_by_ids(ids) == {i: data.orders[i] for i in ids}
        assert counted.requests == 5  # the refused call ran nothing
        assert sorted(counted.batch_sizes["nodes"]) == [10, 30, 30, 30]
        counted.reset()
        assert await orders.orders_by_ids(ids) == {i: data.orders[i] for i in ids}
        assert counted.requests == 4
        assert orders.breaker.state == "closed"


async def test_an_order_too_costly_on_its_own_is_an_error_for_it_alone(data):
    account = VendorAccount(limit=10_000, max_cost=0)
    app = create_source_app("shopify", data, account=account)
    async with served_aiohttp(app) as url, opened(ShopifyOrders, url) as orders:
        assert await orders.orders_by_ids(["ord_1", "not-shopify"]) == {"not-shopify": None}
        assert orders.breaker.state == "closed"


async def test_searches_costlier_than_one_query_may_are_split_too(data):
    numbers = [order.number for order in list(data.orders.values())[:40]]
    skus = list(data.inventory)[:40]
    async with capped(data, ShopifyOrders) as (orders, _):
        by_number = await orders.orders_by_numbers(numbers)
        assert {n: o and o.id for n, o in by_number.items()} == {
            o.number: o.id for o in list(data.orders.values())[:40]
        }
    async with capped(data, ShopifyInventory) as (inventory, counted):
        assert await inventory.items_by_skus(skus) == {
            sku: through_shopify(data)[sku] for sku in skus
        }
        assert counted.requests > 2  # refused once, then pages of at most 28
        assert inventory.breaker.state == "closed"


async def test_a_page_costlier_than_one_query_may_lists_fewer_orders(data):
    """A page of 50 would cost 52: the capped shop lists 28 a page, and following its
    cursor gives the orders an uncapped shop lists on its page of 50."""
    async with (
        served_aiohttp(create_source_app("shopify", data)) as url,
        opened(ShopifyOrders, url) as full,
    ):
        expected = [edge.node for edge in (await full.search_orders(OrderSearch(), limit=50)).edges]
    listed: list[Order] = []
    async with capped(data, ShopifyOrders) as (orders, counted):
        cursor = None
        while len(listed) < 50:
            page = await orders.search_orders(OrderSearch(), limit=50, cursor=cursor)
            assert len(page.edges) <= 28 and page.page_info.has_next_page
            listed += [edge.node for edge in page.edges]
            cursor = page.page_info.end_cursor
        assert counted.requests == 3  # refused once, then two pages of 28
        assert orders.breaker.state == "closed"
    assert listed[:50] == expected


# --- short nested pages, and orders longer than them ------------------------------------


async def test_a_shop_charging_the_documented_rule_is_read_in_calls_that_fit(data):
    """By Shopify's documented rule an order costs 424 points, an item 35: the first
    batch is refused and the rest go in calls that fit one query; all read alike."""
    ids, skus = list(data.orders)[:12], list(data.inventory)[:40]
    account = VendorAccount(limit=100_000, max_cost=1000, documented_cost=True)
    app = create_source_app("shopify", data, account=account)
    async with served_aiohttp(app) as url:
        async with opened(ShopifyOrders, url) as orders:
            assert await orders.orders_by_ids(ids) == {i: data.orders[i] for i in ids}
            assert sorted(app[STATS_KEY].batch_sizes["nodes"]) == [2] * 6
            assert orders.breaker.state == "closed"
        async with opened(ShopifyInventory, url) as inventory:
            items = through_shopify(data)
            assert await inventory.items_by_skus(skus) == {sku: items[sku] for sku in skus}


@pytest.fixture
def long_order(make_dataset: Any) -> tuple[Dataset, Order]:
    """A data set with an order of 14 lines, more than a batch read's page of 10."""
    data = make_dataset(orders=50)
    order = next(o for o in data.orders.values() if not o.cancelled_at)
    extra = [
        replace(order.lines[0], id=f"{order.lines[0].id}-{n}", quantities=LineQuantities(ordered=1))
        for n in range(13)
    ]
    long = replace(order, lines=[*order.lines, *extra])
    data.orders[long.id] = data.orders_by_number[long.number] = long
    return data, order_from_shopify(shopify_from_order(long))


async def test_an_order_longer_than_the_short_pages_is_read_again_whole(long_order):
    data, long = long_order
    others = [i for i in data.orders if i != long.id][:5]
    app = create_source_app("shopify", data)
    async with served_aiohttp(app) as url, opened(ShopifyOrders, url) as orders:
        assert len(long.lines) == 14
        found = await orders.orders_by_ids([long.id, *others])
        assert found == {long.id: long, **{i: data.orders[i] for i in others}}
        assert app[STATS_KEY].batch_sizes["nodes"] == [6, 1]  # the batch, then it alone
        by_number = await orders.orders_by_numbers([long.number])
        assert by_number == {long.number: long}
        assert app[STATS_KEY].batch_sizes["nodes"] == [6, 1, 1]
        listed: list[Order] = []
        cursor = None
        while long not in listed:
            page = await orders.search_orders(OrderSearch(), limit=20, cursor=cursor)
            assert page.edges
            listed += [edge.node for edge in page.edges]
            cursor = page.page_info.end_cursor


async def test_an_item_at_more_locations_than_a_short_page_is_read_again_whole(make_dataset):
    data = make_dataset(orders=10)
    sku, item = next(iter(data.inventory.items()))
    level = item.levels[0]
    levels = [replace(level, location_id=f"loc_extra_{n}") for n in range(12)]
    data.inventory[sku] = replace(item, levels=levels)
    app = create_source_app("shopify", data)
    async with served_aiohttp(app) as url, opened(ShopifyInventory, url) as inventory:
        found = await inventory.items_by_skus([sku])
        assert found == {sku: through_shopify(data)[sku]}
        assert len(found[sku].levels) == 12
        assert app[STATS_KEY].batch_sizes["nodes"] == [1]  # read again whole, by id


async def test_an_order_longer_than_a_documented_shop_lets_one_query_read_is_an_error_alone(
    long_order,
):
    """Read whole, the long order would cost more than one query may at a shop
    charging the documented rule: it alone is left out, the others are read."""
    data, long = long_order
    others = [i for i in data.orders if i != long.id][:3]
    account = VendorAccount(limit=100_000, max_cost=1000, documented_cost=True)
    app = create_source_app("shopify", data, account=account)
    async with served_aiohttp(app) as url, opened(ShopifyOrders, url) as orders:
        found = await orders.orders_by_ids([long.id, *others])
        assert found == {i: data.orders[i] for i in others}
        assert orders.breaker.state == "closed"


# --- writes ------------------------------------------------------------------------------


def moved(order: Order) -> MailingAddress:
    """Where ``order`` ships to next: a new recipient (Shopify's firstName "Grace
    Brewster", lastName "Hopper"), street and unit."""
    assert order.shipping_address is not None
    return replace(
        order.shipping_address,
        name="Grace Brewster Hopper",
        line1="1 Navy Pentagon",
        line2="Room 4C",
    )


def orders_where(data: Dataset, check: Any, expected: Any = None) -> Iterator[str]:
    """Ids of orders that ``check`` passes (answering ``expected`` when given)."""
    for order in data.orders.values():
        try:
            answer = check(order)
        except ChangeError:
            continue
        if expected is None or answer is expected:
            yield order.id


async def test_a_cancel_cancels_the_whole_order_once(cluster, data):
    order_id = next(orders_where(data, check_cancel))
    async with opened(ShopifyOrders, cluster.urls["shopify"]) as orders:
        cancelled = await orders.cancel_order(order_id, CancelReason.CUSTOMER)
        # a hold's time is its fulfillment order's, which the cancel moved (orders.py)
        assert cancelled == order_from_shopify(shopify_from_order(data.orders[order_id]))
        assert cancelled.cancelled_at is not None
        assert cancelled.cancel_reason is CancelReason.CUSTOMER
        assert all(line.quantities.cancelled == line.quantities.ordered for line in cancelled.lines)
        with pytest.raises(ChangeRefused) as again:
            await orders.cancel_order(order_id, CancelReason.CUSTOMER)
        assert again.value.code == "ALREADY_CANCELLED"


async def test_lines_cannot_be_cancelled_at_shopify(cluster, data):
    order = data.orders[next(orders_where(data, check_cancel))]
    lines = [LineQuantity(line_id=order.lines[0].id, quantity=1)]
    async with opened(ShopifyOrders, cluster.urls["shopify"]) as orders:
        cluster.reset_stats()
        with pytest.raises(ChangeRefused) as refused:
            await orders.cancel_order(order.id, CancelReason.CUSTOMER, lines)
    assert refused.value.code == LINE_CANCEL_NOT_SUPPORTED
    assert stats(cluster).requests == 0
    assert data.orders[order.id] == order


async def test_an_order_shopify_does_not_have_is_not_found(cluster, data):
    address = moved(next(iter(data.orders.values())))
    async with opened(ShopifyOrders, cluster.urls["shopify"]) as orders:
        for order_id in ("ord_1", "not-an-order"):
            with pytest.raises(ChangeRefused) as refused:
                await orders.cancel_order(order_id, CancelReason.OTHER)
            assert refused.value.code == "NOT_FOUND"
            with pytest.raises(ChangeRefused) as refused:
                await orders.change_shipping_address(order_id, address)
            assert refused.value.code == "NOT_FOUND"


async def test_an_address_change_is_applied(cluster, data):
    applied = AddressChangeStatus.APPLIED
    order_id = next(orders_where(data, check_address_change, applied))
    async with opened(ShopifyOrders, cluster.urls["shopify"]) as orders:
        change = await orders.change_shipping_address(order_id, moved(data.orders[order_id]))
    assert change.status is applied and change.request_id is None
    assert change.order == data.orders[order_id]
    assert change.order.shipping_address == moved(change.order)


async def test_an_address_change_a_warehouse_must_decide_is_requested(cluster, data):
    requested = AddressChangeStatus.REQUESTED
    order_id = next(orders_where(data, check_address_change, requested))
    before = data.orders[order_id]
    async with opened(ShopifyOrders, cluster.urls["shopify"]) as orders:
        change = await orders.change_shipping_address(order_id, moved(before))
    assert change.status is requested
    assert change.order == before == data.orders[order_id]
    pending = [r for r in data.address_requests.values() if r.order_id == order_id]
    assert [(r.address, r.status) for r in pending] == [
        (moved(before), AddressRequestStatus.PENDING)
    ]


# --- a country Shopify has no code for: the caller's error, never a source failure ---------

AMERICAN_SAMOA = {"countryCode": "AS", "postalCode": "96799", "region": None}  # ISO, not Shopify


async def test_an_address_in_a_country_shopify_lacks_is_refused_unsent(cluster, data):
    order_id = next(orders_where(data, check_address_change, AddressChangeStatus.APPLIED))
    before = data.orders[order_id]
    address = replace(moved(before), country_code="AS", postal_code="96799", region=None)
    async with opened(ShopifyOrders, cluster.urls["shopify"]) as orders:
        cluster.reset_stats()
        with pytest.raises(ChangeRefused) as refused:
            await orders.change_shipping_address(order_id, address)
    assert refused.value.code == INVALID_COUNTRY
    assert stats(cluster).requests == 0
    assert data.orders[order_id] == before


async def test_variables_shopify_refuses_are_the_callers_error_never_a_failure(cluster, data):
    """Sent all the same, an address Shopify's CountryCode has no value for is refused
    whole (HTTP 200, INVALID_VARIABLE): the caller's input, as a 4xx is, however often
    it comes; the breaker hears of no failure."""
    order_id = next(orders_where(data, check_address_change, AddressChangeStatus.APPLIED))
    before = data.orders[order_id]
    change = {"id": shopify_gid("Order", order_id), "shippingAddress": {"countryCode": "AS"}}
    url = cluster.urls["shopify"]
    async with opened(ShopifyOrders, url, breaker_min_calls=4) as orders:
        for _ in range(10):
            with pytest.raises(SourceRejected) as refused:
                await orders.graphql(CHANGE_ADDRESS, {"input": change}, UPDATED, write=True)
            assert (refused.value.code, refused.value.retryable) == (BAD_USER_INPUT, False)
        assert orders.breaker.state == CLOSED
        assert await orders.orders_by_ids([order_id]) == {order_id: before}
    assert data.orders[order_id] == before


@pytest.mark.parametrize(("list_lags", "code"), [(False, INVALID_COUNTRY), (True, BAD_USER_INPUT)])
async def test_through_the_graph_the_refusal_is_a_user_error_and_the_oms_stays_up(
    cluster, data, monkeypatch, list_lags, code
):
    """orderUpdateShippingAddress to American Samoa (an ISO code the address rules take)
    over a Shopify OMS: a user error every time, and the OMS's breaker (opened here by
    3 failures in 4 calls) stays closed. The adapter refuses it unsent; were its list
    of countries behind Shopify's (here: the ISO list), Shopify's INVALID_VARIABLE
    answer is BAD_USER_INPUT."""
    if list_lags:
        monkeypatch.setattr(shopify_adapter, "COUNTRY_CODES", addresses.COUNTRY_CODES)
    settings = over_shopify(cluster, breaker_min_calls=4)
    order_id = next(orders_where(data, check_address_change, AddressChangeStatus.APPLIED))
    before = data.orders[order_id]
    address = {**NEW_ADDRESS, **AMERICAN_SAMOA}
    variables = {"input": {"orderId": to_global_id("Order", order_id), "address": address}}
    async with in_process_gateway(settings) as gateway:
        cluster.reset_stats()
        for _ in range(10):
            body = await gateway.query(ADDRESS, variables)
            assert body["data"]["orderUpdateShippingAddress"] == {
                "status": None,
                "requestId": None,
                "order": None,
                "userErrors": [{"code": code}],
            }, body
        asked = (stats(cluster).requests, stats(cluster).batch_sizes)  # before readyz's ping
        _, ready = await gateway.readyz()
    assert asked == (1 + 10 * list_lags, {"nodes": [1]})  # the order, read once; the changes
    assert [s["breaker"] for s in ready["sources"] if s["name"] == "oms"] == [CLOSED]
    assert data.orders[order_id] == before


ELIGIBILITY = """query($id: ID!) { node(id: $id) { ... on Order {
  changeEligibility { cancel { allowed reasonCode } cancelLines { allowed reasonCode } } } } }"""


async def test_through_the_graph_a_shopify_oms_says_lines_cannot_be_cancelled_before_asked(
    cluster, data
):
    """Shopify cancels whole orders only: ``changeEligibility.cancelLines`` says so
    (where the native OMS allows it), and a line cancel is refused with the same code,
    on the lines field, without a call; the whole order may still be cancelled."""
    order = next(
        o
        for o in map(data.orders.get, orders_where(data, check_cancel))
        if o is not None and change_eligibility(o).cancel_lines.allowed
    )
    order_id = to_global_id("Order", order.id)
    native = settings_for({name: cluster.urls[name] for name in NATIVE})
    async with in_process_gateway(native) as gateway:
        body = await gateway.query(ELIGIBILITY, {"id": order_id})
    assert body["data"]["node"]["changeEligibility"]["cancelLines"] == {
        "allowed": True,
        "reasonCode": None,
    }, body
    line_id = to_global_id("LineItem", order.id, order.lines[0].id)
    cancel = {
        "orderId": order_id,
        "reason": "CUSTOMER",
        "lines": [{"lineItemId": line_id, "quantity": 1}],
    }
    async with in_process_gateway(over_shopify(cluster)) as gateway:
        body = await gateway.query(ELIGIBILITY, {"id": order_id})
        assert body["data"]["node"]["changeEligibility"] == {
            "cancel": {"allowed": True, "reasonCode": None},
            "cancelLines": {"allowed": False, "reasonCode": LINE_CANCEL_NOT_SUPPORTED},
        }, body
        cluster.reset_stats()
        body = await gateway.query(CANCEL, {"input": cancel})
        asked = stats(cluster).requests
    assert body["data"]["orderCancel"]["order"] is None, body
    errors = body["data"]["orderCancel"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [(["lines"], LINE_CANCEL_NOT_SUPPORTED)]
    assert asked == 0  # the order was read before: nothing reached Shopify
    assert data.orders[order.id] == order


NATIVE = ("oms", "inventory", "carrier", "ticketing")


def over_shopify(cluster: SimCluster, **options: Any) -> Settings:
    """A gateway's settings whose OMS is the simulated Shopify; the other sources native."""
    settings = settings_for({name: cluster.urls[name] for name in NATIVE})
    oms = SourceSettings(
        url=cluster.urls["shopify"],
        adapter="shopify",
        credential=SIM_API_KEY,
        webhook_secret=SECRET,
        **options,
    )
    return replace(settings, sources={**settings.sources, "oms": oms})


# --- webhooks end to end -------------------------------------------------------------------


async def test_a_change_made_through_shopify_comes_back_as_its_webhook(cluster, data, deliveries):
    _, kept = deliveries
    order_id = list(orders_where(data, check_cancel))[-1]
    async with opened(ShopifyOrders, cluster.urls["shopify"]) as orders:
        cancelled = await orders.cancel_order(order_id, CancelReason.FRAUD)
        sent = await next_delivery(kept, "oms", cancelled.id)
        verified = await orders.verify_webhook(*sent)
    assert as_sent(verified) == ChangeEvent(
        type=EventType.ORDER_CANCELLED, occurred_at=cancelled.updated_at, order_id=order_id
    )
    assert sent[1]["X-Shopify-Topic"] == "orders/cancelled"


async def test_a_fulfillment_made_at_the_shop_comes_as_fulfillments_create(
    cluster, data, deliveries
):
    _, kept = deliveries
    order_id = data.order_ids("processing")[-1]
    fo = next(
        f for f in data.orders[order_id].fulfillment_orders if f.status.value == "IN_PROGRESS"
    )
    url = f"{cluster.urls['shopify']}/admin/orders/{order_id}/ship"
    body = {"fulfillmentOrderId": fo.id, "carrierCode": "ups"}
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as shipping:
        assert shipping.status == 200, await shipping.text()
    shipped = data.orders[order_id]
    async with opened(ShopifyOrders, cluster.urls["shopify"]) as orders:
        body, headers = await next_delivery(kept, "oms", order_id)
        verified = await orders.verify_webhook(body, headers)
        assert await orders.orders_by_ids([order_id]) == {order_id: shipped}
    assert headers["X-Shopify-Topic"] == "fulfillments/create"
    assert as_sent(verified) == ChangeEvent(
        type=EventType.ORDER_UPDATED, occurred_at=shipped.updated_at, order_id=order_id
    )


async def next_delivery(
    kept: list[tuple[str, bytes, dict[str, str]]], source: str, naming: str
) -> tuple[bytes, dict[str, str]]:
    """The first delivery to ``source`` whose body names ``naming`` (legacy id)."""
    legacy = naming.rpartition("_")[2].encode()
    for _ in range(100):
        for to, body, headers in kept:
            if to == source and legacy in body:
                return body, headers
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {source} webhook naming {naming}")
