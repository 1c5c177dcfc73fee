"""Table tests of the order timeline, its visibility and the moved estimate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from unittest.mock import ANY

import msgspec
import pytest

from domain.exception_rules import ExceptionCode, detect_exceptions
from domain.timeline import EventKind as K
from domain.timeline import (
    EventSource,
    TimelineEvent,
    build_timeline,
    previous_estimate,
    visible_to,
)
from domain.timeline import Visibility as V
from sim.seed import Dataset
from sources.records import (
    CancelReason,
    Checkpoint,
    CheckpointLocation,
    FinancialStatus,
    FulfillmentHold,
    InventoryItem,
    InventoryLevel,
    Order,
    RestockExpectation,
    TicketComment,
    Tracking,
)
from sources.records import FulfillmentOrderStatus as FO
from sources.records import HoldReason as H
from sources.records import ShipmentStatus as S
from sources.records import TicketStatus as TS
from tests.support.builders import NOW, fulfillment, line, order, shipment, tracking
from tests.support.timeline_builders import checkpoint, ticket, window

T1, T2 = "1Z0000000000000001", "1Z0000000000000002"
PLACED_AT = NOW - timedelta(days=2)
EARLIER = NOW - timedelta(hours=1)


def _with(base: Order, **changes: object) -> Order:
    return msgspec.structs.replace(base, **changes)


def _kinds(events: list[TimelineEvent]) -> str:
    """The events as "KIND" words, "KIND!" when INTERNAL, oldest first."""
    return " ".join(e.kind.value + ("!" if e.visibility is V.INTERNAL else "") for e in events)


PLAIN = order([line()])
SHIPPED = order([line(shipped=1)], shipments=[shipment(T1, ("l1", 1))])


def _paid(status: FinancialStatus) -> Order:
    return _with(PLAIN, financial_status=status)


# fmt: off
CASES = [
    # (name, order, trackings, tickets, expected kinds in time order, "!" marks INTERNAL)
    ("placed and paid at checkout", PLAIN, {}, None, "PLACED PAID"),
    ("partially refunded was paid", _paid(FinancialStatus.PARTIALLY_REFUNDED), {}, None,
     "PLACED PAID"),
    ("refunded was paid", _paid(FinancialStatus.REFUNDED), {}, None, "PLACED PAID"),
    ("authorized is not paid", _paid(FinancialStatus.AUTHORIZED), {}, None, "PLACED"),
    ("partially paid is not paid", _paid(FinancialStatus.PARTIALLY_PAID), {}, None, "PLACED"),
    ("pending is not paid", _paid(FinancialStatus.PENDING), {}, None, "PLACED"),
    ("voided is not paid", _paid(FinancialStatus.VOIDED), {}, None, "PLACED"),
    ("paid after a payment hold: time unknown, no event",
     order([line()], [fulfillment(FO.OPEN, H.AWAITING_PAYMENT)]), {}, None, "PLACED HELD"),
    ("fraud hold is internal",
     _with(order([line()], [fulfillment(FO.ON_HOLD, H.HIGH_RISK_OF_FRAUD)]),
           financial_status=FinancialStatus.AUTHORIZED), {}, None, "PLACED HELD!"),
    ("out-of-stock hold is shown",
     order([line()], [fulfillment(FO.ON_HOLD, H.INVENTORY_OUT_OF_STOCK)]), {}, None,
     "PLACED PAID HELD"),
    ("held on two fulfillment orders",
     order([line("l1"), line("l2")], [fulfillment(FO.ON_HOLD, H.INCORRECT_ADDRESS, lines=("l1",)),
                                      fulfillment(FO.ON_HOLD, H.OTHER, lines=("l2",))]), {}, None,
     "PLACED PAID HELD HELD"),
    ("shipped, no carrier record", SHIPPED, {}, None, "PLACED PAID SHIPPED"),
    ("carrier answered None", SHIPPED, {T1: None}, None, "PLACED PAID SHIPPED"),
    ("carrier milestones",
     SHIPPED, {T1: tracking(T1, S.DELIVERED, ("2026-11-20T18:00:00Z", S.DELIVERED),
                            ("2026-11-20T13:00:00Z", S.IN_TRANSIT),
                            ("2026-11-20T15:00:00Z", S.DELIVERY_ATTEMPTED))}, None,
     "PLACED PAID SHIPPED TRACKING DELIVERY_ATTEMPTED DELIVERED"),
    ("returning to sender is a carrier milestone, not a return",
     SHIPPED,
     {T1: tracking(T1, S.RETURNED_TO_SENDER, ("2026-11-21T09:00:00Z", S.RETURNED_TO_SENDER))},
     None, "PLACED PAID SHIPPED TRACKING"),
    ("tickets are internal: opened, answered, solved, closed", PLAIN, {},
     [ticket("1", TS.NEW, EARLIER), ticket("2", TS.PENDING, EARLIER, NOW),
      ticket("3", TS.SOLVED, EARLIER, NOW), ticket("4", TS.CLOSED, EARLIER, NOW)],
     "PLACED PAID TICKET_OPENED! TICKET_OPENED! TICKET_OPENED! TICKET_OPENED! "
     "TICKET_ANSWERED! TICKET_SOLVED! TICKET_SOLVED!"),
    ("open and on-hold tickets are only opened", PLAIN, {},
     [ticket("1", TS.OPEN, EARLIER, NOW), ticket("2", TS.ON_HOLD, EARLIER, NOW)],
     "PLACED PAID TICKET_OPENED! TICKET_OPENED!"),
    ("no tickets", PLAIN, {}, [], "PLACED PAID"),
    ("cancelled", _with(order([line(cancelled=1)], [fulfillment(FO.CANCELLED)], cancelled=True),
                        financial_status=FinancialStatus.VOIDED), {}, None, "PLACED CANCELLED"),
    ("returned lines, one event each",
     order([line("l1", shipped=1, delivered=1, returned=1), line("l2", shipped=1, delivered=1),
            line("l3", ordered=2, shipped=2, delivered=2, returned=2)]), {}, None,
     "PLACED PAID RETURNED RETURNED"),
]
# fmt: on


@pytest.mark.parametrize(
    ("name", "record", "trackings", "tickets", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_event_kinds_and_visibility(name, record, trackings, tickets, expected):
    assert _kinds(build_timeline(record, trackings, tickets)) == expected


def _by_key(events: list[TimelineEvent]) -> dict[str, TimelineEvent]:
    return {e.key: e for e in events}


def test_oms_events_dates_subjects_and_messages():
    record = _with(
        order(
            [line("l1", returned=1), line("l2")],
            [
                fulfillment(FO.ON_HOLD, H.AWAITING_PAYMENT, lines=("l1",)),
                fulfillment(FO.ON_HOLD, H.HIGH_RISK_OF_FRAUD, lines=("l2",)),
            ],
            shipments=[shipment(T1, ("l1", 1)), shipment(None, ("l2", 1), shipment_id="sh-2")],
            cancelled=True,
        ),
        cancel_reason=CancelReason.FRAUD,
        updated_at=NOW + timedelta(days=1),
    )
    events = _by_key(build_timeline(record, {}, None))
    summary = {key: (e.at, e.source, e.kind, e.subject_id) for key, e in events.items()}
    payment_hold = f"oms:hold:fo-l1:AWAITING_PAYMENT:{NOW.isoformat()}"
    fraud_hold = f"oms:hold:fo-l2:HIGH_RISK_OF_FRAUD:{NOW.isoformat()}"
    assert summary == {
        "oms:placed": (PLACED_AT, EventSource.OMS, K.PLACED, None),
        payment_hold: (NOW, EventSource.OMS, K.HELD, "fo-l1"),
        fraud_hold: (NOW, EventSource.OMS, K.HELD, "fo-l2"),
        f"oms:shipment:sh-{T1}": (NOW, EventSource.OMS, K.SHIPPED, f"sh-{T1}"),
        "oms:shipment:sh-2": (NOW, EventSource.OMS, K.SHIPPED, "sh-2"),
        "oms:cancelled": (NOW, EventSource.OMS, K.CANCELLED, None),
        "oms:returned:l1": (NOW + timedelta(days=1), EventSource.OMS, K.RETURNED, "l1"),
    }
    assert events["oms:placed"].message == "Order #1001 placed"
    assert events[payment_hold].message == "We are waiting for your payment"
    # the internal message may name the fraud review; the customer one never does
    assert "fraud" in events[fraud_hold].message
    assert "fraud" not in events["oms:cancelled"].message.lower()
    assert events["oms:cancelled"].message == "Order cancelled: we could not verify the payment"
    assert T1 in events[f"oms:shipment:sh-{T1}"].message
    assert events["oms:shipment:sh-2"].message == "Your package is on its way"
    assert "Item l1" in events["oms:returned:l1"].message


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        (CancelReason.CUSTOMER, "Order cancelled at your request"),
        (CancelReason.DECLINED, "Order cancelled: the payment was declined"),
        (CancelReason.INVENTORY, "Order cancelled: the items are out of stock"),
        (CancelReason.STAFF, "Order cancelled by our team"),
        (CancelReason.OTHER, "Order cancelled"),
        (None, "Order cancelled"),
    ],
)
def test_cancel_messages(reason, message):
    record = _with(order([line(cancelled=1)], cancelled=True), cancel_reason=reason)
    (cancelled,) = [e for e in build_timeline(record, {}, None) if e.kind is K.CANCELLED]
    assert cancelled.message == message


def test_ticket_events_date_subject_and_key():
    opened_at, solved_at = EARLIER, NOW
    events = build_timeline(PLAIN, {}, [ticket("52007", TS.SOLVED, opened_at, solved_at)])
    tickets = [e for e in events if e.source is EventSource.TICKETING]
    assert [(e.at, e.kind, e.key, e.subject_id) for e in tickets] == [
        (opened_at, K.TICKET_OPENED, "ticket:52007:opened", "52007"),
        (solved_at, K.TICKET_SOLVED, "ticket:52007:status", "52007"),
    ]
    assert all("#52007" in e.message for e in tickets)


def test_comments_after_the_description_are_internal_events():
    def comment(comment_id: str, at: datetime, public: bool = True) -> TicketComment:
        return TicketComment(id=comment_id, author="Ann", body="b", public=public, created_at=at)

    later = NOW + timedelta(hours=1)
    comments = [comment("1", EARLIER), comment("2", NOW), comment("3", later, public=False)]
    record = msgspec.structs.replace(ticket("52007", TS.OPEN, EARLIER, later), comments=comments)
    events = [e for e in build_timeline(PLAIN, {}, [record]) if e.source is EventSource.TICKETING]
    assert [(e.at, e.kind, e.key, e.message) for e in events] == [
        (EARLIER, K.TICKET_OPENED, "ticket:52007:opened", ANY),
        (NOW, K.TICKET_COMMENTED, "ticket:52007:comment:2", "Ticket #52007 comment by Ann"),
        (later, K.TICKET_COMMENTED, "ticket:52007:comment:3",
         "Ticket #52007 internal note by Ann"),
    ]  # fmt: skip
    assert {e.visibility for e in events} == {V.INTERNAL}


# --- keys: each names its fact, never its place in a list or a state that moves --------


def _held(*holds: FulfillmentHold) -> list[tuple[datetime, str, str]]:
    """(at, message, key) of the HELD events of an order with ``holds``."""
    fo = msgspec.structs.replace(fulfillment(FO.ON_HOLD), holds=list(holds))
    events = build_timeline(order([line()], [fo]), {}, None)
    return [(e.at, e.message, e.key) for e in events if e.kind is K.HELD]


def test_a_hold_keeps_its_key_when_an_earlier_one_is_released():
    address = FulfillmentHold(reason=H.INCORRECT_ADDRESS, held_at=EARLIER)
    other = FulfillmentHold(reason=H.OTHER, held_at=NOW)
    both = _held(address, other)
    assert len(both) == 2
    assert _held(other) == both[1:]
    assert _held(other, address) == both  # nor on the order the OMS lists them in


def test_a_hold_listed_twice_is_told_once():
    hold = FulfillmentHold(reason=H.OTHER, held_at=NOW)
    assert _held(hold, hold) == _held(hold)


def test_a_ticket_s_last_status_change_keeps_its_key_as_it_moves():
    def last_change(status: TS, updated_at: datetime) -> tuple[K, str]:
        record = ticket("52007", status, EARLIER - timedelta(hours=1), updated_at)
        *_, event = build_timeline(PLAIN, {}, [record])
        return event.kind, event.key

    told = [last_change(TS.PENDING, EARLIER), last_change(TS.PENDING, NOW)]
    told += [last_change(TS.SOLVED, NOW), last_change(TS.CLOSED, NOW)]
    assert [kind for kind, _ in told] == [K.TICKET_ANSWERED] * 2 + [K.TICKET_SOLVED] * 2
    assert {key for _, key in told} == {"ticket:52007:status"}


# A messy carrier feed: newest first, one duplicate, one date-only time, one garbage time.
MESSY_FEED = [
    checkpoint("2026-11-21T16:00:00-05:00", S.DELIVERED, "DELIVERED"),
    checkpoint("2026-11-21T08:00:00-05:00", S.OUT_FOR_DELIVERY, "OUT FOR DELIVERY"),
    checkpoint("2026-11-20T22:00:00Z", S.IN_TRANSIT, "ARRIVAL SCAN"),
    checkpoint("2026-11-21T08:00:00-05:00", S.OUT_FOR_DELIVERY, "OUT FOR DELIVERY"),
    checkpoint("2026-11-20", S.LABEL_CREATED, "LABEL CREATED"),
    checkpoint("soon", S.IN_TRANSIT, "BROKEN"),
]


def _carrier(events: list[TimelineEvent]) -> list[TimelineEvent]:
    return [e for e in events if e.source is EventSource.CARRIER]


def _feed(*checkpoints: Checkpoint) -> dict[str, Tracking | None]:
    return {T1: msgspec.structs.replace(tracking(T1, S.DELIVERED), checkpoints=list(checkpoints))}


def test_carrier_checkpoints_sorted_deduplicated_and_date_only_kept():
    events = build_timeline(SHIPPED, _feed(*MESSY_FEED), None)
    carrier = _carrier(events)
    assert [(e.at, e.date_only, e.kind, e.message) for e in carrier] == [
        (datetime(2026, 11, 20, tzinfo=UTC), True, K.TRACKING, "LABEL CREATED"),
        (datetime(2026, 11, 20, 22, tzinfo=UTC), False, K.TRACKING, "ARRIVAL SCAN"),
        (datetime(2026, 11, 21, 13, tzinfo=UTC), False, K.TRACKING, "OUT FOR DELIVERY"),
        (datetime(2026, 11, 21, 21, tzinfo=UTC), False, K.DELIVERED, "DELIVERED"),
    ]
    assert {e.subject_id for e in carrier} == {f"sh-{T1}"}
    assert all(e.key.startswith(f"carrier:{T1}:") for e in carrier)
    assert len({e.key for e in events}) == len(events)
    # the date-only label scan (midnight) sorts before the shipment (noon) of that day
    assert [e.kind for e in events][:4] == [K.PLACED, K.PAID, K.TRACKING, K.SHIPPED]


def test_the_same_scan_at_two_hubs_on_one_day_is_two_events():
    """Only a checkpoint the same in every field is a duplicate: a date-only arrival
    scan at two hubs on one day, in the carrier's same words, is two scans."""
    at_reno, at_sparks = (
        msgspec.structs.replace(
            checkpoint("2026-11-20", message="ARRIVED AT FACILITY"),
            location=CheckpointLocation(city=city, region="NV", country_code="US"),
        )
        for city in ("Reno", "Sparks")
    )
    carrier = _carrier(build_timeline(SHIPPED, _feed(at_reno, at_sparks, at_reno), None))
    assert sorted(e.message for e in carrier) == [  # one instant: ordered by key
        "ARRIVED AT FACILITY (Reno, NV)",
        "ARRIVED AT FACILITY (Sparks, NV)",
    ]
    assert len({e.key for e in carrier}) == 2


