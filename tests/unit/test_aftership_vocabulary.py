"""AfterShip's words onto ours (sources/adapters/aftership/vocabulary.py): every row of
the tag table, the awkward payloads AfterShip documents, and the round trip the
simulated AfterShip API relies on over a whole seeded data set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from domain.carrier_events import ShipmentSubStatus as SubStatus
from domain.carrier_events import sub_status
from sources.adapters.aftership import wire
from sources.adapters.aftership.vocabulary import (
    aftership_from_tracking,
    alpha2,
    alpha3,
    status_of,
    tracking_from_aftership,
)
from sources.records import DeliveryWindow, ShipmentStatus

S = ShipmentStatus


@pytest.mark.parametrize(
    ("tag", "subtag", "status"),
    [
        ("Pending", "Pending_001", S.NO_INFO),
        ("InfoReceived", "InfoReceived_001", S.LABEL_CREATED),
        ("InTransit", "InTransit_002", S.IN_TRANSIT),
        ("InTransit", "InTransit_009", S.IN_TRANSIT),  # forwarded: still on its way
        ("OutForDelivery", "OutForDelivery_001", S.OUT_FOR_DELIVERY),
        ("AvailableForPickup", "AvailableForPickup_001", S.READY_FOR_PICKUP),
        ("AttemptFail", "AttemptFail_001", S.DELIVERY_ATTEMPTED),  # no reason given
        ("AttemptFail", "AttemptFail_002", S.DELIVERY_ATTEMPTED),  # addressee not available
        ("AttemptFail", "AttemptFail_003", S.DELIVERY_ATTEMPTED),  # business closed
        ("AttemptFail", None, S.DELIVERY_ATTEMPTED),
        ("Delivered", "Delivered_003", S.DELIVERED),
        ("Exception", "Exception_004", S.EXCEPTION),
        ("Exception", None, S.EXCEPTION),  # an exception with no subtag
        ("Exception", "Exception_010", S.RETURNING_TO_SENDER),
        ("Exception", "Exception_011", S.RETURNED_TO_SENDER),
        ("Expired", "Expired_001", S.TRACKING_EXPIRED),
        ("SomethingNew", None, S.NO_INFO),  # a tag AfterShip may add later
    ],
)
def test_tags_and_subtags_become_our_statuses(tag, subtag, status):
    assert status_of(tag, subtag) is status


def test_countries_go_between_alpha_3_and_alpha_2():
    assert (alpha2("DEU"), alpha2("usa"), alpha2("XXX"), alpha2(None)) == ("DE", "US", None, None)
    assert (alpha3("NL"), alpha3("gb"), alpha3("ZZ"), alpha3(None)) == ("NLD", "GBR", None, None)


def decode(text: str) -> wire.Tracking:
    return msgspec.json.decode(text, type=wire.Tracking)


# A tracking as AfterShip documents it, with the awkward parts of real feeds: newest
# checkpoint first, one given as a date only, a time without an offset, an exception
# with no subtag, free-text location only, and fields the gateway does not read.
AWKWARD = """{
  "id": "5b7658cec7c33c0e007de3c5", "tracking_number": "1Z9999W99999999999",
  "slug": "ups", "active": true, "tag": "Exception", "subtag": null,
  "subtag_message": "Exception", "title": "#1001", "transit_time": 3,
  "checkpoints": [
    {"checkpoint_time": "2026-11-19T09:12:00-05:00", "tag": "Exception", "subtag": null,
     "message": "CLEARANCE DELAY", "city": "NEW YORK", "state": "NY", "zip": "10001",
     "country_iso3": "USA", "raw_tag": "X1"},
    {"checkpoint_time": "2026-11-17", "tag": "InfoReceived", "subtag": "InfoReceived_001",
     "message": "LABEL CREATED", "location": "Louisville KY"},
    {"checkpoint_time": "2026-11-18T04:30:00", "tag": "InTransit", "subtag": "InTransit_002",
     "message": "PICKUP SCAN", "city": "LOUISVILLE", "country_iso3": "XYZ"}
  ],
  "first_estimated_delivery": {"type": "specific", "source": "Carrier EDD",
                               "datetime": "2026-11-21"},
  "latest_estimated_delivery": {"type": "range", "source": "AfterShip EDD",
                                "datetime_min": "2026-11-22T09:00:00-05:00",
                                "datetime_max": "2026-11-23T20:00:00-05:00"},
  "order_promised_delivery_date": "2026-11-22",
  "first_attempted_at": "2026-11-20T10:00:00",
  "signed_by": null, "updated_at": "2026-11-19T14:20:01Z"
}"""


def test_an_awkward_tracking_reads_as_documented():
    tracking = tracking_from_aftership(decode(AWKWARD))
    assert (tracking.status, tracking.tag, tracking.subtag) == (S.EXCEPTION, "Exception", None)
    assert tracking.carrier_code == "ups"
    assert tracking.message == "CLEARANCE DELAY"
    # checkpoints stay as sent: order, times and all
    assert [c.time for c in tracking.checkpoints] == [
        "2026-11-19T09:12:00-05:00",
        "2026-11-17",
        "2026-11-18T04:30:00",
    ]
    assert [c.status for c in tracking.checkpoints] == [S.EXCEPTION, S.LABEL_CREATED, S.IN_TRANSIT]
    newest, labelled, picked = (c.location for c in tracking.checkpoints)
    assert newest is not None and (newest.city, newest.region, newest.country_code) == (
        "NEW YORK",
        "NY",
        "US",
    )
    assert labelled is not None and labelled.city == "Louisville KY"  # free text only
    assert picked is not None and picked.country_code is None  # an unknown country
    assert tracking.first_estimated_delivery == DeliveryWindow(
        earliest=datetime(2026, 11, 21, tzinfo=UTC),
        latest=datetime(2026, 11, 21, 23, 59, 59, tzinfo=UTC),
    )
    minus5 = timezone(timedelta(hours=-5))
    assert tracking.latest_estimated_delivery == DeliveryWindow(
        earliest=datetime(2026, 11, 22, 9, tzinfo=minus5),
        latest=datetime(2026, 11, 23, 20, tzinfo=minus5),
    )
    assert tracking.promised_delivery_date == datetime(2026, 11, 22, 23, 59, 59, tzinfo=UTC)
    assert tracking.first_attempted_at == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert tracking.updated_at == datetime(2026, 11, 19, 14, 20, 1, tzinfo=UTC)


def test_the_message_is_the_latest_checkpoint_that_set_the_status():
    """Checkpoints out of order: the message comes from the latest one with the
    tracking's own tag and subtag, whatever its place in the list."""
    text = """{"tracking_number": "A1", "slug": "dhl", "tag": "InTransit",
      "subtag": "InTransit_007", "updated_at": "2026-11-19T00:00:00Z", "checkpoints": [
        {"checkpoint_time": "2026-11-18T10:00:00+01:00", "tag": "InTransit",
         "subtag": "InTransit_007", "message": "DEPARTED AMSTERDAM"},
        {"checkpoint_time": "2026-11-18T20:00:00+01:00", "tag": "InTransit",
         "subtag": "InTransit_007", "message": "DEPARTED COLOGNE"},
        {"checkpoint_time": "2026-11-18T12:00:00+01:00", "tag": "InTransit",
         "subtag": "InTransit_003", "message": "ARRIVED COLOGNE"}]}"""
    assert tracking_from_aftership(decode(text)).message == "DEPARTED COLOGNE"


