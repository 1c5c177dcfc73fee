"""Shopify's query cost: the adapter's pacing arithmetic (sources/adapters/shopify/
cost.py), its reading of THROTTLED and other errors (client.py), and the simulated
API's cost rule and leaky bucket (sim/vendors/shopify_schema.py, access.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from graphql import FragmentDefinitionNode as Fragment
from graphql import OperationDefinitionNode, parse

from sim.vendors import access
from sim.vendors.access import VendorAccount
from sim.vendors.shopify_cost import requested_cost
from sim.vendors.shopify_schema import SCHEMA
from sources.adapters.shopify import queries, wire
from sources.adapters.shopify.adapter import ShopifyOrders
from sources.adapters.shopify.client import Answer, TooCostly
from sources.adapters.shopify.cost import CostBucket, throttled_wait_s
from sources.adapters.shopify.queries import DOCUMENTS
from sources.failures import SOURCE_BAD_RESPONSE, SourceError
from sources.options import SourceConfig
from sources.resilience.throttle import DEFAULT_THROTTLE_WAIT_S

# A throttled answer as Shopify sends it (HTTP 200; from a live shop, as posted in
# Shopify's community forum "Throttled").
THROTTLED = {
    "errors": [
        {
            "message": "Throttled",
            "extensions": {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits",
            },
        }
    ],
    "extensions": {
        "cost": {
            "requestedQueryCost": 752,
            "actualQueryCost": None,
            "throttleStatus": {
                "maximumAvailable": 1000.0,
                "currentlyAvailable": 666,
                "restoreRate": 50.0,
            },
        }
    },
}


def answer(payload: dict[str, Any]) -> Answer[dict[str, Any]]:
    return msgspec.json.decode(msgspec.json.encode(payload), type=Answer[dict[str, Any]])


def cost(requested: int, available: float, restore: float = 50.0) -> wire.Cost:
    status = wire.ThrottleStatus(
        maximum_available=1000.0, currently_available=available, restore_rate=restore
    )
    return wire.Cost(requested_query_cost=requested, actual_query_cost=0, throttle_status=status)


def test_nothing_is_paced_before_an_answer_said_what_the_bucket_holds():
    bucket = CostBucket()
    assert bucket.wait_s("OrdersById", 250, now=0.0) == 0.0
    bucket.observe(cost(250, 0.0), now=0.0)
    assert bucket.wait_s("OrdersById", 250, now=0.0) == 0.0  # no cost known for it yet


def test_a_query_waits_until_the_bucket_holds_what_it_cost_last_time_per_key():
    bucket = CostBucket()
    bucket.learn("OrdersById", 100, cost(100, 0.0))  # one point an id
    bucket.observe(cost(100, 50.0), now=10.0)
    # (250 expected - 50 available) / 50 a second
    assert bucket.wait_s("OrdersById", 250, now=10.0) == pytest.approx(4.0)
    assert bucket.wait_s("OrdersById", 250, now=12.0) == pytest.approx(2.0)  # refilled 100
    assert bucket.wait_s("OrdersById", 250, now=14.0) == 0.0
    assert bucket.wait_s("OrdersById", 40, now=10.0) == 0.0


def test_a_background_query_leaves_half_the_bucket_to_requests():
    bucket = CostBucket()
    bucket.observe(cost(requested=0, available=700, restore=50.0), now=0.0)
    bucket.learn("OrdersById", 100, cost(requested=300, available=700))  # 3 a key
    assert bucket.wait_s("OrdersById", 100, now=0.0) == 0.0
    # 300 + a reserve of half the maximum (500) against 700: 100 short, 2 s at 50 a second
    assert bucket.wait_s("OrdersById", 100, now=0.0, background=True) == pytest.approx(2.0)


def test_the_bucket_refills_to_its_maximum_only():
    bucket = CostBucket()
    bucket.observe(cost(1, 990.0), now=0.0)
    assert bucket.available(now=60.0) == 1000.0
    bucket.learn("ItemsBySku", 1, cost(1001, 0.0))
    assert bucket.wait_s("ItemsBySku", 1, now=60.0) == pytest.approx(1 / 50)


def test_a_throttled_answer_asks_to_wait_until_the_refused_cost_is_back():
    throttled = answer(THROTTLED)
    assert throttled.data is None
    assert throttled_wait_s(throttled.errors, throttled.cost) == pytest.approx((752 - 666) / 50)
    assert throttled_wait_s(throttled.errors, None) == DEFAULT_THROTTLE_WAIT_S
    assert throttled_wait_s([], throttled.cost) is None


@pytest.fixture
async def adapter() -> AsyncIterator[ShopifyOrders]:
    orders = ShopifyOrders(SourceConfig(base_url="http://127.0.0.1:9", credential="token"))
    yield orders
    await orders.close()


async def test_the_client_reads_every_answer_s_cost_and_its_throttle(adapter: ShopifyOrders):
    ok = answer({"data": {"shop": {"name": "x"}}, "extensions": THROTTLED["extensions"]})
    assert adapter.throttled_s(ok) is None
    assert adapter._bucket.available() == pytest.approx(666, abs=1)
    assert adapter.throttled_s(answer(THROTTLED)) == pytest.approx(1.72)


async def test_an_error_of_the_whole_request_is_a_bad_response(adapter: ShopifyOrders):
    refused = answer(
        {"errors": [{"message": "Access denied", "extensions": {"code": "ACCESS_DENIED"}}]}
    )
    with pytest.raises(SourceError) as raised:
        adapter.throttled_s(refused)
    assert (raised.value.code, raised.value.retryable) == (SOURCE_BAD_RESPONSE, False)
    assert "ACCESS_DENIED" in str(raised.value)


# MAX_COST_EXCEEDED as Shopify words it; the cost and limit in its extensions
MAX_COST = {
    "errors": [
        {
            "message": "Query cost is 1502, which exceeds the single query max cost limit (1000).",
            "extensions": {"code": "MAX_COST_EXCEEDED", "cost": 1502, "maxCost": 1000},
        }
    ]
}


async def test_a_query_costlier_than_one_query_may_is_too_costly_not_a_failure(
    adapter: ShopifyOrders,
):
    with pytest.raises(TooCostly) as raised:
        adapter.throttled_s(answer(MAX_COST))
    assert (raised.value.refused.cost, raised.value.refused.max_cost) == (1502, 1000)
    assert (raised.value.code, raised.value.retryable) == (SOURCE_BAD_RESPONSE, False)


def refused(cost: int | None, max_cost: int | None = None) -> wire.ErrorExtensions:
    return wire.ErrorExtensions(code=wire.MAX_COST_EXCEEDED, cost=cost, max_cost=max_cost)


def test_every_key_goes_in_one_call_until_a_cost_is_known():
    assert CostBucket().keys_per_call("OrdersById", 250) == 250


def test_a_call_holds_as_many_keys_as_their_last_cost_lets_under_the_most_a_query_may_cost():
    bucket = CostBucket()
    bucket.learn("OrdersById", 50, cost(requested=600, available=400))  # 12 a key
    assert bucket.keys_per_call("OrdersById", 250) == 83  # 1,000 // 12
    assert bucket.keys_per_call("OrdersById", 10) == 10
    assert bucket.keys_per_call("ItemsBySku", 250) == 250  # another operation


@pytest.mark.parametrize(
    ("said", "keys_per_call"),
    [
        (refused(1502, 1000), 166),  # 6.008 a key
        (refused(1502, 500), 83),  # a shop with a lower limit
        (refused(None), 125),  # the shop said no cost: half as many
        (refused(250), 125),  # said it cost no more than the limit: still fewer
    ],
)
def test_a_refused_batch_sizes_the_next_calls(said: wire.ErrorExtensions, keys_per_call: int):
    bucket = CostBucket()
    bucket.too_costly("OrdersById", 250, said)
    assert bucket.keys_per_call("OrdersById", 250) == keys_per_call


def test_a_key_too_costly_alone_still_gets_one_a_call():
    bucket = CostBucket()
    bucket.too_costly("OrdersById", 1, refused(5000))
    assert bucket.keys_per_call("OrdersById", 250) == 1


async def test_an_error_of_one_place_is_a_partial_answer(adapter: ShopifyOrders):
    partial = answer(
        {"data": {"nodes": [None]}, "errors": [{"message": "Internal error", "path": ["nodes", 0]}]}
    )
    assert adapter.throttled_s(partial) is None


def operation(text: str) -> OperationDefinitionNode:
    (definition,) = parse(text).definitions
    assert isinstance(definition, OperationDefinitionNode)
    return definition


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["a", "b", "c"]}, 3),
        ('{ nodes(ids: ["a"]) { id } }', {}, 1),
        ("query($n: Int!) { orders(first: $n) { nodes { id } } }", {"n": 7}, 9),
        ("{ inventoryItems(first: 250) { nodes { id } } shop { name } }", {}, 253),
        ("{ shop { name } }", {}, 1),
        (
            'mutation { orderCancel(orderId: "x", reason: OTHER, restock: true) { job { id } } }',
            {},
            10,
        ),
    ],
)
def test_the_simulated_api_s_cost_rule(text: str, variables: dict[str, Any], expected: int):
    assert requested_cost(SCHEMA, operation(text), {}, variables) == expected


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("{ shop { name } }", {}, 1),
        ("{ orders(first: 5) { nodes { id name } } }", {}, 2 + 5),
        ("{ orders(first: 2) { pageInfo { hasNextPage } edges { cursor node { id } } } }", {}, 4),
        # nested connections multiply: 5 orders of 1 + (2 + 10 lines)
        ("{ orders(first: 5) { nodes { lineItems(first: 10) { nodes { id } } } } }", {}, 67),
        # an object costs 1, its scalars nothing; a list sized by first that many
        (
            "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Order { customer { id }"
            " fulfillments(first: 3) { id trackingInfo(first: 1) { number } } } } }",
            {"ids": ["a", "b"]},
            2 * (1 + 1 + 3 * (1 + 1)),
        ),
        # an abstract type: the costliest of the types a fragment applies to
        ('{ nodes(ids: ["a"]) { ... on Job { id } ... on Order { customer { id } } } }', {}, 2),
        ('mutation { orderUpdate(input: {id: "x"}) { order { id } } }', {}, 10),
    ],
)
def test_the_documented_cost_rule(text: str, variables: dict[str, Any], expected: int):
    assert requested_cost(SCHEMA, operation(text), {}, variables, "documented") == expected


def document_cost(name: str, variables: dict[str, Any]) -> int:
    document = parse(DOCUMENTS[name])
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, Fragment)}
    (asked,) = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return requested_cost(SCHEMA, asked, fragments, variables, "documented")


def test_a_batch_read_of_one_order_or_item_fits_one_query_by_the_documented_rule():
    """Short nested pages: an order costs 424 points, an item 35, where pages of 250
    would cost more than one query may (1,000) for one order."""
    one = {"ids": ["gid://shopify/Order/1"]}
    assert document_cost(queries.ORDERS_BY_ID, one) == 424
    assert document_cost(queries.ORDERS_LISTED, {"first": 1}) == 2 + 424
    assert document_cost(queries.ITEMS_BY_SKU, {"first": 1}) == 2 + 33
    assert document_cost(queries.WHOLE_ORDERS_BY_ID, one) > wire.MAX_QUERY_COST
    assert document_cost(queries.WHOLE_ITEMS_BY_ID, one) <= wire.MAX_QUERY_COST


def test_the_simulated_bucket_leaks_and_refunds(monkeypatch: pytest.MonkeyPatch):
    clock = [100.0]
    monkeypatch.setattr(access.time, "monotonic", lambda: clock[0])
    account = VendorAccount(limit=40)  # 40 points a second into a bucket of 400
    first = account.spend(250)
    assert (first.admitted, first.maximum, first.available, first.restore_per_s) == (
        True,
        400,
        150,
        40.0,
    )
    refused = account.spend(250)
    assert (refused.admitted, refused.available) == (False, 150)
    clock[0] += 2.5  # 100 points back
    assert account.spend(250).available == 0
    account.refund(30)
    clock[0] += 100
    assert account.spend(0).available == 400
