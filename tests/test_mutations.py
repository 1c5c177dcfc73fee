"""Mutations through a production-mode edge against simulated sources of their own:
eligibility and tenant checks before the source, idempotency keys (one upstream call
for concurrent repeats), no retries, and the cache refreshed after a change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from resolvers.relay import to_global_id
from sources.sim.cluster import SimCluster, start_cluster
from sources.sim.faults import FaultSpec
from sources.sim.seed import generate
from tests.conftest import FIXED_NOW
from tests.secured import TENANT_A, Secured, secured_gateway

CANCEL = """mutation($input: OrderCancelInput!) { orderCancel(input: $input) {
  order { number customerStatus } userErrors { field message code } } }"""
ADDRESS = """mutation($input: OrderUpdateShippingAddressInput!) {
  orderUpdateShippingAddress(input: $input) {
    status requestId order { number } userErrors { code } } }"""
STATUS = "query($n: String!) { orderByNumber(number: $n) { customerStatus } }"
NEW_ADDRESS = {"name": "Ada Lovelace", "line1": "1 Analytical Way", "city": "London",
               "postalCode": "N1 9GU", "countryCode": "GB"}  # fmt: skip


@pytest.fixture(scope="module")
async def cluster() -> AsyncIterator[SimCluster]:
    async with await start_cluster(generate(seed=7, now=FIXED_NOW)) as running:
        yield running


@pytest.fixture(scope="module")
async def secured(cluster, tmp_path_factory) -> AsyncIterator[Secured]:
    async with secured_gateway(cluster.urls, tmp_path_factory.mktemp("keys")) as running:
        yield running


def _orders(cluster, scenario: str, tenant: str | None = None):
    dataset = cluster.dataset
    return [
        dataset.orders[o]
        for o, s in dataset.scenarios.items()
        if s == scenario and (tenant is None or dataset.orders[o].account_id == tenant)
    ]


def _cancel_calls(cluster) -> int:
    return cluster.stats("oms").paths.get("/orders/{id}/cancel", 0)


async def _cancel(secured, order, key="console", **extra):
    variables = {"input": {"orderId": to_global_id("Order", order.id), "reason": "CUSTOMER",
                           **extra}}  # fmt: skip
    return await secured.post({"query": CANCEL, "variables": variables}, key=key)


async def test_cancel_an_order_not_yet_in_fulfillment(secured, cluster):
    order = _orders(cluster, "just_placed")[0]
    await secured.post({"query": STATUS, "variables": {"n": order.number}}, key="console")
    status, body, _ = await _cancel(secured, order)
    payload = body["data"]["orderCancel"]
    assert status == 200 and payload["userErrors"] == []
    assert payload["order"]["customerStatus"] == "CANCELLED"
    # The cached order was invalidated: the next read shows the change.
    _, body, _ = await secured.post(
        {"query": STATUS, "variables": {"n": order.number}}, key="console"
    )
    assert body["data"]["orderByNumber"]["customerStatus"] == "CANCELLED"


async def test_a_shipped_order_is_refused_before_the_source_is_called(secured, cluster):
    order = _orders(cluster, "in_transit")[0]
    cluster.reset_stats()
    _, body, _ = await _cancel(secured, order)
    payload = body["data"]["orderCancel"]
    assert payload["order"] is None
    assert payload["userErrors"][0]["code"] == "ALREADY_SHIPPED"
    assert _cancel_calls(cluster) == 0


async def test_five_concurrent_repeats_cancel_once_and_answer_alike(secured, cluster):
    order = _orders(cluster, "just_placed")[1]
    cluster.reset_stats()
    answers = await asyncio.gather(
        *(_cancel(secured, order, idempotencyKey="cancel-42") for _ in range(5))
    )
    bodies = [body["data"]["orderCancel"] for _, body, _ in answers]
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0]["order"]["customerStatus"] == "CANCELLED"
    assert _cancel_calls(cluster) == 1
    other = _orders(cluster, "just_placed")[2]
    _, body, _ = await _cancel(secured, other, idempotencyKey="cancel-42")
    assert body["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"


async def test_another_tenants_order_is_not_found(secured, cluster):
    foreign = next(o for o in _orders(cluster, "just_placed") if o.account_id != TENANT_A)
    cluster.reset_stats()
    _, body, _ = await _cancel(secured, foreign, key="writer_a")
    assert body["data"]["orderCancel"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert _cancel_calls(cluster) == 0


async def test_a_mutation_without_its_scope_is_refused_whole(secured, cluster):
    order = _orders(cluster, "just_placed")[3]
    status, body, _ = await _cancel(secured, order, key="app")
    assert (status, body["errors"][0]["extensions"]["code"]) == (403, "FORBIDDEN")


async def test_the_source_call_is_never_retried(secured, cluster):
    order = _orders(cluster, "just_placed")[4]
    # Read it first: the order then comes from the cache, and only the cancel call
    # meets the failing OMS.
    by_id = "query($id: ID!) { order(id: $id) { number } }"
    variables = {"id": to_global_id("Order", order.id)}
    await secured.post({"query": by_id, "variables": variables}, key="console")
    cluster.reset_stats()
    cluster.set_faults("oms", FaultSpec(error_rate=1.0, error_status=503))
    try:
        _, body, _ = await _cancel(secured, order)
    finally:
        cluster.set_faults("oms", None)
    assert body["errors"][0]["extensions"]["code"] == "SOURCE_UNAVAILABLE"
    assert _cancel_calls(cluster) == 1


async def test_address_change_applied_or_requested(secured, cluster):
    placed = _orders(cluster, "just_placed")[5]
    working = _orders(cluster, "processing")[0]
    for order, expected in ((placed, "APPLIED"), (working, "REQUESTED")):
        variables = {"input": {"orderId": to_global_id("Order", order.id), "address": NEW_ADDRESS}}
        _, body, _ = await secured.post({"query": ADDRESS, "variables": variables}, key="console")
        payload = body["data"]["orderUpdateShippingAddress"]
        assert payload["userErrors"] == [] and payload["status"] == expected, payload
        assert (payload["requestId"] is not None) == (expected == "REQUESTED")
