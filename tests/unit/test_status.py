"""Table tests of the customer-facing status and its never-backwards rule."""

from __future__ import annotations

import pytest

from domain.status import CustomerOrderStatus as C
from domain.status import (
    derive_customer_status,
    latest_estimate,
    promised_window,
    shipment_milestone,
)
from sources.records import FulfillmentOrderStatus as FO
from sources.records import HoldReason as H
from sources.records import ShipmentStatus as S
from tests.support.builders import NOW, fulfillment, line, order, shipment, tracking

T1, T2 = "1Z0000000000000001", "1Z0000000000000002"
SPLIT = [line("l1"), line("l2")]
BOTH_SHIPPED = [line("l1", shipped=1), line("l2", shipped=1)]
TWO_PARCELS = [shipment(T1, ("l1", 1)), shipment(T2, ("l2", 1))]

# fmt: off
CASES = [
    # (name, order, trackings, expected)
    ("placed, nothing started", order([line()]), {}, C.ORDER_PLACED),
    ("scheduled is still placed", order([line()], [fulfillment(FO.SCHEDULED)]), {}, C.ORDER_PLACED),
    ("warehouse working", order([line()], [fulfillment(FO.IN_PROGRESS)]), {}, C.PROCESSING),
    ("fraud hold shows as processing",
     order([line()], [fulfillment(FO.ON_HOLD, H.HIGH_RISK_OF_FRAUD)]), {}, C.PROCESSING),
    ("payment hold", order([line()], [fulfillment(FO.ON_HOLD, H.AWAITING_PAYMENT)]), {}, C.ON_HOLD),
    ("address hold",
     order([line()], [fulfillment(FO.ON_HOLD, H.INCORRECT_ADDRESS)]), {}, C.ON_HOLD),
    ("fraud plus address hold is on hold",
     order([line()], [fulfillment(FO.ON_HOLD, H.HIGH_RISK_OF_FRAUD, H.INCORRECT_ADDRESS)]), {},
     C.ON_HOLD),
    ("out of stock is backordered",
     order([line()], [fulfillment(FO.ON_HOLD, H.INVENTORY_OUT_OF_STOCK)]), {}, C.BACKORDERED),
    ("backorder wins over another location's work",
     order(SPLIT, [fulfillment(FO.IN_PROGRESS, lines=("l1",)),
                   fulfillment(FO.ON_HOLD, H.INVENTORY_OUT_OF_STOCK, lines=("l2",))]), {},
     C.BACKORDERED),
    ("hold on a cancelled fulfillment is ignored",
     order([line()], [fulfillment(FO.CANCELLED, H.AWAITING_PAYMENT), fulfillment(FO.OPEN)]), {},
     C.ORDER_PLACED),
    ("cancelled order", order([line(cancelled=1)], cancelled=True), {}, C.CANCELLED),
    ("every line cancelled", order([line(ordered=2, cancelled=2)]), {}, C.CANCELLED),
    ("one of two lines shipped",
     order([line("l1", shipped=1), line("l2")], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.IN_TRANSIT)}, C.PARTIALLY_SHIPPED),
    ("shipped, cancelled rest does not count",
     order([line("l1", shipped=1), line("l2", cancelled=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.IN_TRANSIT)}, C.SHIPPED),
    ("label created counts as shipped",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.LABEL_CREATED)}, C.SHIPPED),
    ("no carrier record yet: OMS says shipped",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]), {}, C.SHIPPED),
    ("out for delivery",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.OUT_FOR_DELIVERY)}, C.OUT_FOR_DELIVERY),
    ("delivery attempted",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.DELIVERY_ATTEMPTED)}, C.DELIVERY_ATTEMPTED),
    ("ready for pickup",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.READY_FOR_PICKUP)}, C.READY_FOR_PICKUP),
    ("least advanced parcel decides",
     order(BOTH_SHIPPED, shipments=TWO_PARCELS),
     {T1: tracking(T1, S.OUT_FOR_DELIVERY), T2: tracking(T2, S.IN_TRANSIT)}, C.SHIPPED),
    ("both out for delivery",
     order(BOTH_SHIPPED, shipments=TWO_PARCELS),
     {T1: tracking(T1, S.OUT_FOR_DELIVERY), T2: tracking(T2, S.OUT_FOR_DELIVERY)},
     C.OUT_FOR_DELIVERY),
    ("one parcel delivered by the carrier, OMS lagging",
     order(BOTH_SHIPPED, shipments=TWO_PARCELS),
     {T1: tracking(T1, S.DELIVERED), T2: tracking(T2, S.IN_TRANSIT)}, C.PARTIALLY_DELIVERED),
    ("all delivered per carrier",
     order(BOTH_SHIPPED, shipments=TWO_PARCELS),
     {T1: tracking(T1, S.DELIVERED), T2: tracking(T2, S.DELIVERED)}, C.DELIVERED),
    ("all delivered per OMS, carrier down",
     order([line("l1", shipped=1, delivered=1)], shipments=[shipment(T1, ("l1", 1))]), {},
     C.DELIVERED),
    ("delivered then returned stays delivered",
     order([line("l1", shipped=1, delivered=1, returned=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.DELIVERED)}, C.DELIVERED),
    ("part delivered, rest not shipped",
     order([line("l1", shipped=1, delivered=1), line("l2")], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.DELIVERED)}, C.PARTIALLY_DELIVERED),
    ("returning to sender is an explicit reversal",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.RETURNING_TO_SENDER, ("2026-11-18T10:00:00Z", S.OUT_FOR_DELIVERY))},
     C.RETURNING_TO_SENDER),
    # Reversals stick (domain.status.shipment_milestone): forward events after one,
    # late or on the way back, do not undo it; only a later delivery does.
    ("a late forward event after the return to sender",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.OUT_FOR_DELIVERY,
                   ("2026-11-18T10:00:00Z", S.DELIVERY_ATTEMPTED),
                   ("2026-11-19T16:00:00Z", S.RETURNING_TO_SENDER),
                   ("2026-11-19T08:00:00Z", S.OUT_FOR_DELIVERY))}, C.RETURNING_TO_SENDER),
    ("reversal only in the checkpoints: the way back's in-transit scans",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.IN_TRANSIT,
                   ("2026-11-18T10:00:00Z", S.RETURNING_TO_SENDER),
                   ("2026-11-19T09:00:00Z", S.IN_TRANSIT))}, C.RETURNING_TO_SENDER),
    ("reversal only in the current status",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.RETURNED_TO_SENDER,
                   ("2026-11-18T10:00:00Z", S.IN_TRANSIT))}, C.RETURNING_TO_SENDER),
    ("a late delivered event dated before the reversal does not undo it",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.DELIVERED,
                   ("2026-11-19T16:00:00Z", S.RETURNING_TO_SENDER),
                   ("2026-11-19T11:00:00Z", S.DELIVERED))}, C.RETURNING_TO_SENDER),
    ("return called off: delivered after the reversal",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.DELIVERED,
                   ("2026-11-18T16:00:00Z", S.RETURNING_TO_SENDER),
                   ("2026-11-20", S.DELIVERED))}, C.DELIVERED),
    # A date-only checkpoint spans its day: the carrier's current status decides whether
    # a delivery on the day of a reversal came after it.
    ("a late reversal on the day of a date-only delivery",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.DELIVERED,
                   ("2026-11-18T10:00:00Z", S.IN_TRANSIT),
                   ("2026-11-19T08:00:00Z", S.RETURNING_TO_SENDER),
                   ("2026-11-19", S.DELIVERED))}, C.DELIVERED),
    ("reversal and delivery both date-only, on one day",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.DELIVERED,
                   ("2026-11-17T10:00:00Z", S.IN_TRANSIT),
                   ("2026-11-19", S.RETURNING_TO_SENDER),
                   ("2026-11-19", S.DELIVERED))}, C.DELIVERED),
    ("delivered (date only) the local day after a reversal",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.DELIVERED,
                   ("2026-11-18T20:00:00-08:00", S.RETURNING_TO_SENDER),
                   ("2026-11-19", S.DELIVERED))}, C.DELIVERED),
    ("a same-day delivery does not call the return off while the carrier says otherwise",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.IN_TRANSIT,
                   ("2026-11-19T08:00:00Z", S.RETURNING_TO_SENDER),
                   ("2026-11-19", S.DELIVERED))}, C.RETURNING_TO_SENDER),
    ("a date-only delivery the day after a date-only reversal calls it off",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.EXCEPTION,
                   ("2026-11-18", S.RETURNING_TO_SENDER),
                   ("2026-11-19", S.DELIVERED))}, C.DELIVERED),
    ("a reversal in the current status outranks a delivered checkpoint",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.RETURNING_TO_SENDER,
                   ("2026-11-18T16:00:00Z", S.RETURNING_TO_SENDER),
                   ("2026-11-19T12:00:00Z", S.DELIVERED))}, C.RETURNING_TO_SENDER),
    ("one parcel returning, the other delivered",
     order(BOTH_SHIPPED, shipments=TWO_PARCELS),
     {T1: tracking(T1, S.DELIVERED),
      T2: tracking(T2, S.IN_TRANSIT, ("2026-11-18T10:00:00Z", S.RETURNING_TO_SENDER))},
     C.PARTIALLY_DELIVERED),
    # Never backwards: the milestone reached counts, not the latest event.
    ("late in-transit event after out for delivery",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.IN_TRANSIT,
                   ("2026-11-19T08:00:00Z", S.OUT_FOR_DELIVERY),
                   ("2026-11-19T09:00:00Z", S.IN_TRANSIT))}, C.OUT_FOR_DELIVERY),
    ("out-of-order feed",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.IN_TRANSIT,
                   ("2026-11-19T08:00:00Z", S.READY_FOR_PICKUP),
                   ("2026-11-17T09:00:00Z", S.IN_TRANSIT),
                   ("2026-11-17T09:00:00Z", S.IN_TRANSIT))}, C.READY_FOR_PICKUP),
    ("exception after out for delivery does not regress",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.EXCEPTION, ("2026-11-19T08:00:00Z", S.OUT_FOR_DELIVERY))},
     C.OUT_FOR_DELIVERY),
    ("a delivered checkpoint wins over a stale status",
     order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))]),
     {T1: tracking(T1, S.IN_TRANSIT, ("2026-11-19T08:00:00Z", S.DELIVERED))}, C.DELIVERED),
]
# fmt: on


