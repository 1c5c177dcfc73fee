"""The seeded data set: deterministic, realistic in size and mix, internally consistent."""

from __future__ import annotations

import copy
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from sim import catalog
from sim.changes import ChangeError
from sim.changes.carrier import AdvanceTracking, advance_tracking
from sim.changes.inventory import SetInventoryLevel, set_inventory_level
from sim.changes.oms import CancelOrder, cancel_order, change_shipping_address, check_address_change
from sim.changes.ticketing import add_comment, create_ticket
from sim.seed import SCENARIOS, Dataset, generate
from sources.records import (
    AddCommentRequest,
    AddressChangeStatus,
    CancelReason,
    CreateTicketRequest,
    DeliveryMethodType,
    FinancialStatus,
    FulfillmentOrderStatus,
    FulfillmentStatus,
    HoldReason,
    Order,
    ReturnStatus,
    ShipmentStatus,
    TicketStatus,
    Tracking,
)
from tests.support.gateways import FIXED_NOW

TRACKING_FORMATS = {
    "ups": re.compile(r"^1Z[0-9A-Z]{16}$"),
    "usps": re.compile(r"^9[234]\d{20}$"),
    "fedex": re.compile(r"^(\d{12}|\d{15})$"),
    "dhl": re.compile(r"^\d{10}$"),
}
DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return generate(seed=7, now=FIXED_NOW)


def orders_of(ds: Dataset, scenario: str) -> list[Order]:
    orders = [ds.orders[oid] for oid in ds.order_ids(scenario)]
    assert orders, scenario
    return orders


def trackings_of(ds: Dataset, order: Order) -> list[Tracking]:
    return [ds.trackings[s.tracking_number] for s in order.shipments if s.tracking_number]


def checkpoint_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- determinism and size ------------------------------------------------------------


def test_same_seed_and_now_give_identical_bytes(ds: Dataset) -> None:
    assert generate(seed=7, now=FIXED_NOW).encode() == ds.encode()


def test_other_seed_or_now_differs(ds: Dataset) -> None:
    assert generate(seed=8, now=FIXED_NOW).encode() != ds.encode()
    later = generate(seed=7, now=FIXED_NOW + timedelta(days=1))
    assert later.encode() != ds.encode()
    first = next(iter(ds.orders.values()))
    assert later.orders[first.id].placed_at == first.placed_at + timedelta(days=1)


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate(now=FIXED_NOW.replace(tzinfo=None))


def test_sizes_customers_and_accounts(ds: Dataset) -> None:
    orders = list(ds.orders.values())
    assert len(orders) >= 1000
    per_customer = Counter(o.customer.id for o in orders)
    assert len(per_customer) >= 300
    assert sum(1 for n in per_customer.values() if n >= 3) >= 100  # customers come back
    accounts_of: dict[str, set[str]] = defaultdict(set)
    for o in orders:
        accounts_of[o.customer.id].add(o.account_id)
    assert all(len(accounts) == 1 for accounts in accounts_of.values())
    accounts = Counter(o.account_id for o in orders)
    assert set(accounts) == {name for name, _ in catalog.ACCOUNTS}
    assert accounts.most_common(1)[0][0] == "acct_webshop"
    assert min(accounts.values()) >= 50


def test_numbers_ids_and_indexes(ds: Dataset) -> None:
    orders = list(ds.orders.values())
    assert [o.number for o in orders] == [str(1001 + i) for i in range(len(orders))]
    assert all(re.fullmatch(r"ord_\d{6}", o.id) for o in orders)
    assert [o.placed_at for o in orders] == sorted(o.placed_at for o in orders)
    assert ds.orders_by_number == {o.number: o for o in orders}
    assert set(ds.scenarios) == set(ds.orders)


def test_catalog_locations_and_currencies(ds: Dataset) -> None:
    skus = {line.sku for o in ds.orders.values() for line in o.lines}
    assert 35 <= len(skus) <= 45
    locations = {fo.location.id for o in ds.orders.values() for fo in o.fulfillment_orders}
    assert locations == set(catalog.LOCATIONS)
    currencies = Counter(o.currency_code for o in ds.orders.values())
    assert currencies["USD"] > currencies["EUR"] > 0
    for o in ds.orders.values():
        for line in o.lines:
            assert re.fullmatch(r"\d+\.\d{2}", line.unit_price.amount)
            assert line.unit_price.currency_code == o.currency_code
        if o.currency_code == "EUR":
            assert {fo.location.id for fo in o.fulfillment_orders} == {catalog.LOC_EU}
    line_counts = Counter(len(o.lines) for o in ds.orders.values())
    assert set(line_counts) == {1, 2, 3, 4, 5}
    quantities = {line.quantities.ordered for o in ds.orders.values() for line in o.lines}
    assert quantities == {1, 2, 3}


