"""Batching holds across the whole query: each source is asked once per level."""

from __future__ import annotations

import pytest

from tests.support.gateways import in_process_gateway, settings_for
from tests.support.queries import ORDERS_PAGE


@pytest.fixture
async def cold_gateway(sim):
    """A gateway of the test's own: its cache starts empty, and its limits let the
    full 50-order view (cost ~13,000) and 150 aliased root fields through. Batching is
    the point, not speed: a loaded machine's slow source must not turn the answer into
    a timeout."""
    limits = {
        "request_deadline_ms": 10_000,
        "max_cost": 100_000,
        "max_aliases": 200,
        "max_root_fields": 200,
        "max_tokens": 2000,
        "max_fields": 400,
        "max_selections": 200,
    }
    async with in_process_gateway(settings_for(sim.urls, **limits)) as gateway:
        yield gateway


async def test_fifty_orders_reach_each_source_once(cold_gateway, stats):
    body = await cold_gateway.query(ORDERS_PAGE, {"first": 50})
    assert "errors" not in body, body["errors"][:3]
    orders = [edge["node"] for edge in body["data"]["orders"]["edges"]]
    assert len(orders) == 50

    # The page really fanned out: lines with stock, parcels with tracking, tickets.
    assert all(line["availability"] for order in orders for line in order["lineItems"])
    tracked = [s for o in orders for s in o["shipments"] if s["tracking"]]
    assert tracked and any(s["tracking"]["events"] for s in tracked)
    assert any(order["tickets"] for order in orders)

    counts = await stats.read()
    assert {name: c["requests"] for name, c in counts.items()} == {
        "oms": 1,
        "inventory": 1,
        "carrier": 1,
        "ticketing": 1,
    }
    # One call per source, carrying every distinct key of the page.
    skus = {line["sku"] for order in orders for line in order["lineItems"]}
    numbers = {s["trackingNumber"] for o in orders for s in o["shipments"] if s["trackingNumber"]}
    assert counts["inventory"]["batchSizes"]["/inventory"] == [len(skus)]
    assert counts["carrier"]["batchSizes"]["/trackings"] == [len(numbers)]
    assert counts["ticketing"]["batchSizes"]["/tickets"] == [50]


async def test_more_keys_than_the_batch_limit_split_into_allowed_calls(
    cold_gateway, stats, dataset
):
    numbers = sorted(order.number for order in dataset.orders.values())[:150]
    fields = " ".join(f'o{n}: orderByNumber(number: "{n}") {{ id }}' for n in numbers)
    body = await cold_gateway.query(f"{{ {fields} }}")
    assert "errors" not in body
    assert all(body["data"][f"o{n}"] for n in numbers)
    counts = await stats.read()
    assert sorted(counts["oms"]["batchSizes"]["/orders/by-number"]) == [50, 100]
