"""Property tests of OrderProgress and the status built on it, over generated orders
and sequences of shipment and delivery events (hypothesis, derandomized)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from domain.exception_rules import ExceptionCode, detect_exceptions
from domain.progress import OrderProgress
from domain.status import CustomerOrderStatus as C
from domain.status import derive_customer_status
from sources.records import FulfillmentOrderStatus as FO
from sources.records import LineQuantities, Order, ShipmentStatus, Tracking
from tests.support.builders import NOW, fulfillment, line, order, shipment, tracking

DETERMINISTIC = settings(derandomize=True, database=None, deadline=None, max_examples=150)

# How far along a status is; statuses of one band may follow each other either way
# (the least advanced parcel decides the in-flight one), but never an earlier band.
_BAND = {
    C.ORDER_PLACED: 0,
    C.PROCESSING: 0,
    C.ON_HOLD: 0,
    C.BACKORDERED: 0,
    C.PARTIALLY_SHIPPED: 1,
    C.SHIPPED: 2,
    C.OUT_FOR_DELIVERY: 2,
    C.DELIVERY_ATTEMPTED: 2,
    C.READY_FOR_PICKUP: 2,
    C.RETURNING_TO_SENDER: 2,
    C.PARTIALLY_DELIVERED: 3,
    C.DELIVERED: 4,
    C.CANCELLED: 5,
}


@st.composite
def orders(draw: st.DrawFn) -> Order:
    """An order of one to three lines, some units cancelled, nothing shipped yet."""
    count = draw(st.integers(1, 3))
    lines = []
    for i in range(count):
        ordered = draw(st.integers(1, 4))
        lines.append(line(f"l{i}", ordered, cancelled=draw(st.integers(0, ordered))))
    status = draw(st.sampled_from([s for s in FO if s is not FO.CANCELLED]))
    fo = fulfillment(status, lines=tuple(f"l{i}" for i in range(count)))
    return order(lines, [fo])


# ("ship", line index, units) | ("deliver", shipment index) | ("counter", line index)
events = st.lists(
    st.one_of(
        st.tuples(st.just("ship"), st.integers(0, 2), st.integers(1, 3)),
        st.tuples(st.just("deliver"), st.integers(0, 5)),
        st.tuples(st.just("counter"), st.integers(0, 2)),
    ),
    max_size=10,
)


def _apply(
    record: Order, trackings: dict[str, Tracking | None], event: tuple
) -> tuple[Order, dict[str, Tracking | None]]:
    """``record`` and its carrier records after one event. Line counters only ever lag:
    a shipment arrives before its line's counter, which catches up on a "counter"."""
    kind, index = event[0], event[1]
    if kind == "ship":
        if index >= len(record.lines):
            return record, trackings
        target = record.lines[index]
        progress = OrderProgress.of(record).lines[target.id]
        units = min(event[2], progress.unfulfilled)
        if units <= 0:
            return record, trackings
        number = f"1Z{len(record.shipments):016d}"
        parcel = shipment(number, (target.id, units))
        trackings = {**trackings, number: tracking(number, ShipmentStatus.IN_TRANSIT)}
        return replace(record, shipments=[*record.shipments, parcel]), trackings
    if kind == "deliver":
        if index >= len(record.shipments):
            return record, trackings
        number = record.shipments[index].tracking_number or ""
        return record, {**trackings, number: tracking(number, ShipmentStatus.DELIVERED)}
    if index >= len(record.lines):
        return record, trackings
    delivered = {
        s.id
        for s in record.shipments
        if (t := trackings.get(s.tracking_number or "")) and t.status is ShipmentStatus.DELIVERED
    }
    target = record.lines[index]
    carried = sum(p.quantity for s in record.shipments for p in s.lines if p.line_id == target.id)
    by_carrier = sum(
        p.quantity
        for s in record.shipments
        if s.id in delivered
        for p in s.lines
        if p.line_id == target.id
    )
    caught_up = replace(
        target,
        quantities=replace(target.quantities, shipped=carried, delivered=by_carrier),
    )
    lines = [caught_up if ln.id == target.id else ln for ln in record.lines]
    return replace(record, lines=lines), trackings


def _states(record: Order, steps: list[tuple]):
    trackings: dict[str, Tracking | None] = {}
    yield record, trackings
    for event in steps:
        record, trackings = _apply(record, trackings, event)
        yield record, trackings


def _delivered_ids(record: Order, trackings: dict[str, Tracking | None]) -> set[str]:
    return {
        s.id
        for s in record.shipments
        if (t := trackings.get(s.tracking_number or "")) and t.status is ShipmentStatus.DELIVERED
    }


@DETERMINISTIC
@given(orders(), events)
def test_quantities_add_up(record, steps):
    for state, trackings in _states(record, steps):
        progress = OrderProgress.of(state, _delivered_ids(state, trackings))
        for source in state.lines:
            q: LineQuantities = source.quantities
            p = progress.lines[source.id]
            assert q.ordered == p.cancelled + p.unfulfilled + p.shipped
            assert 0 <= p.shipped <= p.active
            assert 0 <= p.delivered <= p.shipped
            assert 0 <= p.cancellable <= p.unfulfilled


@DETERMINISTIC
@given(orders(), events)
def test_status_never_moves_backwards(record, steps):
    bands = [_BAND[derive_customer_status(s, t)] for s, t in _states(record, steps)]
    assert bands == sorted(bands)


@DETERMINISTIC
@given(orders(), events)
def test_a_partly_shipped_order_has_its_exception(record, steps):
    for state, trackings in _states(record, steps):
        status = derive_customer_status(state, trackings)
        found = {e.code for e in detect_exceptions(state, trackings, {}, [], now=NOW)}
        if status is C.PARTIALLY_SHIPPED:
            assert ExceptionCode.PARTIAL_SHIPMENT in found
        elif status is not C.PARTIALLY_DELIVERED:  # may still be partly shipped
            assert ExceptionCode.PARTIAL_SHIPMENT not in found