# --- consistency ---------------------------------------------------------------------


def test_every_scenario_appears_several_times(ds: Dataset) -> None:
    counts = Counter(ds.scenarios.values())
    assert set(counts) == set(SCENARIOS)
    assert min(counts.values()) >= 5
    assert counts["delivered"] > len(ds.orders) / 3  # most orders are healthy


def test_quantities_match_fulfillment_orders_and_shipments(ds: Dataset) -> None:
    for o in ds.orders.values():
        lines = {line.id: line for line in o.lines}
        fos = {fo.id: fo for fo in o.fulfillment_orders}
        fo_qty: Counter[str] = Counter()
        for fo in o.fulfillment_orders:
            for lq in fo.lines:
                assert lq.line_id in lines, o.number
                assert lq.quantity > 0
                fo_qty[lq.line_id] += lq.quantity
        shipped: Counter[str] = Counter()
        for s in o.shipments:
            fo_lines = {lq.line_id: lq.quantity for lq in fos[s.fulfillment_order_id].lines}
            for lq in s.lines:
                assert lq.line_id in fo_lines, o.number
                shipped[lq.line_id] += lq.quantity
            assert s.shipped_at >= o.placed_at
        for line in o.lines:
            q = line.quantities
            assert q.shipped == shipped[line.id], o.number
            assert 0 <= q.returned <= q.delivered <= q.shipped <= q.ordered - q.cancelled
            expected = q.ordered if o.cancelled_at else q.ordered - q.cancelled
            assert fo_qty[line.id] == expected, o.number


def test_fulfillment_status_follows_quantities(ds: Dataset) -> None:
    for o in ds.orders.values():
        remaining = sum(line.quantities.ordered - line.quantities.cancelled for line in o.lines)
        shipped = sum(line.quantities.shipped for line in o.lines)
        if o.fulfillment_status is FulfillmentStatus.FULFILLED:
            assert shipped == remaining > 0, o.number
        elif o.fulfillment_status is FulfillmentStatus.PARTIALLY_FULFILLED:
            assert 0 < shipped < remaining, o.number
        else:
            assert shipped == 0, o.number
        for fo in o.fulfillment_orders:
            ids = {s.fulfillment_order_id for s in o.shipments}
            if fo.status is FulfillmentOrderStatus.CLOSED:
                assert fo.id in ids
            if fo.status is FulfillmentOrderStatus.ON_HOLD:
                assert fo.holds


def test_times_are_ordered_and_not_in_the_future(ds: Dataset) -> None:
    for o in ds.orders.values():
        assert o.placed_at <= o.updated_at <= FIXED_NOW
        for fo in o.fulfillment_orders:
            assert o.placed_at <= fo.updated_at <= o.updated_at
            for hold in fo.holds:
                assert o.placed_at <= hold.held_at <= fo.updated_at
    for t in ds.trackings.values():
        assert t.updated_at <= FIXED_NOW
        assert all(checkpoint_time(cp.time) <= FIXED_NOW for cp in t.checkpoints)


def test_tracking_numbers_unique_and_well_formed(ds: Dataset) -> None:
    shipments = [s for o in ds.orders.values() for s in o.shipments]
    numbers = [s.tracking_number for s in shipments]
    assert all(numbers) and len(set(numbers)) == len(numbers)
    assert {s.carrier_code for s in shipments} == set(TRACKING_FORMATS)
    for s in shipments:
        assert TRACKING_FORMATS[s.carrier_code].match(s.tracking_number or ""), s
        tracking = ds.trackings.get(s.tracking_number or "")
        if tracking is not None:
            assert tracking.carrier_code == s.carrier_code
            assert tracking.tracking_number == s.tracking_number
    # every tracking belongs to a shipment; only "no record" shipments lack one
    assert set(ds.trackings) <= set(numbers)
    missing = {
        ds.scenarios[o.id]
        for o in ds.orders.values()
        for s in o.shipments
        if s.tracking_number not in ds.trackings
    }
    assert missing == {"no_carrier_record"}


