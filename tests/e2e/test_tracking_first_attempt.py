"""A delivery attempt recorded at the carrier reaching the graph: the carrier sends its
signed change event to a served gateway (it needs its socket), which shows the first
attempt and keeps it. The carrier feed's normalisation: tests/integration/test_tracking.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.carrier_events import in_time_order
from sources.webhooks import generate_secret
from tests.support.deliveries import in_transit
from tests.support.gateways import (
    RunningGateway,
    changing_sources,
    running_gateway,
    settings_for,
)
from tests.support.timing import HANG_S
from tests.support.waiting import eventually

SECRET = generate_secret()
TRACKING = """query($n: String!) { orderByNumber(number: $n) {
  shipments { tracking { status firstAttemptAt events { occurredAt } } } } }"""


async def _tracking_once(gateway: RunningGateway, number: str, events: int) -> dict[str, Any]:
    """The order's tracking as the graph shows it, once it has ``events`` checkpoints
    (the carrier's change event reaches the gateway asynchronously)."""
    shown: dict[str, Any] = {}

    async def has_them() -> bool:
        body = await gateway.query(TRACKING, {"n": number})
        (shipment,) = body["data"]["orderByNumber"]["shipments"]
        shown.update(shipment["tracking"])
        return len(shipment["tracking"]["events"]) == events

    await eventually(has_them, "the graph follows the carrier", HANG_S)
    return shown


async def test_a_delivery_attempt_at_the_carrier_is_the_graphs_first_attempt(make_dataset) -> None:
    dataset = make_dataset()  # its own: the carrier's data changes
    order, number = in_transit(dataset)
    seen = len(in_time_order(dataset.trackings[number].checkpoints))
    async with changing_sources(dataset, SECRET) as (cluster, _redis, sock):
        settings = settings_for(cluster.urls, webhook_secrets=[SECRET])
        async with running_gateway(settings, sock) as gateway:
            before = await _tracking_once(gateway, order.number, seen)
            assert before["firstAttemptAt"] is None
            url = f"{cluster.urls['carrier']}/admin/trackings/{number}/advance"
            attempts = []
            for _ in range(2):
                async with gateway.session.post(url, json={"status": "DELIVERY_ATTEMPTED"}) as resp:
                    assert resp.status == 200, await resp.text()
                    attempts.append((await resp.json())["checkpoints"][-1]["time"])
                seen += 1
                shown = await _tracking_once(gateway, order.number, seen)
                assert shown["status"] == "DELIVERY_ATTEMPTED"
                first = datetime.fromisoformat(shown["firstAttemptAt"])
                assert first == datetime.fromisoformat(attempts[0])
            assert datetime.fromisoformat(attempts[1]) > first  # the second did not move it