@pytest.mark.parametrize(
    ("checkpoints", "message"),
    [
        ("[]", None),  # no checkpoint: no message
        # none set the tracking's tag: the latest one of all
        (
            '[{"checkpoint_time": "2026-11-18", "tag": "InTransit", "message": "B"},'
            ' {"checkpoint_time": "2026-11-17T23:00:00Z", "tag": "InTransit", "message": "A"}]',
            "B",
        ),
    ],
)
def test_a_tracking_without_its_own_checkpoint(checkpoints, message):
    text = f"""{{"tracking_number": "A1", "slug": "dhl", "tag": "Pending",
      "updated_at": "2026-11-19T00:00:00Z", "checkpoints": {checkpoints}}}"""
    assert tracking_from_aftership(decode(text)).message == message


def test_a_time_that_is_no_time_makes_the_tracking_unreadable():
    text = """{"tracking_number": "A1", "slug": "dhl", "tag": "Pending",
      "updated_at": "yesterday", "checkpoints": []}"""
    with pytest.raises(ValueError):
        tracking_from_aftership(decode(text))


def test_every_seeded_tracking_round_trips(dataset):
    """What the simulated AfterShip API serves reads back as the native record, field
    for field, for every tracking of the data set (messy feeds included)."""
    encoder = msgspec.json.Encoder()
    differing = []
    for tracking in dataset.trackings.values():
        served = encoder.encode(aftership_from_tracking(tracking, estimate_source="Carrier EDD"))
        if tracking_from_aftership(decode(served.decode())) != tracking:
            differing.append(tracking.tracking_number)
    assert len(dataset.trackings) > 1000
    assert differing == []


@pytest.mark.parametrize(
    ("subtag", "named"),
    [
        # AfterShip's delivery sub-statuses (docs: tracking/enum/delivery-sub-statuses)
        ("AttemptFail_001", None),  # "Failed Attempt": no reason given
        ("AttemptFail_002", SubStatus.ADDRESSEE_NOT_AVAILABLE),  # "Addressee not available"
        ("AttemptFail_003", SubStatus.BUSINESS_CLOSED),  # "Business Closed"
        ("AvailableForPickup_001", None),  # AfterShip has no other pickup subtag
        ("Exception_008", SubStatus.NOT_COLLECTED),  # "Pick up missed"
        ("Exception_099", SubStatus.OTHER),  # an exception the table does not name
    ],
)
def test_subtags_name_aftership_s_reasons(subtag: str, named: SubStatus | None) -> None:
    assert sub_status(subtag) is named