def test_carrier_message_names_the_place():
    scan = msgspec.structs.replace(
        checkpoint("2026-11-20T22:00:00Z", message="ARRIVAL SCAN"),
        location=CheckpointLocation(city="Reno", region="NV", country_code="US"),
    )
    abroad = msgspec.structs.replace(
        checkpoint("2026-11-21T22:00:00Z", message="DEPARTED"),
        location=CheckpointLocation(city="Leipzig", country_code="DE"),
    )
    nowhere = msgspec.structs.replace(
        checkpoint("2026-11-22T22:00:00Z", message="IN TRANSIT"),
        location=CheckpointLocation(country_code="DE"),
    )
    carrier = _carrier(build_timeline(SHIPPED, _feed(scan, abroad, nowhere), None))
    assert [e.message for e in carrier] == [
        "ARRIVAL SCAN (Reno, NV)",
        "DEPARTED (Leipzig, DE)",
        "IN TRANSIT",
    ]


def test_carrier_keys_survive_a_late_earlier_checkpoint():
    before = _carrier(build_timeline(SHIPPED, _feed(*MESSY_FEED), None))
    late = checkpoint("2026-11-20T12:00:00Z", S.IN_TRANSIT, "ORIGIN SCAN")
    after = _carrier(build_timeline(SHIPPED, _feed(*MESSY_FEED, late), None))
    assert {e.key for e in before} < {e.key for e in after}


