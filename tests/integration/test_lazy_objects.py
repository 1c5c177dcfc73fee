"""A query converts only what it selects: graph objects wrap their records and build
nested objects and global ids when a field is first read, under both executors.
Counted here: every graph object made (by type) and every global id made, while
real gateways answer over the simulated sources."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from graphql import GraphQLObjectType

import resolvers.types.order
import resolvers.types.ticket
from resolvers.relay import to_global_id
from resolvers.schema import build_schema
from sim.cluster import SimCluster
from sim.seed import Dataset
from sources.cache.through import Cached, Freshness
from tests.support.gateways import RunningGateway, in_process_gateway, settings_for
from tests.support.global_ids import b64

GRAPH_TYPES = [
    graphql_type.extensions["strawberry-definition"].origin
    for graphql_type in build_schema()._schema.type_map.values()
    if isinstance(graphql_type, GraphQLObjectType) and not graphql_type.name.startswith("__")
]
PAGE = {"OrderConnection", "OrderEdge", "PageInfo", "Order", "Query"}


@pytest.fixture(params=[True, False], ids=["compiled", "reference"])
async def either_executor(
    sim: SimCluster, request: pytest.FixtureRequest
) -> AsyncIterator[RunningGateway]:
    """The gateway in process, running queries by compiled plans or the reference
    executor."""
    async with in_process_gateway(settings_for(sim.urls, compiled_execution=request.param)) as gw:
        yield gw


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Graph objects made, by type name, and global ids made (``"global id"``)."""
    counts: Counter[str] = Counter()

    def counting(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return function(*args, **kwargs)

        return counted

    for cls in GRAPH_TYPES:
        monkeypatch.setattr(cls, "__init__", counting(cls.__name__, cls.__init__))
    for module in (resolvers.types.order, resolvers.types.ticket):
        monkeypatch.setattr(module, "to_global_id", counting("global id", module.to_global_id))
    return counts


async def test_a_page_of_order_numbers_builds_nothing_else(
    either_executor: RunningGateway, made: Counter[str]
) -> None:
    body = await either_executor.query("{ orders(first: 100) { nodes { number } } }")
    assert len(body["data"]["orders"]["nodes"]) == 100
    assert made["Order"] == 100
    assert set(made) <= PAGE, made
    assert made["global id"] == 0


async def test_only_the_selected_parts_of_lines_are_built(
    either_executor: RunningGateway, made: Counter[str]
) -> None:
    query = "{ orders(first: 20) { nodes { lineItems { sku availability { inStock } } } } }"
    body = await either_executor.query(query)
    lines = [line for node in body["data"]["orders"]["nodes"] for line in node["lineItems"]]
    assert lines and all(line["availability"]["inStock"] in (True, False) for line in lines)
    assert made["LineItem"] == len(lines)
    assert made["InventoryAvailability"] == len(lines)
    for unselected in ("Money", "LineItemQuantities", "InventoryLevel", "Customer"):
        assert made[unselected] == 0, unselected
    assert made["global id"] == 0


async def test_ids_and_shared_lines_are_built_once_per_object(
    either_executor: RunningGateway, made: Counter[str]
) -> None:
    query = """{ orders(first: 10, filter: { fulfillmentStatuses: [FULFILLED] }) { nodes {
        id lineItems { id }
        fulfillmentOrders { id lineItems { lineItem { id } } }
        shipments { lineItems { lineItem { id } } } } } }"""
    nodes = (await either_executor.query(query))["data"]["orders"]["nodes"]
    lines = sum(len(node["lineItems"]) for node in nodes)
    fulfillment_orders = sum(len(node["fulfillmentOrders"]) for node in nodes)
    assert all(node["shipments"] for node in nodes)  # whose ids are not asked for
    # The fulfillment orders' and shipments' lines are the order's own LineItems.
    assert made["LineItem"] == lines
    assert made["global id"] == len(nodes) + lines + fulfillment_orders
    for node in nodes:
        own = {line["id"] for line in node["lineItems"]}
        for part in node["fulfillmentOrders"] + node["shipments"]:
            assert {q["lineItem"]["id"] for q in part["lineItems"]} <= own


@pytest.mark.parametrize("pii", [True, False])
def test_personal_data_built_on_read_is_masked_without_pii(dataset: Dataset, pii: bool) -> None:
    record = next(o for o in dataset.orders.values() if o.shipping_address and o.customer.phone)
    order = resolvers.types.order.Order.from_record(
        record, Cached(record, Freshness.FRESH, 0.0), pii=pii
    )
    address = order.shipping_address
    assert address is not None and record.shipping_address is not None
    personal = [
        order.customer.email,
        order.customer.phone,
        address.name,
        address.line1,
        address.postal_code,
    ]
    if pii:
        assert personal == [
            record.customer.email,
            record.customer.phone,
            record.shipping_address.name,
            record.shipping_address.line1,
            record.shipping_address.postal_code,
        ]
    else:
        assert personal == [None] * len(personal)
    assert (order.customer.name, address.city) == (
        record.customer.name,
        record.shipping_address.city,
    )


def test_global_ids_made_on_read_keep_their_format(dataset: Dataset) -> None:
    record = next(o for o in dataset.orders.values() if o.shipments)
    order = resolvers.types.order.Order.from_record(
        record, Cached(record, Freshness.FRESH, 0.0), pii=False
    )
    assert order.id == b64(f"Order:{record.id}", pad=False)
    assert order.line_items[0].id == b64(f"LineItem:{record.id}:{record.lines[0].id}", pad=False)
    fulfillment_order = record.fulfillment_orders[0]
    assert order.fulfillment_orders[0].id == b64(
        f"FulfillmentOrder:{record.id}:{fulfillment_order.id}", pad=False
    )
    assert order.shipments[0].id == b64(f"Shipment:{record.id}:{record.shipments[0].id}", pad=False)
    for _ in range(2):  # made, then remembered
        assert to_global_id("Order", "a:b/é") == b64("Order:a%3Ab%2F%C3%A9", pad=False)
