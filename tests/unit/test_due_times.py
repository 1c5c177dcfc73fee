"""``next_change_at``: the instant an order's exceptions next change by time alone,
which the exception queue's due index waits for instead of re-reading every order."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

import pytest
from msgspec.structs import replace

from domain.exception_rules import (
    ExceptionCode,
    OrderException,
    detect_exceptions,
    next_change_at,
)
from sim.seed import Dataset
from sources.records import (
    FulfillmentOrderStatus,
    Order,
    ShipmentStatus,
    Ticket,
    TicketStatus,
    Tracking,
)
from tests.support.builders import fulfillment, line, order
from tests.support.exception_builders import (
    NOW,
    T1,
    at,
    carrier,
    cp,
    parcel,
    shipped_order,
    ticket,
    unshipped_order,
)
from tests.support.gateways import MakeDataset

TICK = timedelta(microseconds=1)


def codes_at(
    order: Order,
    trackings: Mapping[str, Tracking | None],
    tickets: list[Ticket],
    when: datetime,
) -> list[ExceptionCode]:
    return [e.code for e in detect_exceptions(order, trackings, {}, tickets, now=when)]


def test_a_cancelled_order_never_changes_by_time() -> None:
    cancelled = order([line()], cancelled=True)
    assert next_change_at(cancelled, {}, {}, [], now=NOW) is None


def test_a_delivered_order_without_a_ticket_awaiting_reply_has_no_due_time() -> None:
    delivered = shipped_order(delivered=1, shipped_at=at(-3))
    trackings = {T1: carrier(cp(at(-3)), cp(at(-1), ShipmentStatus.DELIVERED))}
    assert next_change_at(delivered, trackings, {}, [], now=NOW) is None
    # A ticket waiting for our reply still turns into UNANSWERED_TICKET at its SLA.
    waiting = [ticket(TicketStatus.OPEN, updated_at=at(hours=-2))]
    assert next_change_at(delivered, trackings, {}, waiting, now=NOW) == at(hours=22)
    assert next_change_at(delivered, trackings, {}, [ticket(TicketStatus.PENDING)], now=NOW) is None


def test_an_unshipped_order_is_due_when_the_warehouse_misses_ship_by() -> None:
    placed = unshipped_order()  # placed at NOW-2d: ship-by (48 h) is NOW
    due = next_change_at(placed, {}, {}, [], now=NOW - TICK)
    assert due == NOW
    assert ExceptionCode.WAREHOUSE_DELAY not in codes_at(placed, {}, [], NOW - TICK)
    assert ExceptionCode.WAREHOUSE_DELAY in codes_at(placed, {}, [], due)
    # Then the promise's end (NOW+5d): LATE begins just after it.
    assert next_change_at(placed, {}, {}, [], now=NOW) == at(5) + TICK


def test_late_begins_strictly_after_the_promise() -> None:
    moving = shipped_order(shipped_at=at(4))
    trackings = {T1: carrier(cp(at(4, hours=12)))}
    due = next_change_at(moving, trackings, {}, [], now=at(4, hours=13))
    assert due == at(5) + TICK
    assert ExceptionCode.LATE not in codes_at(moving, trackings, [], at(5))
    assert ExceptionCode.LATE in codes_at(moving, trackings, [], due)


def test_predicted_late_gives_way_to_late_once_the_promise_has_passed() -> None:
    """An estimate the day after the promised one at the destination (Los Angeles: the
    promise, 25 Nov 12:00 UTC, is 04:00 there)."""
    moving = shipped_order(shipped_at=at(-1))
    latest = datetime(2026, 11, 26, 8, tzinfo=timezone(timedelta(hours=-8)))
    trackings = {T1: carrier(cp(at(-1)), estimate_latest=latest)}
    assert ExceptionCode.PREDICTED_LATE in codes_at(moving, trackings, [], at(4))
    due = next_change_at(moving, trackings, {}, [], now=at(4))
    assert due == at(5) + TICK
    assert ExceptionCode.PREDICTED_LATE in codes_at(moving, trackings, [], due - TICK)
    after = codes_at(moving, trackings, [], due)
    assert ExceptionCode.LATE in after and ExceptionCode.PREDICTED_LATE not in after


def test_an_order_at_the_door_and_the_pickup_point_is_not_due_at_its_promise() -> None:
    """Both parcels have arrived, one delivered, one waiting to be collected: only the
    pickup clock runs (ready at NOW: 5 days), no LATE at the promise's end."""
    t2 = "1Z0000000000000002"
    both = order(
        [line("l1", shipped=1), line("l2", shipped=1)],
        [replace(fulfillment(lines=("l1", "l2")), status=FulfillmentOrderStatus.CLOSED)],
        [
            parcel(("l1", 1), fo="fo-l1-l2"),
            replace(parcel(("l2", 1), fo="fo-l1-l2"), id=f"sh-{t2}", tracking_number=t2),
        ],
    )
    trackings = {
        T1: carrier(cp(at(-1)), cp(NOW, ShipmentStatus.DELIVERED)),
        t2: replace(
            carrier(cp(at(-1)), cp(NOW, ShipmentStatus.READY_FOR_PICKUP)), tracking_number=t2
        ),
    }
    assert next_change_at(both, trackings, {}, [], now=at(1)) == at(5)  # collection due
    assert next_change_at(both, trackings, {}, [], now=at(5)) is None
    assert ExceptionCode.LATE not in codes_at(both, trackings, [], at(30))