def test_same_time_same_status_different_messages_get_distinct_keys():
    feed = _feed(
        checkpoint("2026-11-20T22:00:00Z", message="ARRIVAL SCAN"),
        checkpoint("2026-11-20T22:00:00Z", message="DEPARTURE SCAN"),
    )
    keys = [e.key for e in _carrier(build_timeline(SHIPPED, feed, None))]
    assert len(set(keys)) == 2


def test_shared_tracking_number_is_told_once():
    record = order(
        [line("l1", shipped=1), line("l2", shipped=1)],
        shipments=[
            shipment(T1, ("l1", 1), shipment_id="sh-a"),
            shipment(T1, ("l2", 1), shipment_id="sh-b"),
        ],
    )
    carrier = _carrier(build_timeline(record, _feed(*MESSY_FEED), None))
    assert len(carrier) == 4
    assert {e.subject_id for e in carrier} == {"sh-a"}


def test_only_the_order_s_own_trackings_count():
    other = {T2: tracking(T2, S.IN_TRANSIT, ("2026-11-20T22:00:00Z", S.IN_TRANSIT))}
    assert _carrier(build_timeline(SHIPPED, other, None)) == []


def test_ties_break_by_source_then_kind_then_key():
    record = order(
        [line(shipped=1)],
        [fulfillment(FO.CLOSED, H.OTHER)],
        shipments=[shipment(T1, ("l1", 1))],
    )
    noon = NOW.isoformat()
    feed = _feed(checkpoint(noon, S.DELIVERED, "DELIVERED"), checkpoint(noon, S.IN_TRANSIT, "SCAN"))
    tickets = [ticket("2", created_at=NOW), ticket("1", created_at=NOW)]
    at_noon = [e for e in build_timeline(record, feed, tickets) if e.at == NOW]
    assert [(e.source, e.kind, e.subject_id) for e in at_noon] == [
        (EventSource.OMS, K.HELD, "fo-l1"),
        (EventSource.OMS, K.SHIPPED, f"sh-{T1}"),
        (EventSource.CARRIER, K.TRACKING, f"sh-{T1}"),
        (EventSource.CARRIER, K.DELIVERED, f"sh-{T1}"),
        (EventSource.TICKETING, K.TICKET_OPENED, "1"),
        (EventSource.TICKETING, K.TICKET_OPENED, "2"),
    ]