@pytest.mark.parametrize(
    ("the_order", "trackings", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_customer_status(the_order, trackings, expected):
    assert derive_customer_status(the_order, trackings) is expected


def test_every_status_is_covered_by_the_table():
    assert {case[3] for case in CASES} == set(C)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([S.LABEL_CREATED], S.LABEL_CREATED),
        ([S.LABEL_CREATED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY], S.OUT_FOR_DELIVERY),
        ([S.OUT_FOR_DELIVERY, S.IN_TRANSIT], S.OUT_FOR_DELIVERY),
        ([S.DELIVERY_ATTEMPTED, S.OUT_FOR_DELIVERY], S.DELIVERY_ATTEMPTED),
        ([S.IN_TRANSIT, S.EXCEPTION], S.IN_TRANSIT),
        ([S.NO_INFO], S.NO_INFO),
        ([S.TRACKING_EXPIRED], S.NO_INFO),
        ([S.OUT_FOR_DELIVERY, S.RETURNING_TO_SENDER, S.IN_TRANSIT], S.RETURNING_TO_SENDER),
        ([S.RETURNING_TO_SENDER, S.RETURNED_TO_SENDER, S.IN_TRANSIT], S.RETURNED_TO_SENDER),
        ([S.RETURNED_TO_SENDER, S.RETURNING_TO_SENDER], S.RETURNED_TO_SENDER),
        ([S.RETURNING_TO_SENDER, S.OUT_FOR_DELIVERY, S.DELIVERED], S.DELIVERED),
    ],
)
def test_milestone_is_the_most_advanced_reached(statuses, expected):
    checkpoints = [(f"2026-11-1{i}T08:00:00Z", status) for i, status in enumerate(statuses)]
    assert shipment_milestone(tracking(T1, statuses[-1], *checkpoints)) is expected


