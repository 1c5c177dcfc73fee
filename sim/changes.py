"""Live changes to the simulated data set, as the admin endpoints and the OMS's
order-changing data endpoints (customer cancel, address change) apply them.

Records are frozen, so every change builds a new record with
``msgspec.structs.replace``, stores it back into the :class:`Dataset` and returns it
with the :class:`ChangeEvent` that announces it. Request bodies are camelCase structs
that refuse unknown fields, so a typo answers 400 instead of being ignored.
"""

from __future__ import annotations

import secrets
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Annotated, TypeVar

import msgspec
from msgspec.structs import replace

from domain.progress import FINISHED, STOPPABLE, OrderProgress
from sim import catalog as cat
from sim.seed import Dataset
from sources.events import ChangeEvent, EventType
from sources.records import (
    ORDER_NOT_FOUND,
    TICKET_CLOSED,
    AddCommentRequest,
    AddressChange,
    AddressChangeRequest,
    AddressChangeStatus,
    AddressRequestStatus,
    CancelOrderRequest,
    CancelReason,
    Checkpoint,
    CommentAdded,
    CreateTicketRequest,
    DeliveryMethodType,
    FinancialStatus,
    FulfillmentOrder,
    FulfillmentOrderStatus,
    FulfillmentStatus,
    InventoryItem,
    LineQuantity,
    MailingAddress,
    Order,
    Record,
    RestockExpectation,
    ShipmentStatus,
    Ticket,
    TicketComment,
    TicketPriority,
    TicketStatus,
)

BodyT = TypeVar("BodyT", bound=msgspec.Struct)
Change = tuple[Record, ChangeEvent]
Apply = Callable[[Dataset, str, BodyT, datetime], Change]

NOT_FOUND = "NOT_FOUND"
NOT_CANCELLABLE = "NOT_CANCELLABLE"
NO_NEXT_MILESTONE = "NO_NEXT_MILESTONE"
# Refusals of the order-changing data endpoints: the same codes, in the same precedence,
# as the gateway's eligibility rules (domain/eligibility.py).
ALREADY_CANCELLED = "ALREADY_CANCELLED"
NOTHING_TO_CANCEL = "NOTHING_TO_CANCEL"
PICKUP_ORDER = "PICKUP_ORDER"
ALREADY_SHIPPED = "ALREADY_SHIPPED"
PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
IN_FULFILLMENT = "IN_FULFILLMENT"
QUANTITY_NOT_CANCELLABLE = "QUANTITY_NOT_CANCELLABLE"  # more than a line's cancellable units
ALREADY_DECIDED = "ALREADY_DECIDED"

_UNCAPTURED = frozenset({FinancialStatus.AUTHORIZED, FinancialStatus.PENDING})
_PAID = frozenset({FinancialStatus.PAID, FinancialStatus.PARTIALLY_PAID})
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


class DecideAddressRequest(Body, frozen=True, kw_only=True):
    approve: bool


def cancel_order(dataset: Dataset, order_id: str, body: CancelOrder, now: datetime) -> Change:
    """Staff cancel (admin): any order that has shipped nothing, even one a warehouse is
    working on."""
    order = _order(dataset, order_id)
    if order.cancelled_at is not None:
        raise ChangeError(409, NOT_CANCELLABLE, f"order {order_id} is already cancelled")
    if any(line.quantities.shipped for line in order.lines):
        raise ChangeError(409, NOT_CANCELLABLE, f"order {order_id} has shipped lines")
    return _store_order(dataset, _cancelled(order, body.reason, now), EventType.ORDER_CANCELLED)


def request_cancel(
    dataset: Dataset, order_id: str, body: CancelOrderRequest, now: datetime
) -> Change:
    """Customer cancel (``POST /orders/{id}/cancel``): the whole order while no warehouse
    has its work, or ``body.lines`` up to their cancellable quantities."""
    order = _order(dataset, order_id)
    if body.lines is None:
        check_cancel(order)
        return _store_order(dataset, _cancelled(order, body.reason, now), EventType.ORDER_CANCELLED)
    cancel = _line_cancellation(order, body.lines)
    return _store_order(dataset, _lines_cancelled(order, cancel, now), EventType.ORDER_UPDATED)