def test_derived_entries_are_utc_and_carrier_scans_keep_their_offset():
    pacific = timezone(timedelta(hours=-8))
    record = _with(SHIPPED, placed_at=PLACED_AT.astimezone(pacific))
    scan = "2026-11-20T04:00:00-08:00"
    tickets = [ticket("1", TS.SOLVED, EARLIER.astimezone(pacific), NOW.astimezone(pacific))]
    events = build_timeline(record, _feed(checkpoint(scan)), tickets)
    carrier = _carrier(events)
    assert [e.at.isoformat() for e in carrier] == [scan]
    derived = [e for e in events if e.source is not EventSource.CARRIER]
    assert {e.kind for e in derived} >= {K.PLACED, K.PAID, K.TICKET_OPENED, K.TICKET_SOLVED}
    assert all(e.at.utcoffset() == timedelta(0) for e in derived), derived
    assert [e.at for e in derived if e.kind is K.PLACED] == [PLACED_AT]


def test_visible_to():
    events = build_timeline(
        order([line()], [fulfillment(FO.ON_HOLD, H.HIGH_RISK_OF_FRAUD)]), {}, [ticket()]
    )
    assert visible_to(events, internal=True) == events
    public = visible_to(events, internal=False)
    assert [e.kind for e in public] == [K.PLACED, K.PAID]
    assert all(e.visibility is V.CUSTOMER for e in public)