def test_oms_delivered_never_ahead_of_carrier(ds: Dataset) -> None:
    lagging = 0
    for o in ds.orders.values():
        carrier_delivered: Counter[str] = Counter()
        for s in o.shipments:
            t = ds.trackings.get(s.tracking_number or "")
            if t is not None and t.status is ShipmentStatus.DELIVERED:
                for lq in s.lines:
                    carrier_delivered[lq.line_id] += lq.quantity
        for line in o.lines:
            assert line.quantities.delivered <= carrier_delivered[line.id], o.number
            lagging += line.quantities.delivered < carrier_delivered[line.id]
    assert lagging >= 1  # a few fresh deliveries the OMS has not heard of yet


def test_tracking_status_is_latest_checkpoint(ds: Dataset) -> None:
    for t in ds.trackings.values():
        assert t.checkpoints
        latest = max(
            (cp for cp in t.checkpoints if not DATE_ONLY.match(cp.time)),
            key=lambda cp: checkpoint_time(cp.time),
            default=None,
        )
        if latest is not None and latest.status is t.status:
            assert latest.tag == t.tag
        assert t.status in {cp.status for cp in t.checkpoints}
        assert any(cp.message == t.message for cp in t.checkpoints)


# --- scenarios -----------------------------------------------------------------------


def only_tracking(ds: Dataset, order: Order) -> Tracking:
    trackings = trackings_of(ds, order)
    assert len(trackings) == 1, order.number
    return trackings[0]


def test_healthy_orders(ds: Dataset) -> None:
    for o in orders_of(ds, "delivered"):
        assert o.fulfillment_status is FulfillmentStatus.FULFILLED
        assert o.financial_status is FinancialStatus.PAID
        assert all(t.status is ShipmentStatus.DELIVERED for t in trackings_of(ds, o))
    for scenario, status in (
        ("in_transit", ShipmentStatus.IN_TRANSIT),
        ("out_for_delivery", ShipmentStatus.OUT_FOR_DELIVERY),
    ):
        for o in orders_of(ds, scenario):
            assert only_tracking(ds, o).status is status
            assert o.fulfillment_status is FulfillmentStatus.FULFILLED
    signed = [t for t in ds.trackings.values() if t.signed_by]
    assert signed and all(t.status is ShipmentStatus.DELIVERED for t in signed)
    assert any(len(o.shipments) == 2 for o in orders_of(ds, "delivered"))


def test_pickup_orders(ds: Dataset) -> None:
    for o in orders_of(ds, "ready_for_pickup"):
        (fo,) = o.fulfillment_orders
        assert fo.delivery_method.method_type is DeliveryMethodType.PICK_UP
        assert fo.location.id == catalog.LOC_STORE
        assert o.shipping_address is None
        assert only_tracking(ds, o).status is ShipmentStatus.READY_FOR_PICKUP


def test_unshipped_orders(ds: Dataset) -> None:
    for o in orders_of(ds, "just_placed"):
        assert o.fulfillment_status is FulfillmentStatus.UNFULFILLED
        assert [fo.status for fo in o.fulfillment_orders] == [FulfillmentOrderStatus.OPEN]
        assert not o.shipments and FIXED_NOW - o.placed_at < timedelta(hours=12)
    for o in orders_of(ds, "processing"):
        assert o.fulfillment_status is FulfillmentStatus.IN_PROGRESS
        assert not o.shipments


def test_split_and_partial_shipments(ds: Dataset) -> None:
    for o in orders_of(ds, "split_shipment"):
        locations = [fo.location.id for fo in o.fulfillment_orders]
        assert 2 <= len(locations) == len(set(locations)) <= 3
    assert any(len(o.fulfillment_orders) == 3 for o in orders_of(ds, "split_shipment"))
    for o in orders_of(ds, "partial_shipment"):
        assert o.fulfillment_status is FulfillmentStatus.PARTIALLY_FULFILLED
        assert any(line.quantities.shipped < line.quantities.ordered for line in o.lines)
        assert any(line.quantities.shipped > 0 for line in o.lines)


