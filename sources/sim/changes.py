"""Live changes to the simulated data set, as the admin endpoints apply them.

Records are frozen, so every change builds a new record with
``msgspec.structs.replace``, stores it back into the :class:`Dataset` and returns it
with the :class:`ChangeEvent` that announces it. Request bodies are camelCase structs
that refuse unknown fields, so a typo answers 400 instead of being ignored.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, TypeVar

import msgspec
from msgspec.structs import replace

from sources.events import ChangeEvent, EventType
from sources.records import (
    CancelReason,
    Checkpoint,
    FinancialStatus,
    FulfillmentOrderStatus,
    FulfillmentStatus,
    InventoryItem,
    Order,
    Record,
    ShipmentStatus,
    Ticket,
    TicketPriority,
    TicketStatus,
)
from sources.sim import catalog as cat
from sources.sim.seed import Dataset

BodyT = TypeVar("BodyT", bound=msgspec.Struct)
Change = tuple[Record, ChangeEvent]
Apply = Callable[[Dataset, str, BodyT, datetime], Change]

NOT_FOUND = "NOT_FOUND"
NOT_CANCELLABLE = "NOT_CANCELLABLE"
NO_NEXT_MILESTONE = "NO_NEXT_MILESTONE"

_UNCAPTURED = frozenset({FinancialStatus.AUTHORIZED, FinancialStatus.PENDING})
_FINISHED_FO = frozenset({FulfillmentOrderStatus.CLOSED, FulfillmentOrderStatus.CANCELLED})
# current status -> catalog step an advance without an explicit status records
_NEXT_STEP = {
    ShipmentStatus.LABEL_CREATED: "pickup",
    ShipmentStatus.IN_TRANSIT: "ofd",
    ShipmentStatus.OUT_FOR_DELIVERY: "signed",
    ShipmentStatus.DELIVERY_ATTEMPTED: "ofd",
    ShipmentStatus.EXCEPTION: "depart",
}


class ChangeError(Exception):
    """A change that cannot be applied: answered with ``status`` and an ErrorBody."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class Body(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of admin request bodies."""


class NoBody(Body, frozen=True, kw_only=True):
    """Endpoints without parameters accept an empty body or ``{}``."""


class CancelOrder(Body, frozen=True, kw_only=True):
    reason: CancelReason


class AdvanceTracking(Body, frozen=True, kw_only=True):
    """Without ``status`` the tracking moves to its next milestone."""

    status: ShipmentStatus | None = None
    subtag: str | None = None
    message: str | None = None


class SetInventoryLevel(Body, frozen=True, kw_only=True):
    """Omitted fields keep their value; ``onHand`` follows ``available``."""

    location_id: str
    available: int | None = None
    incoming: Annotated[int, msgspec.Meta(ge=0)] | None = None
    incoming_expected_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


class UpdateTicket(Body, frozen=True, kw_only=True):
    status: TicketStatus | None = None
    priority: TicketPriority | None = None


def cancel_order(dataset: Dataset, order_id: str, body: CancelOrder, now: datetime) -> Change:
    """Cancel an order that has shipped nothing: every line's quantity is cancelled, open
    fulfillment orders are cancelled and the payment is voided or refunded."""
    order = _order(dataset, order_id)
    if order.cancelled_at is not None:
        raise ChangeError(409, NOT_CANCELLABLE, f"order {order_id} is already cancelled")
    if any(line.quantities.shipped for line in order.lines):
        raise ChangeError(409, NOT_CANCELLABLE, f"order {order_id} has shipped lines")
    at = _after(order.updated_at, now)
    lines = [
        replace(line, quantities=replace(line.quantities, cancelled=line.quantities.ordered))
        for line in order.lines
    ]
    fulfillment_orders = [
        fo
        if fo.status in _FINISHED_FO
        else replace(fo, status=FulfillmentOrderStatus.CANCELLED, updated_at=at)
        for fo in order.fulfillment_orders
    ]
    financial = (
        FinancialStatus.VOIDED
        if order.financial_status in _UNCAPTURED
        else FinancialStatus.REFUNDED
    )
    cancelled = replace(
        order,
        lines=lines,
        fulfillment_orders=fulfillment_orders,
        financial_status=financial,
        fulfillment_status=FulfillmentStatus.UNFULFILLED,
        cancelled_at=at,
        cancel_reason=body.reason,
        updated_at=at,
    )
    return _store_order(dataset, cancelled, EventType.ORDER_CANCELLED)


def touch_order(dataset: Dataset, order_id: str, _body: NoBody, now: datetime) -> Change:
    """Only bump ``updatedAt`` (a change the gateway must still notice)."""
    order = _order(dataset, order_id)
    return _store_order(
        dataset, replace(order, updated_at=_after(order.updated_at, now)), EventType.ORDER_UPDATED
    )


