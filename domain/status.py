"""The one status a customer is shown, derived from line quantities, fulfillment
orders and carrier tracking. Pure functions: table-tested in tests/unit/test_status.py.

The rule that matters most: a shipment's stage is the most advanced milestone it has
ever reached, not its latest event, so late, out-of-order or duplicated carrier
events never move an order backwards. Explicit reversals (return to sender) are the
one exception, and they stick: see :func:`shipment_milestone`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from domain.carrier_events import TimedCheckpoint, in_time_order
from domain.progress import OPEN_WORK, OrderProgress
from sources.records import (
    FulfillmentOrder,
    FulfillmentOrderStatus,
    HoldReason,
    Order,
    ShipmentStatus,
    Tracking,
)


class CustomerOrderStatus(enum.Enum):
    ORDER_PLACED = "ORDER_PLACED"
    PROCESSING = "PROCESSING"
    ON_HOLD = "ON_HOLD"
    BACKORDERED = "BACKORDERED"
    PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
    SHIPPED = "SHIPPED"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERY_ATTEMPTED = "DELIVERY_ATTEMPTED"
    READY_FOR_PICKUP = "READY_FOR_PICKUP"
    RETURNING_TO_SENDER = "RETURNING_TO_SENDER"
    PARTIALLY_DELIVERED = "PARTIALLY_DELIVERED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"


# Forward milestones in the order a parcel reaches them. EXCEPTION, NO_INFO and
# TRACKING_EXPIRED are states, not progress: they never lower a reached milestone.
_MILESTONE_RANK: dict[ShipmentStatus, int] = {
    ShipmentStatus.LABEL_CREATED: 1,
    ShipmentStatus.IN_TRANSIT: 2,
    ShipmentStatus.OUT_FOR_DELIVERY: 3,
    ShipmentStatus.DELIVERY_ATTEMPTED: 4,
    ShipmentStatus.READY_FOR_PICKUP: 5,
    ShipmentStatus.DELIVERED: 6,
}
REVERSALS = frozenset({ShipmentStatus.RETURNING_TO_SENDER, ShipmentStatus.RETURNED_TO_SENDER})
# Holds the customer is not told of: a fraud review is internal, so the order shows as
# being processed, and its timeline entry is for consoles (the FRAUD_REVIEW exception
# is internal too).
INTERNAL_HOLDS = frozenset({HoldReason.HIGH_RISK_OF_FRAUD})

# What the customer sees for an undelivered shipment, least advanced first.
_SHIPPED_STAGES: tuple[tuple[ShipmentStatus, CustomerOrderStatus], ...] = (
    (ShipmentStatus.IN_TRANSIT, CustomerOrderStatus.SHIPPED),
    (ShipmentStatus.OUT_FOR_DELIVERY, CustomerOrderStatus.OUT_FOR_DELIVERY),
    (ShipmentStatus.DELIVERY_ATTEMPTED, CustomerOrderStatus.DELIVERY_ATTEMPTED),
    (ShipmentStatus.READY_FOR_PICKUP, CustomerOrderStatus.READY_FOR_PICKUP),
)


def shipment_milestone(tracking: Tracking | None) -> ShipmentStatus:
    """The most advanced milestone a shipment has reached, or its reversal.

    Forward milestones: the most advanced one seen in the current status or any
    checkpoint, whatever their order (EXCEPTION, NO_INFO and TRACKING_EXPIRED are not
    progress).

    Reversals (return to sender) stick. Once one is seen, in the current status or only
    in a checkpoint, the shipment is RETURNED_TO_SENDER if that was ever seen, else
    RETURNING_TO_SENDER, whatever forward events come with it: the in-transit scans of
    the way back, and late or out-of-order events of the way out. The one way out is
    the carrier calling the return off and delivering: see :func:`_return_called_off`.
    """
    if tracking is None:
        return ShipmentStatus.NO_INFO
    reversal = _reversal(tracking)
    if reversal is not None:
        return reversal
    reached = ShipmentStatus.NO_INFO
    best = 0
    for status in _statuses(tracking):
        rank = _MILESTONE_RANK.get(status, 0)
        if rank > best:
            best, reached = rank, status
    return reached


def _reversal(tracking: Tracking) -> ShipmentStatus | None:
    seen = {status for status in _statuses(tracking) if status in REVERSALS}
    if not seen:
        return None
    if tracking.status not in REVERSALS and _return_called_off(tracking):
        return None
    if ShipmentStatus.RETURNED_TO_SENDER in seen:
        return ShipmentStatus.RETURNED_TO_SENDER
    return ShipmentStatus.RETURNING_TO_SENDER


def _return_called_off(tracking: Tracking) -> bool:
    """Whether a DELIVERED checkpoint came after every reversal checkpoint.

    Times cannot always tell: a date-only checkpoint spans its day, so one DELIVERED
    on the day of a reversal may be before it or after. The carrier's current status
    decides then: when it is DELIVERED, a DELIVERED checkpoint that can be the later
    one calls the return off; otherwise only one that surely is.
    """
    events = in_time_order(tracking.checkpoints)
    reversals = [e for e in events if e.checkpoint.status in REVERSALS]
    delivered = [e for e in events if e.checkpoint.status is ShipmentStatus.DELIVERED]
    after = (
        TimedCheckpoint.may_follow
        if tracking.status is ShipmentStatus.DELIVERED
        else TimedCheckpoint.follows
    )
    return bool(reversals) and any(all(after(d, r) for r in reversals) for d in delivered)


def _statuses(tracking: Tracking) -> Iterable[ShipmentStatus]:
    yield tracking.status
    for checkpoint in tracking.checkpoints:
        yield checkpoint.status


def derive_customer_status(
    order: Order, trackings: Mapping[str, Tracking | None]
) -> CustomerOrderStatus:
    """The customer-facing status of ``order``.

    ``trackings`` maps tracking numbers to the carrier's record (``None`` or absent
    when the carrier has none or could not be asked): the OMS quantities then decide.
    Each shipment counts at its :func:`shipment_milestone`: once everything has
    shipped and not all of it is delivered, one undelivered shipment returning to
    sender (seen in its current status or only in its checkpoints, and sticking
    through later forward events) makes the order RETURNING_TO_SENDER.
    """
    milestones = {
        shipment.id: shipment_milestone(trackings.get(shipment.tracking_number or ""))
        for shipment in order.shipments
    }
    delivered_by_carrier = {
        shipment_id
        for shipment_id, milestone in milestones.items()
        if milestone is ShipmentStatus.DELIVERED
    }
    progress = OrderProgress.of(order, delivered_by_carrier)
    if progress.is_cancelled:
        return CustomerOrderStatus.CANCELLED
    active, shipped, delivered = progress.active, progress.shipped, progress.delivered
    if delivered >= active:
        return CustomerOrderStatus.DELIVERED
    if delivered > 0:
        return CustomerOrderStatus.PARTIALLY_DELIVERED
    if shipped >= active:
        return _in_flight_status(milestones.values())
    if shipped > 0:
        return CustomerOrderStatus.PARTIALLY_SHIPPED
    return _pre_shipment_status(progress.unfinished)


def _in_flight_status(milestones: Iterable[ShipmentStatus]) -> CustomerOrderStatus:
    """Everything shipped, nothing delivered: the least advanced shipment decides."""
    undelivered = [m for m in milestones if m is not ShipmentStatus.DELIVERED]
    if any(m in REVERSALS for m in undelivered):
        return CustomerOrderStatus.RETURNING_TO_SENDER
    for milestone, status in _SHIPPED_STAGES:
        if any(_MILESTONE_RANK.get(m, 0) <= _MILESTONE_RANK[milestone] for m in undelivered):
            return status
    return CustomerOrderStatus.SHIPPED


def _pre_shipment_status(open_orders: Sequence[FulfillmentOrder]) -> CustomerOrderStatus:
    """Nothing shipped yet: the unfinished fulfillment orders decide."""
    reasons = {hold.reason for fo in open_orders for hold in fo.holds}
    if HoldReason.INVENTORY_OUT_OF_STOCK in reasons:
        return CustomerOrderStatus.BACKORDERED
    if reasons - INTERNAL_HOLDS:
        return CustomerOrderStatus.ON_HOLD
    if reasons or any(fo.status in OPEN_WORK for fo in open_orders):
        return CustomerOrderStatus.PROCESSING
    return CustomerOrderStatus.ORDER_PLACED


def latest_estimate(
    order: Order, trackings: Mapping[str, Tracking | None]
) -> tuple[datetime, datetime] | None:
    """The latest carrier estimate among the order's undelivered shipments."""
    latest: tuple[datetime, datetime] | None = None
    for shipment in order.shipments:
        tracking = trackings.get(shipment.tracking_number or "")
        if tracking is None or shipment_milestone(tracking) is ShipmentStatus.DELIVERED:
            continue
        window = tracking.latest_estimated_delivery
        if window is not None and (latest is None or window.latest > latest[1]):
            latest = (window.earliest, window.latest)
    return latest


def promised_window(order: Order) -> tuple[datetime, datetime] | None:
    """The checkout promise: the widest window over the live fulfillment orders."""
    earliest: datetime | None = None
    latest: datetime | None = None
    for fo in order.fulfillment_orders:
        method = fo.delivery_method
        if fo.status is FulfillmentOrderStatus.CANCELLED:
            continue
        if method.min_delivery_at is not None:
            earliest = min(earliest or method.min_delivery_at, method.min_delivery_at)
        if method.max_delivery_at is not None:
            latest = max(latest or method.max_delivery_at, method.max_delivery_at)
    if earliest is None or latest is None:
        return None
    return earliest, latest