# --- inventory: backordered lines and restock dates ------------------------------------


def _stock(
    available: int,
    oversold_since: datetime | None,
    *history: tuple[int, datetime],
    location: str = "loc-reno",
) -> dict[str, InventoryItem | None]:
    """SKU-l1's level at ``location``; ``history`` is (restock day after NOW, set at)."""
    expectations = [
        RestockExpectation(expected_at=NOW + timedelta(days=day), set_at=set_at)
        for day, set_at in history
    ]
    level = InventoryLevel(
        location_id=location,
        available=available,
        committed=3,
        reserved=0,
        on_hand=max(available + 3, 0),
        incoming=20 if expectations else 0,
        incoming_expected_at=expectations[-1].expected_at if expectations else None,
        as_of=NOW,
        oversold_since=oversold_since,
        restock_history=expectations,
    )
    return {"SKU-l1": InventoryItem(sku="SKU-l1", levels=[level])}


WAITING = order([line()], [fulfillment(FO.ON_HOLD, H.INVENTORY_OUT_OF_STOCK)])
AGO = {n: NOW - timedelta(hours=n) for n in (1, 12, 24, 120)}  # PLACED_AT is 48 h ago
# 20 Nov is NOW's day: day 5 is 25 Nov, 7 is 27 Nov, 9 is 29 Nov
ONE_DATE = _stock(-1, AGO[120], (5, AGO[120]))
MOVED_TWICE = _stock(-2, AGO[24], (5, AGO[120]), (7, AGO[12]), (9, AGO[1]))