def test_backorders_match_inventory(ds: Dataset) -> None:
    for o in orders_of(ds, "backorder"):
        assert o.fulfillment_status is FulfillmentStatus.ON_HOLD
        (fo,) = o.fulfillment_orders
        assert [h.reason for h in fo.holds] == [HoldReason.INVENTORY_OUT_OF_STOCK]
        backordered = [line.sku for line in o.lines if (line.sku, fo.location.id) in ds.backorders]
        assert backordered, o.number
        assert backordered[0] in (fo.holds[0].note or "")
        for sku in backordered:
            (level,) = [lv for lv in ds.inventory[sku].levels if lv.location_id == fo.location.id]
            assert level.available <= 0 and level.incoming > 0
            assert level.incoming_expected_at and level.incoming_expected_at > FIXED_NOW


@pytest.mark.parametrize(
    ("scenario", "reason", "financial"),
    [
        ("payment_hold", HoldReason.AWAITING_PAYMENT, {FinancialStatus.PENDING}),
        ("fraud_hold", HoldReason.HIGH_RISK_OF_FRAUD, {FinancialStatus.AUTHORIZED}),
        ("address_hold", HoldReason.INCORRECT_ADDRESS, {FinancialStatus.PAID}),
    ],
)
def test_holds(
    ds: Dataset, scenario: str, reason: HoldReason, financial: set[FinancialStatus]
) -> None:
    for o in orders_of(ds, scenario):
        assert o.fulfillment_status is FulfillmentStatus.ON_HOLD
        assert o.financial_status in financial
        assert [h.reason for fo in o.fulfillment_orders for h in fo.holds] == [reason]
        assert not o.shipments


def test_cancellations(ds: Dataset) -> None:
    for o in orders_of(ds, "cancelled"):
        assert o.cancelled_at is not None and isinstance(o.cancel_reason, CancelReason)
        assert all(line.quantities.cancelled == line.quantities.ordered for line in o.lines)
        assert all(fo.status is FulfillmentOrderStatus.CANCELLED for fo in o.fulfillment_orders)
        assert o.financial_status in {FinancialStatus.REFUNDED, FinancialStatus.VOIDED}
        assert not o.shipments
    for o in orders_of(ds, "partially_cancelled"):
        assert o.cancelled_at is None
        cancelled = [line.quantities.cancelled for line in o.lines]
        assert any(cancelled)
        assert sum(cancelled) < sum(line.quantities.ordered for line in o.lines)
        assert o.financial_status is FinancialStatus.PARTIALLY_REFUNDED
    for o in orders_of(ds, "returned"):
        assert any(line.quantities.returned for line in o.lines)
        assert o.financial_status in {FinancialStatus.REFUNDED, FinancialStatus.PARTIALLY_REFUNDED}


def test_return_status_follows_quantities(ds: Dataset) -> None:
    counts = Counter(o.return_status for o in ds.orders.values())
    assert set(counts) == set(ReturnStatus)
    assert counts[ReturnStatus.NO_RETURN] > 0.8 * len(ds.orders)  # most orders: no return
    for o in ds.orders.values():
        returned = any(line.quantities.returned for line in o.lines)
        assert returned == (o.return_status is ReturnStatus.RETURNED), o.number
        if o.return_status is not ReturnStatus.NO_RETURN:  # only what was delivered
            assert any(line.quantities.delivered for line in o.lines), o.number
    for o in orders_of(ds, "returned"):
        assert o.return_status is ReturnStatus.RETURNED


@pytest.mark.parametrize(
    ("scenario", "statuses", "subtags"),
    [
        ("customs_delay", {ShipmentStatus.EXCEPTION}, {"Exception_004"}),
        ("address_issue", {ShipmentStatus.EXCEPTION}, {"Exception_007"}),
        ("lost", {ShipmentStatus.EXCEPTION}, {"Exception_013"}),
        (
            "return_to_sender",
            {ShipmentStatus.RETURNING_TO_SENDER, ShipmentStatus.RETURNED_TO_SENDER},
            {"Exception_010", "Exception_011"},
        ),
        ("label_not_scanned", {ShipmentStatus.LABEL_CREATED}, {"InfoReceived_001"}),
        ("weather_delay", {ShipmentStatus.IN_TRANSIT}, {"InTransit_001"}),
        ("failed_attempt_delivered", {ShipmentStatus.DELIVERED}, None),
        (
            "uncollected_pickup",
            {ShipmentStatus.READY_FOR_PICKUP, ShipmentStatus.RETURNING_TO_SENDER},
            {"AvailableForPickup_001", "Exception_010"},
        ),
        ("stalled_in_transit", {ShipmentStatus.IN_TRANSIT}, None),
    ],
)
def test_carrier_trouble(
    ds: Dataset, scenario: str, statuses: set[ShipmentStatus], subtags: set[str] | None
) -> None:
    seen = set()
    for o in orders_of(ds, scenario):
        t = only_tracking(ds, o)
        assert t.status in statuses, (o.number, t.status)
        if subtags is not None:
            assert t.subtag in subtags, (o.number, t.subtag)
        seen.add(t.status)
        assert o.fulfillment_status is FulfillmentStatus.FULFILLED
    assert seen == statuses  # every variant occurs


