"""Property tests of OrderProgress and the status built on it, over generated orders
and sequences of shipment and delivery events (hypothesis, derandomized)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from domain.exception_rules import ExceptionCode, detect_exceptions
from domain.progress import OrderProgress
from domain.status import CustomerOrderStatus as C
from domain.status import derive_customer_status, shipment_milestone
from sources.records import Checkpoint, LineQuantities, Order, ShipmentStatus, Tracking
from sources.records import FulfillmentOrderStatus as FO
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


# ("ship", line index, units) | ("deliver" | "return", shipment index, date only)
# | ("counter", line index)
events = st.lists(
    st.one_of(
        st.tuples(st.just("ship"), st.integers(0, 2), st.integers(1, 3)),
        st.tuples(st.sampled_from(["deliver", "return"]), st.integers(0, 2), st.booleans()),
        st.tuples(st.just("counter"), st.integers(0, 2)),
    ),
    max_size=10,
)


def _scanned(
    trackings: dict[str, Tracking | None], number: str, status: ShipmentStatus, time: str
) -> dict[str, Tracking | None]:
    """``trackings`` after the carrier scanned ``number`` at ``time``: its current status
    becomes ``status`` unless the parcel was delivered (a late scan changes nothing)."""
    current = trackings[number]
    assert current is not None
    scan = Checkpoint(time=time, status=status, tag=status.value, message=status.value)
    delivered = current.status is ShipmentStatus.DELIVERED
    scanned = replace(
        current,
        status=current.status if delivered else status,
        checkpoints=[*current.checkpoints, scan],
    )
    return {**trackings, number: scanned}


def _carrier_event(
    trackings: dict[str, Tracking | None], number: str, kind: str, day: str, date_only: bool
) -> dict[str, Tracking | None]:
    """A delivery (at noon) or a return to sender (at 08:00) on ``day``, or only that day
    when ``date_only``. A delivered parcel is not delivered again, and a return scan of
    it is a late one, of its delivery day."""
    current = trackings[number]
    assert current is not None
    delivered_on = next(
        (c.time[:10] for c in current.checkpoints if c.status is ShipmentStatus.DELIVERED), None
    )
    if kind == "deliver":
        if delivered_on is not None:
            return trackings
        time = day if date_only else f"{day}T12:00:00Z"
        return _scanned(trackings, number, ShipmentStatus.DELIVERED, time)
    day = delivered_on or day
    time = day if date_only else f"{day}T08:00:00Z"
    return _scanned(trackings, number, ShipmentStatus.RETURNING_TO_SENDER, time)


def _apply(
    record: Order, trackings: dict[str, Tracking | None], event: tuple, step: int
) -> tuple[Order, dict[str, Tracking | None]]:
    """``record`` and its carrier records after one event, on day ``step``. Line
    counters only ever lag: a shipment arrives before its line's counter, which catches
    up on a "counter"."""
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
    if kind in ("deliver", "return"):
        if index >= len(record.shipments):
            return record, trackings
        number = record.shipments[index].tracking_number or ""
        day = (NOW + timedelta(days=step)).date().isoformat()
        return record, _carrier_event(trackings, number, kind, day, event[2])
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
    for step, event in enumerate(steps):
        record, trackings = _apply(record, trackings, event, step)
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
    """Returns to sender included: one called off by a delivery, or a late scan of a
    parcel's delivery day, never takes the order back from delivered."""
    bands = [_BAND[derive_customer_status(s, t)] for s, t in _states(record, steps)]
    assert bands == sorted(bands)


@DETERMINISTIC
@given(st.lists(st.tuples(st.sampled_from(["deliver", "return"]), st.booleans()), max_size=6))
def test_a_parcel_is_delivered_exactly_when_the_carrier_says_so(feed):
    """A parcel's own feed of deliveries and returns to sender, a day apart (a return
    scan of a delivered parcel comes late, from its delivery day): its milestone is
    DELIVERED once the carrier's status is, and stays so, whatever the scans' times."""
    number = "1Z0000000000000000"
    trackings: dict[str, Tracking | None] = {number: tracking(number, ShipmentStatus.IN_TRANSIT)}
    for step, (kind, date_only) in enumerate(feed):
        day = (NOW + timedelta(days=step)).date().isoformat()
        trackings = _carrier_event(trackings, number, kind, day, date_only)
        current = trackings[number]
        assert current is not None
        delivered = shipment_milestone(current) is ShipmentStatus.DELIVERED
        assert delivered is (current.status is ShipmentStatus.DELIVERED), current.checkpoints


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