# fmt: off
INVENTORY_CASES = [
    # (name, order, stock, expected (kind, at, message) of the INVENTORY events)
    ("oversold before placement: backordered from placement, date in force then",
     WAITING, ONE_DATE,
     [(K.BACKORDERED, PLACED_AT, "Item l1 is out of stock: we will send it when it is back"),
      (K.RESTOCK_EXPECTED, PLACED_AT, "Item l1 should be back in stock around 25 Nov")]),
    ("oversold after placement, the date moved twice since",
     WAITING, MOVED_TWICE,
     [(K.BACKORDERED, AGO[24], "Item l1 is out of stock: we will send it when it is back"),
      (K.RESTOCK_EXPECTED, AGO[24], "Item l1 should be back in stock around 25 Nov"),
      (K.RESTOCK_EXPECTED, AGO[12], "Item l1: the restock moved from 25 Nov to 27 Nov"),
      (K.RESTOCK_EXPECTED, AGO[1], "Item l1: the restock moved from 27 Nov to 29 Nov")]),
    ("a move before the wait began is not told as a move",
     WAITING, _stock(-1, AGO[1], (5, AGO[120]), (7, AGO[12])),
     [(K.BACKORDERED, AGO[1], "Item l1 is out of stock: we will send it when it is back"),
      (K.RESTOCK_EXPECTED, AGO[1], "Item l1 should be back in stock around 27 Nov")]),
    ("the source does not say since when: restock dates only, from placement",
     WAITING, _stock(-1, None, (5, AGO[120]), (7, AGO[12])),
     [(K.RESTOCK_EXPECTED, PLACED_AT, "Item l1 should be back in stock around 25 Nov"),
      (K.RESTOCK_EXPECTED, AGO[12], "Item l1: the restock moved from 25 Nov to 27 Nov")]),
    ("oversold, nothing incoming", WAITING, _stock(-1, AGO[24]),
     [(K.BACKORDERED, AGO[24], "Item l1 is out of stock: we will send it when it is back")]),
    ("sold out but not oversold: every committed unit is on hand",
     WAITING, _stock(0, None, (5, AGO[120])), []),
    ("stock at another location", WAITING, _stock(-1, AGO[24], (5, AGO[24]), location="x"), []),
    ("the line has shipped",
     order([line(shipped=1)], [fulfillment(FO.IN_PROGRESS)], [shipment(T1, ("l1", 1))]),
     MOVED_TWICE, []),
    ("the fulfillment order is cancelled",
     order([line(cancelled=1)], [fulfillment(FO.CANCELLED)]), MOVED_TWICE, []),
    ("inventory could not be read", WAITING, {}, []),
    ("inventory has no such item", WAITING, {"SKU-l1": None}, []),
]
# fmt: on