def test_carrier_trouble_details(ds: Dataset) -> None:
    for o in orders_of(ds, "customs_delay"):
        assert o.shipping_address and o.shipping_address.country_code != "US"
    for o in orders_of(ds, "weather_delay"):
        t = only_tracking(ds, o)
        assert "WEATHER" in (t.message or "")
        if t.first_estimated_delivery and t.latest_estimated_delivery:
            assert t.latest_estimated_delivery.earliest > t.first_estimated_delivery.earliest
    for scenario in ("failed_attempt_delivered", "return_to_sender"):
        for o in orders_of(ds, scenario):
            t = only_tracking(ds, o)
            assert ShipmentStatus.DELIVERY_ATTEMPTED in {cp.status for cp in t.checkpoints}
            assert t.first_attempted_at is not None
    for o in orders_of(ds, "label_not_scanned"):
        t = only_tracking(ds, o)
        assert len(t.checkpoints) == 1
        assert FIXED_NOW - checkpoint_time(t.checkpoints[0].time) > timedelta(days=2)
    for o in orders_of(ds, "stalled_in_transit"):
        t = only_tracking(ds, o)
        last = max(checkpoint_time(cp.time) for cp in t.checkpoints)
        assert FIXED_NOW - last > timedelta(days=6)
    for o in orders_of(ds, "uncollected_pickup"):
        t = only_tracking(ds, o)
        ready = [
            checkpoint_time(cp.time)
            for cp in t.checkpoints
            if cp.subtag == "AvailableForPickup_001"
        ]
        assert ready and FIXED_NOW - min(ready) > timedelta(days=7)
    for o in orders_of(ds, "no_carrier_record"):
        assert all(s.tracking_number not in ds.trackings for s in o.shipments)


def test_messy_feeds(ds: Dataset) -> None:
    trackings = list(ds.trackings.values())
    duplicated = [t for t in trackings if len({*map(repr, t.checkpoints)}) < len(t.checkpoints)]
    date_only = [t for t in trackings if any(DATE_ONLY.match(cp.time) for cp in t.checkpoints)]

    def out_of_order(t: Tracking) -> bool:
        times = [checkpoint_time(cp.time) for cp in t.checkpoints if not DATE_ONLY.match(cp.time)]
        return times != sorted(times) and times != sorted(times, reverse=True)

    shuffled = [t for t in trackings if out_of_order(t)]
    moved = [
        t
        for t in trackings
        if t.first_estimated_delivery
        and t.latest_estimated_delivery
        and t.first_estimated_delivery != t.latest_estimated_delivery
    ]
    for group in (duplicated, date_only, shuffled, moved):
        assert len(group) >= 30
    assert len(duplicated) < len(trackings) / 2  # messy, not chaotic
    offsets = {cp.time[19:] for t in trackings for cp in t.checkpoints if len(cp.time) > 10}
    assert {"-05:00", "-08:00", "+01:00"} <= offsets


def test_inventory(ds: Dataset) -> None:
    assert set(ds.inventory) == {sku for sku, _, _ in catalog.SKUS}
    for sku, item in ds.inventory.items():
        assert item.sku == sku
        assert [lv.location_id for lv in item.levels] == list(catalog.LOCATIONS)
        for lv in item.levels:
            assert lv.on_hand >= lv.available + lv.committed + lv.reserved
            assert lv.committed >= 0 and lv.reserved >= 0 and lv.on_hand >= 0
            assert (lv.incoming > 0) == (lv.incoming_expected_at is not None)
            assert FIXED_NOW - timedelta(hours=1) <= lv.as_of <= FIXED_NOW
    for (sku, loc), restock in ds.backorders.items():
        (level,) = [lv for lv in ds.inventory[sku].levels if lv.location_id == loc]
        assert level.available <= 0 and level.incoming_expected_at == restock
    assert any(lv.incoming for item in ds.inventory.values() for lv in item.levels[:3])