def _cancelled(order: Order, reason: CancelReason, now: datetime) -> Order:
    """``order`` cancelled: every line's quantity and every unfinished fulfillment order
    is cancelled, the payment voided or refunded."""
    at = _after(order.updated_at, now)
    lines = [
        replace(line, quantities=replace(line.quantities, cancelled=line.quantities.ordered))
        for line in order.lines
    ]
    fulfillment_orders = [
        fo
        if fo.status in FINISHED
        else replace(fo, status=FulfillmentOrderStatus.CANCELLED, updated_at=at)
        for fo in order.fulfillment_orders
    ]
    return replace(
        order,
        lines=lines,
        fulfillment_orders=fulfillment_orders,
        financial_status=_refunded(order.financial_status, everything=True),
        fulfillment_status=FulfillmentStatus.UNFULFILLED,
        cancelled_at=at,
        cancel_reason=reason,
        updated_at=at,
    )


def _line_cancellation(order: Order, lines: list[LineQuantity]) -> dict[str, int]:
    """Line id -> quantity to cancel, checked against what ``order`` can still cancel."""
    progress = OrderProgress.of(order)
    _refuse_closed(progress)
    cancellable = progress.cancellable()
    if not cancellable:
        shipped = progress.all_shipped
        code = ALREADY_SHIPPED if shipped else IN_FULFILLMENT
        what = "has shipped" if shipped else "is with a warehouse"
        raise ChangeError(409, code, f"order {order.id}: everything left {what}")
    cancel: dict[str, int] = {}
    for part in lines:
        if part.line_id not in progress.lines:
            raise ChangeError(400, "BAD_REQUEST", f"order {order.id} has no line {part.line_id!r}")
        if part.line_id in cancel or part.quantity < 1:
            raise ChangeError(
                400, "BAD_REQUEST", f"line {part.line_id}: one entry with a quantity of 1 or more"
            )
        if part.quantity > cancellable.get(part.line_id, 0):
            raise ChangeError(
                409,
                QUANTITY_NOT_CANCELLABLE,
                f"line {part.line_id}: {cancellable.get(part.line_id, 0)} unit(s) can be "
                f"cancelled, not {part.quantity}",
            )
        cancel[part.line_id] = part.quantity
    return cancel


def _lines_cancelled(order: Order, cancel: dict[str, int], now: datetime) -> Order:
    """``order`` with ``cancel`` taken off its lines and off fulfillment orders no warehouse
    has started; emptied fulfillment orders are cancelled (keeping their lines)."""
    at = _after(order.updated_at, now)
    lines = [
        replace(
            line,
            quantities=replace(
                line.quantities, cancelled=line.quantities.cancelled + cancel.get(line.id, 0)
            ),
        )
        for line in order.lines
    ]
    left = Counter(cancel)
    fulfillment_orders = []
    for fo in order.fulfillment_orders:
        if fo.status in STOPPABLE and any(left[part.line_id] for part in fo.lines):
            fo = _without(fo, left, at)
        fulfillment_orders.append(fo)
    changed = replace(order, lines=lines, fulfillment_orders=fulfillment_orders, updated_at=at)
    progress = OrderProgress.of(changed)
    everything = progress.active <= 0
    return replace(
        changed,
        financial_status=_refunded(order.financial_status, everything=everything),
        fulfillment_status=progress.fulfillment_status(),
    )


def _without(fo: FulfillmentOrder, left: Counter[str], at: datetime) -> FulfillmentOrder:
    """``fo`` carrying ``left`` fewer units (``left`` is drawn down)."""
    parts = []
    for part in fo.lines:
        taken = min(part.quantity, left[part.line_id])
        left[part.line_id] -= taken
        if part.quantity > taken:
            parts.append(replace(part, quantity=part.quantity - taken))
    if not parts:
        return replace(fo, status=FulfillmentOrderStatus.CANCELLED, updated_at=at)
    return replace(fo, lines=parts, updated_at=at)


def _refunded(status: FinancialStatus, *, everything: bool) -> FinancialStatus:
    """The payment after cancelling ``everything`` or only part of an order: an
    uncaptured payment is voided (or kept for the rest), a captured one refunded."""
    if everything:
        return FinancialStatus.VOIDED if status in _UNCAPTURED else FinancialStatus.REFUNDED
    return FinancialStatus.PARTIALLY_REFUNDED if status in _PAID else status


