"""Carrier feed normalisation: times, duplicates, order, sub-statuses. (A delivery
attempt recorded at the carrier reaching the graph: tests/e2e/test_tracking_first_attempt.py.)"""

from __future__ import annotations

from datetime import UTC, datetime

from domain.carrier_events import ShipmentSubStatus, in_time_order, sub_status
from sources.records import Checkpoint, ShipmentStatus, carrier_time


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