@pytest.mark.parametrize(
    ("name", "record", "stock", "expected"), INVENTORY_CASES, ids=[c[0] for c in INVENTORY_CASES]
)
def test_inventory_events(name, record, stock, expected):
    events = build_timeline(record, {}, None, stock)
    inventory = [e for e in events if e.source is EventSource.INVENTORY]
    assert [(e.kind, e.at, e.message) for e in inventory] == expected
    assert all(e.visibility is V.CUSTOMER and e.subject_id == "l1" for e in inventory)
    assert all(e.at.utcoffset() == timedelta(0) for e in inventory)
    assert len({e.key for e in events}) == len(events)


def test_a_restock_date_reads_the_same_day_in_the_timeline_and_the_exception():
    """The day the source wrote, in both: 23:00 at UTC-5 on 4 Dec is 5 Dec in UTC, and
    the timeline used to say so while the BACKORDERED message said 4 Dec."""
    late_evening = datetime(2026, 12, 4, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
    expectation = RestockExpectation(expected_at=late_evening, set_at=AGO[120])
    item = _stock(-1, AGO[24])["SKU-l1"]
    assert item is not None
    level = msgspec.structs.replace(
        item.levels[0], incoming_expected_at=late_evening, restock_history=[expectation]
    )
    stock: dict[str, InventoryItem | None] = {"SKU-l1": InventoryItem(sku="SKU-l1", levels=[level])}
    told = [e.message for e in build_timeline(WAITING, {}, None, stock)]
    assert "Item l1 should be back in stock around 4 Dec" in told
    (backordered,) = [
        e
        for e in detect_exceptions(WAITING, {}, stock, None, now=NOW)
        if e.code is ExceptionCode.BACKORDERED
    ]
    assert "back in stock around 4 Dec" in (backordered.customer_message or "")


def test_inventory_events_need_stock():
    assert build_timeline(WAITING, {}, None) == build_timeline(WAITING, {}, None, {})
    with_stock = build_timeline(WAITING, {}, None, MOVED_TWICE)
    assert _kinds(with_stock) == (
        "PLACED PAID BACKORDERED RESTOCK_EXPECTED RESTOCK_EXPECTED RESTOCK_EXPECTED HELD"
    )


# --- previous_estimate -----------------------------------------------------------------


def _estimated(number: str, status: S, first: int | None, latest: int | None):
    return msgspec.structs.replace(
        tracking(number, status),
        first_estimated_delivery=None if first is None else window(first),
        latest_estimated_delivery=None if latest is None else window(latest),
    )


TWO_SHIPPED = order(
    [line("l1", shipped=1), line("l2", shipped=1)],
    shipments=[shipment(T1, ("l1", 1)), shipment(T2, ("l2", 1))],
)


def _as_tuple(day: int) -> tuple[datetime, datetime]:
    moved = window(day)
    return moved.earliest, moved.latest


# fmt: off
ESTIMATE_CASES = [
    # (name, order, trackings, expected first window day or None)
    ("moved a day later", SHIPPED, {T1: _estimated(T1, S.IN_TRANSIT, 2, 3)}, 2),
    ("moved earlier", SHIPPED, {T1: _estimated(T1, S.IN_TRANSIT, 3, 2)}, 3),
    ("never moved", SHIPPED, {T1: _estimated(T1, S.IN_TRANSIT, 2, 2)}, None),
    ("no first estimate", SHIPPED, {T1: _estimated(T1, S.IN_TRANSIT, None, 2)}, None),
    ("no estimate at all", SHIPPED, {T1: _estimated(T1, S.IN_TRANSIT, None, None)}, None),
    ("no carrier record", SHIPPED, {}, None),
    ("delivered shipment ignored", SHIPPED, {T1: _estimated(T1, S.DELIVERED, 1, 3)}, None),
    ("delivered moved, undelivered did not", TWO_SHIPPED,
     {T1: _estimated(T1, S.DELIVERED, 1, 6), T2: _estimated(T2, S.IN_TRANSIT, 3, 3)}, None),
    ("the shipment with the latest estimate decides", TWO_SHIPPED,
     {T1: _estimated(T1, S.IN_TRANSIT, 1, 3), T2: _estimated(T2, S.OUT_FOR_DELIVERY, 4, 5)}, 4),
    ("the latest estimate did not move", TWO_SHIPPED,
     {T1: _estimated(T1, S.IN_TRANSIT, 1, 3), T2: _estimated(T2, S.IN_TRANSIT, 5, 5)}, None),
]
# fmt: on


@pytest.mark.parametrize(
    ("name", "record", "trackings", "expected"), ESTIMATE_CASES, ids=[c[0] for c in ESTIMATE_CASES]
)
def test_previous_estimate(name, record, trackings, expected):
    assert previous_estimate(record, trackings) == (
        None if expected is None else _as_tuple(expected)
    )


# --- the seeded data set ---------------------------------------------------------------


def test_seeded_timelines_hold_their_invariants(dataset: Dataset):
    kinds: set[K] = set()
    for record in dataset.orders.values():
        events = build_timeline(
            record, dataset.trackings, dataset.tickets.get(record.id), dataset.inventory
        )
        assert events, record.id
        times = [e.at for e in events]
        assert times == sorted(times), record.number
        assert len({e.key for e in events}) == len(events), record.number
        public = visible_to(events, internal=False)
        assert all(e.visibility is V.CUSTOMER for e in public), record.number
        assert all(e.message for e in events), record.number
        kinds.update(e.kind for e in events)
    # every kind the records can date shows up somewhere in the seeded world (comments
    # come only from tickets opened later)
    undated = {K.RELEASED, K.EDITED, K.ADDRESS_CHANGED}
    assert kinds == set(K) - undated - {K.TICKET_COMMENTED}


def test_seeded_timelines_date_derived_entries_in_utc(dataset: Dataset):
    offsets = set()
    for record in dataset.orders.values():
        events = build_timeline(record, dataset.trackings, dataset.tickets.get(record.id))
        scans = {
            datetime.fromisoformat(c.time).isoformat()
            for s in record.shipments
            if (t := dataset.trackings.get(s.tracking_number or ""))
            for c in t.checkpoints
            if len(c.time) > 10
        }
        for e in events:
            if e.source is EventSource.CARRIER:
                assert e.date_only or e.at.isoformat() in scans, (record.number, e)
                offsets.add(e.at.utcoffset())
            else:
                assert e.at.utcoffset() == timedelta(0), (record.number, e)
    assert len(offsets) > 1  # carrier scans keep their various local offsets