def change_shipping_address(
    dataset: Dataset, order_id: str, address: MailingAddress, now: datetime
) -> tuple[AddressChange, ChangeEvent | None]:
    """Apply ``address`` at once, or, when a warehouse has the work, record it as a
    PENDING request for the warehouse to decide (no event: the order is unchanged)."""
    order = _order(dataset, order_id)
    if check_address_change(order) is AddressChangeStatus.APPLIED:
        changed = replace(order, shipping_address=address, updated_at=_after(order.updated_at, now))
        _, event = _store_order(dataset, changed, EventType.ORDER_UPDATED)
        return AddressChange(status=AddressChangeStatus.APPLIED, order=changed), event
    request = AddressChangeRequest(
        id=f"adr_{secrets.token_hex(6)}",
        order_id=order.id,
        address=address,
        status=AddressRequestStatus.PENDING,
        requested_at=now,
    )
    dataset.address_requests[request.id] = request
    change = AddressChange(status=AddressChangeStatus.REQUESTED, request_id=request.id, order=order)
    return change, None


def decide_address_request(
    dataset: Dataset, request_id: str, body: DecideAddressRequest, now: datetime
) -> Change:
    """The warehouse's answer to a PENDING request: approving applies the address if the
    order can still take it (else 409 with the refusal; the request stays PENDING)."""
    request = dataset.address_requests.get(request_id)
    if request is None:
        raise ChangeError(404, NOT_FOUND, f"no address request {request_id!r}")
    if request.status is not AddressRequestStatus.PENDING:
        raise ChangeError(
            409, ALREADY_DECIDED, f"address request {request_id} is {request.status.value}"
        )
    order = _order(dataset, request.order_id)
    if body.approve:
        check_address_change(order)
        order = replace(order, shipping_address=request.address)
    status = AddressRequestStatus.APPROVED if body.approve else AddressRequestStatus.REJECTED
    # a rejection changes no order field but still moves updatedAt, like a touch
    _, event = _store_order(
        dataset, replace(order, updated_at=_after(order.updated_at, now)), EventType.ORDER_UPDATED
    )
    decided = replace(request, status=status, decided_at=event.occurred_at)
    dataset.address_requests[request_id] = decided
    return decided, event


# --- what an order still accepts (domain/eligibility.py's rules, same OrderProgress) -


def check_cancel(order: Order) -> None:
    """Raise the 409 that refuses cancelling all of ``order``: once anything shipped or a
    warehouse works on (or finished) a fulfillment order."""
    progress = OrderProgress.of(order)
    _refuse_closed(progress)
    _refuse_shipped(progress)
    if progress.handed_over:
        raise ChangeError(409, IN_FULFILLMENT, f"order {order.id} is with a warehouse")


def cancellable_quantities(order: Order) -> dict[str, int]:
    """Line id -> units that can still be cancelled (lines with none are left out)."""
    return {} if order.cancelled_at is not None else OrderProgress.of(order).cancellable()


def check_address_change(order: Order) -> AddressChangeStatus:
    """How a new shipping address would be taken: at once, or as a warehouse request;
    raises the 409 that refuses it."""
    progress = OrderProgress.of(order)
    _refuse_closed(progress)
    live = progress.live
    if live and all(fo.delivery_method.method_type is DeliveryMethodType.PICK_UP for fo in live):
        raise ChangeError(409, PICKUP_ORDER, f"order {order.id} is collected, not shipped")
    _refuse_shipped(progress)
    return AddressChangeStatus.REQUESTED if progress.handed_over else AddressChangeStatus.APPLIED


def _refuse_closed(progress: OrderProgress) -> None:
    order = progress.order
    if order.cancelled_at is not None:
        raise ChangeError(409, ALREADY_CANCELLED, f"order {order.id} is already cancelled")
    if progress.active <= 0:
        raise ChangeError(409, NOTHING_TO_CANCEL, f"every line of order {order.id} is cancelled")


def _refuse_shipped(progress: OrderProgress) -> None:
    order = progress.order
    shipped = progress.shipped
    if shipped >= progress.active:
        raise ChangeError(409, ALREADY_SHIPPED, f"order {order.id} has shipped")
    if shipped:
        raise ChangeError(409, PARTIALLY_SHIPPED, f"order {order.id} has partly shipped")


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
        first_attempted_at=tracking.first_attempted_at
        or (at if step in cat.ATTEMPT_STEPS else None),
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
    anything is incoming. A new expected date is appended to ``restockHistory`` (emptied
    with ``incoming``); ``oversoldSince`` is set when ``available`` goes negative and
    cleared when it no longer is.
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
    history = list(level.restock_history) if incoming else []
    if expected is not None and (not history or history[-1].expected_at != expected):
        history.append(RestockExpectation(expected_at=expected, set_at=at))
    new_level = replace(
        level,
        available=available,
        on_hand=on_hand,
        incoming=incoming,
        incoming_expected_at=expected,
        as_of=at,
        oversold_since=(level.oversold_since or at) if available < 0 else None,
        restock_history=history,
    )
    levels = [*item.levels[:index], new_level, *item.levels[index + 1 :]]
    changed = InventoryItem(sku=item.sku, levels=levels)
    dataset.inventory[sku] = changed
    return changed, ChangeEvent(type=EventType.INVENTORY_CHANGED, occurred_at=at, sku=sku)


