"""A tracking number the OMS and the carrier spell in different letter case names one
parcel: a change event naming it the carrier's way drops the tracking cached under the
OMS's spelling, in Redis and in process, so the graph shows the change at once (with
the number as the OMS holds it), and the exception queue evaluates the order. (Live
subscribers, the event sent by AfterShip: tests/e2e/test_tracking_number_case.py.)"""

from __future__ import annotations

from typing import Any

from resolvers.relay import to_global_id
from services.exception_queue.index import ExceptionIndex
from sim.cluster import start_cluster
from sources.events import ChangeEvent, EventType
from sources.webhooks import generate_secret
from tests.support.deliveries import deliver, held_in_lower_case
from tests.support.gateways import (
    FIXED_NOW,
    MakeDataset,
    RunningGateway,
    gateway_at,
    in_process_gateway,
    settings_for,
)
from tests.support.redis_server import RedisServer
from tests.support.waiting import eventually

SECRET = generate_secret()
SWEEP_S = 30.0  # how long the start-up sweep may take before the test fails
SHIPMENTS = """query($n: String!) { orderByNumber(number: $n) {
  shipments { trackingNumber tracking { status } } } }"""
QUEUED = """query($after: String) { exceptionQueue(first: 100, after: $after) {
  nodes { orderId codes } pageInfo { hasNextPage endCursor } } }"""


async def _shipments(gateway: RunningGateway, number: str) -> list[dict[str, Any]]:
    body = await gateway.query(SHIPMENTS, {"n": number})
    return body["data"]["orderByNumber"]["shipments"]  # type: ignore[no-any-return]


async def _codes(gateway: RunningGateway, order_id: str) -> set[str]:
    """The order's exception codes in the queue (none when it is not listed)."""
    wanted, after = to_global_id("Order", order_id), None
    while True:
        page = (await gateway.query(QUEUED, {"after": after}))["data"]["exceptionQueue"]
        for node in page["nodes"]:
            if node["orderId"] == wanted:
                return set(node["codes"])
        if not page["pageInfo"]["hasNextPage"]:
            return set()
        after = page["pageInfo"]["endCursor"]


async def test_an_event_naming_the_number_in_another_case_refreshes_graph_and_queue(
    make_dataset: MakeDataset,
) -> None:
    dataset = make_dataset(orders=60)  # its own: its OMS and carrier data change
    order, number = held_in_lower_case(dataset)
    held = order.shipments[0].tracking_number
    redis = RedisServer()
    await redis.start()
    try:
        async with await start_cluster(dataset) as cluster:
            settings = settings_for(
                cluster.urls, cache_url=redis.url, webhook_secrets=[SECRET], exception_queue=True
            )
            components = gateway_at(settings)
            async with in_process_gateway(settings, components) as gateway:
                index = components.exception_index
                assert isinstance(index, ExceptionIndex)
                await eventually(
                    lambda: index.sweeper.completed > 0, "the start-up sweep", timeout_s=SWEEP_S
                )
                # now cached, and mapped to the order by the sweep
                assert await _shipments(gateway, order.number) == [
                    {"trackingNumber": held, "tracking": {"status": "IN_TRANSIT"}}
                ]
                assert "DELIVERY_ATTEMPTED" not in await _codes(gateway, order.id)

                url = f"{cluster.urls['carrier']}/admin/trackings/{held}/advance"
                async with gateway.session.post(url, json={"status": "DELIVERY_ATTEMPTED"}) as resp:
                    assert resp.status == 200, await resp.text()
                event = ChangeEvent(
                    type=EventType.TRACKING_UPDATED, occurred_at=FIXED_NOW, tracking_number=number
                )
                status, answer = await deliver(gateway, "carrier", event, SECRET)
                assert (status, answer["status"]) == (200, "applied")

                assert await _shipments(gateway, order.number) == [
                    {"trackingNumber": held, "tracking": {"status": "DELIVERY_ATTEMPTED"}}
                ]
                await eventually(
                    lambda: _attempted(gateway, order.id), "the queue evaluates the order"
                )
    finally:
        await redis.stop()


async def _attempted(gateway: RunningGateway, order_id: str) -> bool:
    return "DELIVERY_ATTEMPTED" in await _codes(gateway, order_id)
