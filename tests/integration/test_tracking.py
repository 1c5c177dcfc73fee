"""Carrier feed normalisation: times, duplicates, order, sub-statuses; and a delivery
attempt recorded at the carrier reaching the graph."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from domain.carrier_events import ShipmentSubStatus, in_time_order, sub_status
from sources.records import Checkpoint, ShipmentStatus, carrier_time
from sources.webhooks import generate_secret
from tests.support.deliveries import in_transit
from tests.support.gateways import (
    RunningGateway,
    changing_sources,
    running_gateway,
    settings_for,
)
from tests.support.timing import HANG_S

SECRET = generate_secret()
TRACKING = """query($n: String!) { orderByNumber(number: $n) {
  shipments { tracking { status firstAttemptAt events { occurredAt } } } } }"""


def _cp(time: str, status: ShipmentStatus = ShipmentStatus.IN_TRANSIT, msg: str = "SCAN"):
    return Checkpoint(time=time, status=status, tag="InTransit", message=msg)


def test_times_with_offset_date_only_and_naive():
    moment, date_only = carrier_time("2026-11-19T08:30:00-05:00")
    assert moment == datetime(2026, 11, 19, 13, 30, tzinfo=UTC) and not date_only
    assert carrier_time("2026-11-19") == (datetime(2026, 11, 19, tzinfo=UTC), True)
    assert carrier_time("2026-11-19T08:30:00")[0].tzinfo is not None


def test_timeline_sorts_dedupes_and_drops_garbage():
    feed = [
        _cp("2026-11-19T10:00:00Z", msg="ARRIVED"),
        _cp("2026-11-18T10:00:00Z", msg="DEPARTED"),
        _cp("2026-11-19T10:00:00Z", msg="ARRIVED"),  # duplicate
        _cp("2026-11-19T10:00:00Z", msg="OUT FOR DELIVERY"),  # same time, other event
        _cp("2026-11-17", msg="PICKED UP"),
        _cp("yesterday-ish", msg="BROKEN"),
    ]
    events = in_time_order(feed)
    assert [e.checkpoint.message for e in events] == [
        "PICKED UP",
        "DEPARTED",
        "ARRIVED",
        "OUT FOR DELIVERY",
    ]
    assert [e.date_only for e in events] == [True, False, False, False]


def test_sub_status_names_known_subtags():
    assert sub_status(None) is None
    assert sub_status("Exception_004") is ShipmentSubStatus.CUSTOMS_DELAY
    assert sub_status("Exception_013") is ShipmentSubStatus.LOST
    assert sub_status("Exception_005", "DELAY DUE TO SEVERE WEATHER") is (
        ShipmentSubStatus.WEATHER_DELAY
    )
    assert sub_status("InTransit_001", "WEATHER DELAY: SEVERE STORMS") is (
        ShipmentSubStatus.WEATHER_DELAY
    )
    assert sub_status("Exception_999") is ShipmentSubStatus.OTHER
    assert sub_status("Delivered_001", "DELIVERED") is None
    assert sub_status("InTransit_003") is None


async def _tracking_once(gateway: RunningGateway, number: str, events: int) -> dict[str, Any]:
    """The order's tracking as the graph shows it, once it has ``events`` checkpoints
    (the carrier's change event reaches the gateway asynchronously)."""
    started = time.monotonic()
    while True:
        body = await gateway.query(TRACKING, {"n": number})
        (shipment,) = body["data"]["orderByNumber"]["shipments"]
        if len(shipment["tracking"]["events"]) == events:
            return shipment["tracking"]  # type: ignore[no-any-return]
        assert time.monotonic() - started < HANG_S, "the graph did not follow the carrier"
        await asyncio.sleep(0.02)


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