def update_ticket(dataset: Dataset, ticket_id: str, body: UpdateTicket, now: datetime) -> Change:
    """Change a ticket's status and/or priority."""
    tickets, i = _find_ticket(dataset, ticket_id)
    ticket = tickets[i]
    tickets[i] = updated = replace(
        ticket,
        status=body.status or ticket.status,
        priority=body.priority or ticket.priority,
        updated_at=_after(ticket.updated_at, now),
    )
    return updated, _ticket_changed(updated)


def create_ticket(dataset: Dataset, _key: str, body: CreateTicketRequest, now: datetime) -> Change:
    """A NEW ticket about an existing order, opened with a public first comment by
    ``body.author`` or else the order's customer (``POST /tickets``)."""
    order = dataset.orders.get(body.order_id)
    if order is None:
        raise ChangeError(404, ORDER_NOT_FOUND, f"no order {body.order_id!r} to open a ticket on")
    at = _after(order.placed_at, now)
    ticket_id = _next_id((t.id for t in _all_tickets(dataset)), first=cat.FIRST_TICKET_ID)
    first = TicketComment(
        id=_next_comment_id(dataset),
        author=body.author or order.customer.name,
        body=body.body,
        created_at=at,
    )
    ticket = Ticket(
        id=ticket_id,
        order_id=order.id,
        status=TicketStatus.NEW,
        priority=body.priority,
        type=body.type,
        channel=body.channel,
        subject=body.subject,
        created_at=at,
        updated_at=at,
        url=cat.ticket_url(ticket_id),
        comments=[first],
    )
    dataset.tickets.setdefault(order.id, []).append(ticket)
    return ticket, _ticket_changed(ticket)


def add_comment(dataset: Dataset, ticket_id: str, body: AddCommentRequest, now: datetime) -> Change:
    """Append a comment (``POST /tickets/{id}/comments``). A CLOSED ticket is read-only
    (409); a comment on a SOLVED one reopens it, as in Zendesk."""
    tickets, i = _find_ticket(dataset, ticket_id)
    ticket = tickets[i]
    if ticket.status is TicketStatus.CLOSED:
        raise ChangeError(
            409, TICKET_CLOSED, f"ticket {ticket_id} is closed: open a follow-up ticket instead"
        )
    at = _after(ticket.updated_at, now)
    comment = TicketComment(
        id=_next_comment_id(dataset),
        author=body.author,
        body=body.body,
        public=body.public,
        created_at=at,
    )
    reopened = ticket.status is TicketStatus.SOLVED
    tickets[i] = updated = replace(
        ticket,
        status=TicketStatus.OPEN if reopened else ticket.status,
        comments=[*ticket.comments, comment],
        updated_at=at,
    )
    return CommentAdded(ticket=updated, comment=comment), _ticket_changed(updated)


def _find_ticket(dataset: Dataset, ticket_id: str) -> tuple[list[Ticket], int]:
    """The list holding ticket ``ticket_id`` and its index there (404 if none)."""
    for tickets in dataset.tickets.values():
        for i, ticket in enumerate(tickets):
            if ticket.id == ticket_id:
                return tickets, i
    raise ChangeError(404, NOT_FOUND, f"no ticket {ticket_id!r}")


def _all_tickets(dataset: Dataset) -> Iterable[Ticket]:
    return (ticket for tickets in dataset.tickets.values() for ticket in tickets)


def _next_comment_id(dataset: Dataset) -> str:
    ids = (c.id for t in _all_tickets(dataset) for c in t.comments)
    return _next_id(ids, first=cat.FIRST_COMMENT_ID)


def _next_id(ids: Iterable[str], *, first: int) -> str:
    """One more than the largest numeric id of ``ids``, or ``first`` when there is none."""
    return str(max((int(i) for i in ids if i.isdigit()), default=first - 1) + 1)


def _ticket_changed(ticket: Ticket) -> ChangeEvent:
    return ChangeEvent(
        type=EventType.TICKET_UPDATED,
        occurred_at=ticket.updated_at,
        order_id=ticket.order_id,
        ticket_id=ticket.id,
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