def test_inventory_history(ds: Dataset) -> None:
    """Oversold levels say since when; every expected date of incoming stock says when
    it was set, the last being the current one; backordered dates have moved."""
    moved = 0
    for item in ds.inventory.values():
        for lv in item.levels:
            assert (lv.oversold_since is not None) == (lv.available < 0)
            assert lv.oversold_since is None or lv.oversold_since < lv.as_of
            history = lv.restock_history
            assert bool(history) == (lv.incoming > 0)
            if history:
                assert history[-1].expected_at == lv.incoming_expected_at
                times = [e.set_at for e in history]
                assert times == sorted(set(times)) and times[-1] < lv.as_of
                assert lv.oversold_since is None or lv.oversold_since < times[0]
                moved += len(history) > 1
    assert 0 < moved <= len(ds.backorders)
    for o in orders_of(ds, "backorder"):
        (fo,) = o.fulfillment_orders
        for line in o.lines:
            (lv,) = [lv for lv in ds.inventory[line.sku].levels if lv.location_id == fo.location.id]
            if lv.oversold_since is not None:
                assert lv.oversold_since < o.placed_at  # oversold before it was held


def test_tickets(ds: Dataset) -> None:
    assert len(ds.tickets) < len(ds.orders) * 0.4  # most orders have none
    tickets = [t for ts in ds.tickets.values() for t in ts]
    assert len({t.id for t in tickets}) == len(tickets)
    assert {t.status for t in tickets} == set(TicketStatus)
    assert max(len(ts) for ts in ds.tickets.values()) >= 3
    for order_id, ts in ds.tickets.items():
        order = ds.orders[order_id]
        for t in ts:
            assert t.order_id == order_id
            assert f"#{order.number}" in t.subject
            assert t.url == f"https://support.example.com/tickets/{t.id}"
            assert order.placed_at <= t.created_at <= t.updated_at <= FIXED_NOW
    troubled = ("lost", "return_to_sender", "stalled_in_transit", "customs_delay")
    with_tickets = [oid for s in troubled for oid in ds.order_ids(s) if oid in ds.tickets]
    healthy = ds.order_ids("delivered")
    assert len(with_tickets) / sum(len(ds.order_ids(s)) for s in troubled) > 0.6
    assert sum(oid in ds.tickets for oid in healthy) / len(healthy) < 0.1


# --- copies ---------------------------------------------------------------------------


def _taken_as_a_request(order: Order) -> bool:
    """Whether a new address for ``order`` goes to the warehouse that has the work."""
    try:
        return check_address_change(order) is AddressChangeStatus.REQUESTED
    except ChangeError:
        return False


def test_a_copy_changes_apart_from_its_original() -> None:
    """Each kind of change the sources make, made to a copy, leaves the original as it
    was (the test fixtures hand out copies of one generated data set)."""
    original = generate(seed=7, now=FIXED_NOW, orders=60, customers=20)
    before = copy.deepcopy(original)
    changed = original.copy()
    unshipped = next(o for o in changed.orders.values() if not o.shipments and not o.cancelled_at)
    cancel_order(changed, unshipped.id, CancelOrder(reason=CancelReason.CUSTOMER), FIXED_NOW)
    working = next(o for o in changed.orders.values() if _taken_as_a_request(o))
    change_shipping_address(changed, working.id, unshipped.shipping_address, FIXED_NOW)
    ticket = next(
        t for ts in changed.tickets.values() for t in ts if t.status is not TicketStatus.CLOSED
    )
    add_comment(changed, ticket.id, AddCommentRequest(body="Any news?", author="Ann"), FIXED_NOW)
    create_ticket(
        changed,
        "",
        CreateTicketRequest(order_id=unshipped.id, subject="Hi", body="Hello"),
        FIXED_NOW,
    )
    moving = next(t for t in changed.trackings.values() if t.status is ShipmentStatus.IN_TRANSIT)
    advance_tracking(changed, moving.tracking_number, AdvanceTracking(), FIXED_NOW)
    item = next(iter(changed.inventory.values()))
    level = item.levels[0]
    set_inventory_level(
        changed,
        item.sku,
        SetInventoryLevel(location_id=level.location_id, available=level.available + 5),
        FIXED_NOW,
    )
    assert len(changed.address_requests) == 1 and changed != before
    assert original == before
