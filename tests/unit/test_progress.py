"""Table tests of OrderProgress, the one copy of "active", "shipped" and friends, and
of the named fulfillment-order status groups."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from domain.eligibility import ALREADY_SHIPPED, cancellable_quantities, change_eligibility
from domain.progress import (
    AWAITING_SHIPMENT,
    FINISHED,
    HANDED_OVER,
    OPEN_WORK,
    STOPPABLE,
    UNFINISHED,
    OrderProgress,
)
from domain.status import CustomerOrderStatus, derive_customer_status
from resolvers.types.order import Order
from sources.cache.through import Cached, Freshness
from sources.records import FulfillmentOrderStatus as FO
from sources.records import FulfillmentStatus as FS
from sources.records import LineQuantity
from tests.support.builders import fulfillment, line, order, shipment

T1, T2 = "1Z0000000000000001", "1Z0000000000000002"

# (name, order, delivered shipment ids, line id -> (active, shipped, delivered, cancellable))
# fmt: off
CASES = [
    ("nothing shipped, nothing started", order([line(ordered=3)]), (),
     {"l1": (3, 0, 0, 1)}),  # the builder's fulfillment order carries 1 unit
    ("cancelled units are not active", order([line(ordered=3, cancelled=1)]), (),
     {"l1": (2, 0, 0, 1)}),
    ("the line counter alone", order([line(ordered=2, shipped=1)]), (),
     {"l1": (2, 1, 0, 1)}),
    ("a lagging counter: the shipment counts",
     order([line(ordered=2)], shipments=[shipment(T1, ("l1", 2))]), (),
     {"l1": (2, 2, 0, 0)}),
    ("shipped never exceeds active",
     order([line(ordered=2, cancelled=1)], shipments=[shipment(T1, ("l1", 2))]), (),
     {"l1": (1, 1, 0, 0)}),
    ("the counter ahead of the shipments",  # fo-l1's one unit left in the shipment
     order([line(ordered=3, shipped=2)], shipments=[shipment(T1, ("l1", 1))]), (),
     {"l1": (3, 2, 0, 0)}),
    ("the counter ahead of the shipments bounds what is cancellable",
     order([line(ordered=3, shipped=2)],
           [replace(fulfillment(), lines=[LineQuantity(line_id="l1", quantity=3)])],
           [shipment(T1, ("l1", 1))]), (),  # 2 left on fo-l1, 1 unit not shipped per the OMS
     {"l1": (3, 2, 0, 1)}),
    ("carrier-delivered shipment counts as delivered",
     order([line("l1"), line("l2")], [fulfillment(lines=("l1", "l2"))],
           [shipment(T1, ("l1", 1)), shipment(T2, ("l2", 1))]), ("sh-" + T1,),
     {"l1": (1, 1, 1, 0), "l2": (1, 1, 0, 0)}),
    ("delivered counter without a carrier",
     order([line(shipped=1, delivered=1)], shipments=[shipment(T1, ("l1", 1))]), (),
     {"l1": (1, 1, 1, 0)}),
    ("a started fulfillment order cannot be cancelled",
     order([line(ordered=2)], [fulfillment(FO.IN_PROGRESS)]), (),
     {"l1": (2, 0, 0, 0)}),
    ("units shipped from a fulfillment order no warehouse works on now are not cancellable",
     order([line(ordered=3, shipped=1)],
           [replace(fulfillment(FO.ON_HOLD), lines=[LineQuantity(line_id="l1", quantity=2)]),
            replace(fulfillment(FO.IN_PROGRESS), id="fo-picking")],
           [shipment(T1, ("l1", 1))]), (),  # shipped from fo-l1, which now holds 1 unit left
     {"l1": (3, 1, 0, 1)}),
    ("shipments on other lines leave this one alone",
     order([line("l1"), line("l2", ordered=2)], [fulfillment(lines=("l1", "l2"))],
           [shipment(T1, ("l1", 1))]), (),
     {"l1": (1, 1, 0, 0), "l2": (2, 0, 0, 1)}),
]
# fmt: on


@pytest.mark.parametrize(
    ("name", "record", "delivered", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_line_progress(name, record, delivered, expected):
    progress = OrderProgress.of(record, delivered)
    got = {
        line_id: (p.active, p.shipped, p.delivered, p.cancellable)
        for line_id, p in progress.lines.items()
    }
    assert got == expected
    assert progress.active == sum(e[0] for e in expected.values())
    assert progress.shipped == sum(e[1] for e in expected.values())
    assert progress.delivered == sum(e[2] for e in expected.values())


def test_unfulfilled_and_returned_per_line():
    p = OrderProgress.of(order([line(ordered=5, cancelled=1, shipped=3, delivered=3, returned=2)]))
    lp = p.lines["l1"]
    assert (lp.ordered, lp.cancelled, lp.unfulfilled, lp.returned) == (5, 1, 1, 2)


@pytest.mark.parametrize(
    ("record", "cancelled"),
    [
        (order([line()]), False),
        (order([line(cancelled=1)], cancelled=True), True),
        (order([line(ordered=2, cancelled=2)]), True),  # nothing left is as good as cancelled
        (order([line("l1", cancelled=1), line("l2")]), False),
    ],
)
def test_is_cancelled(record, cancelled):
    assert OrderProgress.of(record).is_cancelled is cancelled


def test_fulfillment_orders_live_unfinished_and_unshipped():
    fos = [
        fulfillment(FO.CLOSED, lines=("l1",)),
        fulfillment(FO.CANCELLED, lines=("l2",)),
        fulfillment(FO.IN_PROGRESS, lines=("l3",)),
    ]
    record = order([line("l1"), line("l2"), line("l3")], fos, [shipment(T1, ("l1", 1))])
    progress = OrderProgress.of(record)
    assert [fo.id for fo in progress.live] == ["fo-l1", "fo-l3"]
    assert [fo.id for fo in progress.unfinished] == ["fo-l3"]
    # the builder's shipments belong to fo-l1; fo-l3 has its unit still to ship
    assert progress.unshipped == {"fo-l3": {"l3": 1}}


@pytest.mark.parametrize(
    ("statuses", "handed_over"),
    [
        ((FO.OPEN,), False),
        ((FO.SCHEDULED, FO.ON_HOLD), False),
        ((FO.OPEN, FO.IN_PROGRESS), True),
        ((FO.CLOSED,), True),
        ((FO.CANCELLED, FO.OPEN), False),  # cancelled work is nobody's
    ],
)
def test_handed_over(statuses, handed_over):
    fos = [fulfillment(s, lines=(f"l{i}",)) for i, s in enumerate(statuses)]
    lines = [line(f"l{i}") for i in range(len(statuses))]
    assert OrderProgress.of(order(lines, fos)).handed_over is handed_over


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (order([line()]), FS.UNFULFILLED),
        (order([line()], [fulfillment(FO.ON_HOLD)]), FS.ON_HOLD),
        (order([line()], [fulfillment(FO.IN_PROGRESS)]), FS.IN_PROGRESS),
        (order([line(ordered=2, shipped=1)]), FS.PARTIALLY_FULFILLED),
        (order([line(ordered=2)], shipments=[shipment(T1, ("l1", 2))]), FS.FULFILLED),
        (order([line(ordered=2, cancelled=2)], [fulfillment(FO.ON_HOLD)]), FS.UNFULFILLED),
    ],
)
def test_fulfillment_status(record, expected):
    assert OrderProgress.of(record).fulfillment_status() is expected


def test_status_groups():
    every = set(FO)
    assert {FO.CLOSED, FO.CANCELLED} == FINISHED
    assert every - FINISHED == UNFINISHED
    assert {FO.IN_PROGRESS, FO.INCOMPLETE} == OPEN_WORK
    assert {FO.OPEN, FO.IN_PROGRESS, FO.INCOMPLETE} == AWAITING_SHIPMENT
    assert {FO.OPEN, FO.SCHEDULED, FO.ON_HOLD} == STOPPABLE
    assert {FO.IN_PROGRESS, FO.INCOMPLETE, FO.CLOSED} == HANDED_OVER
    # every status is stoppable, handed over or cancelled, and only one of them
    assert STOPPABLE | HANDED_OVER | {FO.CANCELLED} == every
    assert not STOPPABLE & HANDED_OVER


def test_the_graph_shows_a_line_as_the_rules_see_it():
    """A line whose shipped counter lags its shipment: the graph's quantities count the
    shipment as the status and the change rules do, so a console is never offered to
    cancel units that left. Before, the line read unfulfilled 2, shipped 0, while the
    order was SHIPPED and its cancel refused as ALREADY_SHIPPED."""
    record = order([line(ordered=2)], [fulfillment(FO.IN_PROGRESS)], [shipment(T1, ("l1", 2))])
    graph = Order.from_record(record, Cached(record, Freshness.FRESH, 0.0), pii=False)
    quantities = graph.line_items[0].quantities
    assert (quantities.ordered, quantities.shipped, quantities.unfulfilled) == (2, 2, 0)
    assert quantities.delivered == 0  # the OMS's own count, as the schema says
    assert derive_customer_status(record, {}) is CustomerOrderStatus.SHIPPED
    assert change_eligibility(record).cancel.reason_code == ALREADY_SHIPPED
    assert cancellable_quantities(record) == {}