def advance_tracking(dataset: Dataset, number: str, body: AdvanceTracking, now: datetime) -> Change:
    """Append a checkpoint: the next milestone, or ``body.status`` when given."""
    tracking = dataset.trackings.get(number.upper())
    if tracking is None:
        raise ChangeError(404, NOT_FOUND, f"no tracking {number!r}")
    if body.status is not None:
        step = _explicit_step(body.status, body.subtag)
        if step is None:
            raise ChangeError(400, "BAD_REQUEST", f"status {body.status.value} cannot be set")
    else:
        step = _NEXT_STEP.get(tracking.status)
        if step is None:
            raise ChangeError(
                409,
                NO_NEXT_MILESTONE,
                f"tracking {tracking.tracking_number} is {tracking.status.value}: "
                "pass an explicit status",
            )
    status, tag, subtag = cat.STEPS[step]
    signer = cat.SIGNERS[zlib.crc32(tracking.tracking_number.encode()) % len(cat.SIGNERS)]
    message = body.message or cat.CARRIER_MESSAGES[tracking.carrier_code][step].format(
        carrier=cat.CARRIER_NAMES[tracking.carrier_code],
        signer=signer,
        point="PICKUP POINT",
        reason="RETURN REQUESTED",
    )
    at = _after(tracking.updated_at, now)
    checkpoint = Checkpoint(
        time=at.isoformat(),
        status=status,
        tag=tag,
        subtag=body.subtag or subtag,
        message=message,
    )
    advanced = replace(
        tracking,
        status=status,
        tag=tag,
        subtag=checkpoint.subtag,
        message=message,
        checkpoints=[*tracking.checkpoints, checkpoint],
        signed_by=signer if step == "signed" else tracking.signed_by,
        updated_at=at,
    )
    dataset.trackings[advanced.tracking_number] = advanced
    event = ChangeEvent(
        type=EventType.TRACKING_UPDATED, occurred_at=at, tracking_number=advanced.tracking_number
    )
    return advanced, event


def _explicit_step(status: ShipmentStatus, subtag: str | None) -> str | None:
    """The catalog step (tag, default subtag and message) recording ``status``: the one
    with ``subtag`` if there is one, else the status's first."""
    steps = [step for step, (s, _, _) in cat.STEPS.items() if s is status]
    return next((step for step in steps if cat.STEPS[step][2] == subtag), next(iter(steps), None))


def set_inventory_level(
    dataset: Dataset, sku: str, body: SetInventoryLevel, now: datetime
) -> Change:
    """Change one location's level of ``sku``, keeping ``onHand`` and ``incoming`` consistent.

    ``onHand`` moves with ``available`` (committed, reserved and unavailable stock stay);
    ``incomingExpectedAt`` is cleared when ``incoming`` drops to 0 and is required while
    anything is incoming.
    """
    item = dataset.inventory.get(sku)
    if item is None:
        raise ChangeError(404, NOT_FOUND, f"no inventory item {sku!r}")
    index = next(
        (i for i, lv in enumerate(item.levels) if lv.location_id == body.location_id), None
    )
    if index is None:
        raise ChangeError(400, "BAD_REQUEST", f"{sku} has no level at {body.location_id!r}")
    level = item.levels[index]
    available = level.available if body.available is None else body.available
    unavailable = level.on_hand - level.available - level.committed - level.reserved
    on_hand = available + level.committed + level.reserved + unavailable
    if on_hand < 0:
        raise ChangeError(
            400, "BAD_REQUEST", f"available {available} would leave onHand negative ({on_hand})"
        )
    incoming = level.incoming if body.incoming is None else body.incoming
    expected = body.incoming_expected_at or (level.incoming_expected_at if incoming else None)
    if (incoming > 0) != (expected is not None):
        raise ChangeError(
            400, "BAD_REQUEST", "incomingExpectedAt is required exactly when incoming > 0"
        )
    at = _after(level.as_of, now)
    new_level = replace(
        level,
        available=available,
        on_hand=on_hand,
        incoming=incoming,
        incoming_expected_at=expected,
        as_of=at,
    )
    levels = [*item.levels[:index], new_level, *item.levels[index + 1 :]]
    changed = InventoryItem(sku=item.sku, levels=levels)
    dataset.inventory[sku] = changed
    return changed, ChangeEvent(type=EventType.INVENTORY_CHANGED, occurred_at=at, sku=sku)


def update_ticket(dataset: Dataset, ticket_id: str, body: UpdateTicket, now: datetime) -> Change:
    """Change a ticket's status and/or priority."""
    for tickets in dataset.tickets.values():
        for i, ticket in enumerate(tickets):
            if ticket.id == ticket_id:
                updated = _updated_ticket(ticket, body, now)
                tickets[i] = updated
                event = ChangeEvent(
                    type=EventType.TICKET_UPDATED,
                    occurred_at=updated.updated_at,
                    order_id=updated.order_id,
                    ticket_id=updated.id,
                )
                return updated, event
    raise ChangeError(404, NOT_FOUND, f"no ticket {ticket_id!r}")


def _updated_ticket(ticket: Ticket, body: UpdateTicket, now: datetime) -> Ticket:
    return replace(
        ticket,
        status=body.status or ticket.status,
        priority=body.priority or ticket.priority,
        updated_at=_after(ticket.updated_at, now),
    )


def _order(dataset: Dataset, order_id: str) -> Order:
    order = dataset.orders.get(order_id)
    if order is None:
        raise ChangeError(404, NOT_FOUND, f"no order {order_id!r}")
    return order


def _store_order(dataset: Dataset, order: Order, event_type: EventType) -> Change:
    """Store ``order`` under both of its keys and announce it."""
    dataset.orders[order.id] = order
    dataset.orders_by_number[order.number] = order
    return order, ChangeEvent(type=event_type, occurred_at=order.updated_at, order_id=order.id)


def _after(previous: datetime, now: datetime) -> datetime:
    """``now``, but strictly after ``previous``: a data set may be generated ahead of the
    wall clock, and a change must still move its record's time forward."""
    return max(now, previous + timedelta(microseconds=1))
