"""How far an order has got, from its own record: the one copy of that arithmetic.

Per line: the quantity still wanted (``active`` = ordered - cancelled), how much of it
has shipped (the larger of the line's counter and the units its shipments carry, never
more than is active, so a lagging counter never hides a shipment), delivered (the
larger of the line's counter and the units on shipments the carrier reports
delivered), returned, and what can still be cancelled. Per order: the live and the
unfinished fulfillment orders, the units each unfinished one has still to ship, and
whether a warehouse has been handed the work. Beside them, the named groups of
fulfillment-order statuses every rule uses.

Status, eligibility, the exception rules, the timeline, the exception queue (which
SKUs still concern an order) and the simulated OMS (which must refuse the same changes
and derive the same fulfillment status) all use it.

Pure: records in, numbers out; no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from sources.records import FulfillmentOrder, FulfillmentOrderStatus, FulfillmentStatus, Order

_ALL = frozenset(FulfillmentOrderStatus)

#: No work is left on these: shipped and closed, or cancelled.
FINISHED = frozenset({FulfillmentOrderStatus.CLOSED, FulfillmentOrderStatus.CANCELLED})
#: Everything not finished: work still to do, started or not.
UNFINISHED = _ALL - FINISHED
#: A warehouse is working on these (and has not finished).
OPEN_WORK = frozenset({FulfillmentOrderStatus.IN_PROGRESS, FulfillmentOrderStatus.INCOMPLETE})
#: No warehouse has started these: their work can still be stopped or changed.
STOPPABLE = frozenset(
    {FulfillmentOrderStatus.OPEN, FulfillmentOrderStatus.SCHEDULED, FulfillmentOrderStatus.ON_HOLD}
)
#: Waiting on a warehouse to ship: released to it (neither held nor scheduled) or being
#: worked on.
AWAITING_SHIPMENT = OPEN_WORK | {FulfillmentOrderStatus.OPEN}
#: A warehouse has (or had) the work: it works on it or has finished it.
HANDED_OVER = _ALL - STOPPABLE - {FulfillmentOrderStatus.CANCELLED}


@dataclass(frozen=True, slots=True)
class LineProgress:
    """One order line's quantities, reconciled with the order's shipments."""

    ordered: int
    cancelled: int
    active: int  # ordered - cancelled
    shipped: int  # of the active units
    delivered: int
    returned: int
    cancellable: int  # units still to ship from fulfillment orders no warehouse has started

    @property
    def unfulfilled(self) -> int:
        """Active units not shipped yet."""
        return self.active - self.shipped


@dataclass(frozen=True, slots=True)
class OrderProgress:
    """How far ``order`` has got; build it with :meth:`of`."""

    order: Order
    lines: Mapping[str, LineProgress]  # line id -> its progress, in the order's line order
    live: tuple[FulfillmentOrder, ...]  # not cancelled (closed ones included)
    unfinished: tuple[FulfillmentOrder, ...]  # neither closed nor cancelled
    unshipped: Mapping[str, Mapping[str, int]]  # unfinished FO id -> line id -> units left

    @classmethod
    def of(cls, order: Order, delivered_shipments: Collection[str] = ()) -> OrderProgress:
        """The progress of ``order``; ``delivered_shipments`` are the ids of its shipments
        the carrier reports delivered (the OMS counters decide without them)."""
        # Plain dicts, not Counters: this runs for every order a page shows.
        carried: dict[str, int] = {}
        delivered_by_carrier: dict[str, int] = {}
        per_fo: dict[tuple[str, str], int] = {}
        for shipment in order.shipments:
            delivered = shipment.id in delivered_shipments
            for part in shipment.lines:
                line_id, quantity = part.line_id, part.quantity
                carried[line_id] = carried.get(line_id, 0) + quantity
                fo_line = (shipment.fulfillment_order_id, line_id)
                per_fo[fo_line] = per_fo.get(fo_line, 0) + quantity
                if delivered:
                    delivered_by_carrier[line_id] = delivered_by_carrier.get(line_id, 0) + quantity
        unfinished = tuple(fo for fo in order.fulfillment_orders if fo.status not in FINISHED)
        unshipped = {
            fo.id: {
                part.line_id: left
                for part in fo.lines
                if (left := part.quantity - per_fo.get((fo.id, part.line_id), 0)) > 0
            }
            for fo in unfinished
        }
        # What is left on fulfillment orders no warehouse has started: a unit shipped
        # from one (before a hold, say) is gone from it, not cancellable.
        stoppable: dict[str, int] = {}
        for fo in unfinished:
            if fo.status in STOPPABLE:
                for line_id, left in unshipped[fo.id].items():
                    stoppable[line_id] = stoppable.get(line_id, 0) + left
        lines = {}
        for line in order.lines:
            q = line.quantities
            active = q.ordered - q.cancelled
            shipped = min(active, max(q.shipped, carried.get(line.id, 0)))
            lines[line.id] = LineProgress(
                ordered=q.ordered,
                cancelled=q.cancelled,
                active=active,
                shipped=shipped,
                delivered=min(active, max(q.delivered, delivered_by_carrier.get(line.id, 0))),
                returned=q.returned,
                cancellable=max(0, min(active - shipped, stoppable.get(line.id, 0))),
            )
        return cls(
            order=order,
            lines=lines,
            live=tuple(
                fo
                for fo in order.fulfillment_orders
                if fo.status is not FulfillmentOrderStatus.CANCELLED
            ),
            unfinished=unfinished,
            unshipped=unshipped,
        )

    @property
    def active(self) -> int:
        """Units still wanted over all lines."""
        return sum(line.active for line in self.lines.values())

    @property
    def shipped(self) -> int:
        return sum(line.shipped for line in self.lines.values())

    @property
    def delivered(self) -> int:
        return sum(line.delivered for line in self.lines.values())

    @property
    def is_cancelled(self) -> bool:
        """The order is cancelled, or nothing on it is still wanted."""
        return self.order.cancelled_at is not None or self.active <= 0

    @property
    def all_shipped(self) -> bool:
        """Every line has shipped all its active units."""
        return all(line.shipped == line.active for line in self.lines.values())

    @property
    def handed_over(self) -> bool:
        """A warehouse has (or had) some of the live work."""
        return any(fo.status in HANDED_OVER for fo in self.live)

    def cancellable(self) -> dict[str, int]:
        """Line id -> units that can still be cancelled; lines with none are left out."""
        return {line_id: p.cancellable for line_id, p in self.lines.items() if p.cancellable > 0}

    def fulfillment_status(self) -> FulfillmentStatus:
        """The OMS fulfillment status these quantities and fulfillment orders imply."""
        return fulfillment_status(self.active, self.shipped, (fo.status for fo in self.live))


def fulfillment_status(
    active: int, shipped: int, statuses: Iterable[FulfillmentOrderStatus]
) -> FulfillmentStatus:
    """The OMS fulfillment status of an order with ``active`` units wanted, ``shipped`` of
    them shipped, and fulfillment orders in ``statuses``."""
    if active <= 0:
        return FulfillmentStatus.UNFULFILLED
    if shipped:
        return (
            FulfillmentStatus.FULFILLED
            if shipped >= active
            else FulfillmentStatus.PARTIALLY_FULFILLED
        )
    present = set(statuses)
    if FulfillmentOrderStatus.ON_HOLD in present:
        return FulfillmentStatus.ON_HOLD
    if FulfillmentOrderStatus.IN_PROGRESS in present:
        return FulfillmentStatus.IN_PROGRESS
    return FulfillmentStatus.UNFULFILLED