def test_a_silent_parcel_is_due_when_it_stalls() -> None:
    moving = shipped_order(shipped_at=at(-1))
    trackings = {T1: carrier(cp(at(-1)))}  # Thursday: 3 business days is Tuesday
    due = next_change_at(moving, trackings, {}, [], now=NOW)
    assert due == at(4)  # Tuesday noon
    assert ExceptionCode.STALLED_IN_TRANSIT in codes_at(moving, trackings, [], due)
    assert ExceptionCode.STALLED_IN_TRANSIT not in codes_at(moving, trackings, [], due - TICK)


def test_a_date_only_scan_starts_the_stall_clock_at_its_days_end() -> None:
    """Also beside an earlier timed scan of that day, which it sorts before."""
    moving = shipped_order(shipped_at=at(-2))
    thursday = at(-1).date().isoformat()
    date_only = {T1: carrier(cp(thursday))}
    both = {T1: carrier(cp(at(-1, hours=-3)), cp(thursday))}  # Thursday 09:00, and that day
    due = next_change_at(moving, date_only, {}, [], now=NOW)
    assert due == at(4, hours=12)  # 3 business days after Thursday's end: Tuesday's end
    assert next_change_at(moving, both, {}, [], now=NOW) == due
    assert ExceptionCode.STALLED_IN_TRANSIT in codes_at(moving, both, [], due)
    assert ExceptionCode.STALLED_IN_TRANSIT not in codes_at(moving, both, [], due - TICK)


def test_a_date_only_ready_scan_starts_the_pickup_clock_at_its_days_end() -> None:
    waiting = shipped_order(shipped_at=at(-2))
    trackings = {
        T1: carrier(cp(at(-1)), cp(NOW.date().isoformat(), ShipmentStatus.READY_FOR_PICKUP))
    }
    due = next_change_at(waiting, trackings, {}, [], now=NOW)
    assert due == at(5, hours=12)  # 5 days after the end of NOW's day
    assert ExceptionCode.PICKUP_NOT_COLLECTED not in codes_at(waiting, trackings, [], due - TICK)
    assert ExceptionCode.PICKUP_NOT_COLLECTED in codes_at(waiting, trackings, [], due)


def test_an_unscanned_label_turns_warning_then_critical() -> None:
    labelled = shipped_order(shipped_at=NOW)
    trackings = {T1: carrier(cp(NOW, ShipmentStatus.LABEL_CREATED))}
    first = next_change_at(labelled, trackings, {}, [], now=NOW)
    assert first == at(2)
    second = next_change_at(labelled, trackings, {}, [], now=first)
    assert second == at(5)


def test_a_missing_carrier_record_is_due_after_its_grace() -> None:
    shipped = shipped_order(shipped_at=NOW)
    assert next_change_at(shipped, {T1: None}, {}, [], now=NOW) == at(1)
    # Not asked (the carrier failed): no rule can use the record, so nothing is due for it.
    not_asked = order(
        [line(shipped=1)],
        [replace(fulfillment(promise_days=None), status=FulfillmentOrderStatus.CLOSED)],
        [parcel(("l1", 1))],
    )
    assert next_change_at(not_asked, {}, {}, [], now=NOW) is None


@pytest.fixture(scope="module")
def world(make_dataset: MakeDataset) -> Dataset:
    return make_dataset(seed=11, orders=400)


def due_times_of(world: Dataset, record: Order, rng: random.Random, steps: int = 6) -> int:
    """Walk ``record`` from the data set's now through up to ``steps`` due times,
    checking the answer at each; how many it had."""
    trackings = {
        s.tracking_number: world.trackings.get(s.tracking_number)
        for s in record.shipments
        if s.tracking_number
    }
    stock = {line.sku: world.inventory.get(line.sku) for line in record.lines}
    tickets = world.tickets.get(record.id, [])

    def answer(when: datetime) -> list[OrderException]:
        return detect_exceptions(record, trackings, stock, tickets, now=when)

    when = world.now
    for step in range(steps):
        due = next_change_at(record, trackings, stock, tickets, now=when)
        before = answer(when)
        if due is None:
            assert all(answer(when + timedelta(days=d)) == before for d in (1, 30, 400))
            return step
        assert due > when
        between = when + (due - when) * rng.random()
        assert answer(between) == before == answer(due - TICK)
        assert answer(due) != before
        when = due
    return steps


def test_over_a_data_set_the_answer_changes_exactly_at_each_due_time(world: Dataset) -> None:
    """Every order, from the data set's now through its next due times: the rules
    answer the same anywhere before a due time, and differently at it."""
    rng = random.Random(5)
    due_times = sum(due_times_of(world, record, rng) for record in world.orders.values())
    assert due_times > len(world.orders) // 2  # many orders still have a clock running