def test_milestone_without_tracking_is_no_info():
    assert shipment_milestone(None) is S.NO_INFO


def test_estimate_is_the_latest_among_undelivered_parcels():
    the_order = order(BOTH_SHIPPED, shipments=TWO_PARCELS)
    trackings = {
        T1: tracking(T1, S.IN_TRANSIT, estimate_day=2),
        T2: tracking(T2, S.IN_TRANSIT, estimate_day=4),
    }
    earliest, _ = latest_estimate(the_order, trackings) or (None, None)
    assert earliest is not None and (earliest - NOW).days == 4

    trackings[T2] = tracking(T2, S.DELIVERED, estimate_day=4)
    earliest, _ = latest_estimate(the_order, trackings) or (None, None)
    assert earliest is not None and (earliest - NOW).days == 2
    assert latest_estimate(the_order, {}) is None


def test_promise_is_the_widest_window_of_live_fulfillments():
    the_order = order(
        SPLIT,
        [
            fulfillment(lines=("l1",), promise_days=(2, 4)),
            fulfillment(lines=("l2",), promise_days=(3, 6)),
            fulfillment(FO.CANCELLED, lines=("l3",), promise_days=(1, 9)),
        ],
    )
    window = promised_window(the_order)
    assert window is not None
    assert ((window[0] - NOW).days, (window[1] - NOW).days) == (2, 6)
    assert promised_window(order([line()], [fulfillment(promise_days=None)])) is None
