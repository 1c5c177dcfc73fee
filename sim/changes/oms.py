"""OMS changes: the staff cancel and touch (admin), the customer's cancel of an order or
some of its lines and shipping-address change (data endpoints), and the warehouse's
shipment of a fulfillment order and decision on an address change it was asked for.

What an order still accepts is decided with :class:`~domain.progress.OrderProgress`,
the same arithmetic as the gateway's eligibility rules (domain/eligibility.py), so the
OMS refuses with the very codes, in the same precedence, the gateway predicts.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Mapping
from datetime import datetime

from msgspec.structs import replace

from domain.progress import FINISHED, STOPPABLE, OrderProgress
from sim.changes import NOT_FOUND, Body, Change, ChangeError, NoBody, after
from sim.seed import Dataset
from sources.events import ChangeEvent, EventType

# The refusals of the order-changing data endpoints: the OMS's codes, which it reaches
# by its own checks below, in the precedence of domain/eligibility.py's rules.
from sources.records import (
    ALREADY_CANCELLED,
    ALREADY_SHIPPED,
    IN_FULFILLMENT,
    NOT_CANCELLABLE,
    NOTHING_TO_CANCEL,
    PARTIALLY_SHIPPED,
    PICKUP_ORDER,
    QUANTITY_NOT_CANCELLABLE,
    AddressChange,
    AddressChangeRequest,
    AddressChangeStatus,
    AddressRequestStatus,
    CancelOrderRequest,
    CancelReason,
    DeliveryMethodType,
    FinancialStatus,
    FulfillmentOrder,
    FulfillmentOrderStatus,
    FulfillmentStatus,
    LineQuantity,
    MailingAddress,
    Order,
    OrderLine,
    Shipment,
)

NOT_SHIPPABLE = "NOT_SHIPPABLE"  # a fulfillment order held, scheduled, finished or for pickup
ALREADY_DECIDED = "ALREADY_DECIDED"

# Authorised or pending, nothing taken yet: a whole cancel voids it.
_UNCAPTURED = frozenset({FinancialStatus.AUTHORIZED, FinancialStatus.PENDING})
# Money taken: a cancel refunds it, partly or, for the whole order, all that is left.
_PAID = frozenset({FinancialStatus.PAID, FinancialStatus.PARTIALLY_PAID})
_CAPTURED = _PAID | {FinancialStatus.PARTIALLY_REFUNDED}


class CancelOrder(Body, frozen=True, kw_only=True):
    reason: CancelReason


class DecideAddressRequest(Body, frozen=True, kw_only=True):
    approve: bool


class ShipFulfillmentOrder(Body, frozen=True, kw_only=True):
    fulfillment_order_id: str
    carrier_code: str
    tracking_number: str | None = None


def cancel_order(dataset: Dataset, order_id: str, body: CancelOrder, now: datetime) -> Change:
    """Staff cancel (admin): any order that has shipped nothing, even one a warehouse is
    working on. A shipment counts even while the lines' shipped counters lag behind it."""
    order = _order(dataset, order_id)
    if order.cancelled_at is not None:
        raise ChangeError(409, NOT_CANCELLABLE, f"order {order_id} is already cancelled")
    if OrderProgress.of(order).shipped:
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
    at = after(order.updated_at, now)
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
    """``order`` with ``cancel`` taken off its lines and off the units fulfillment orders
    no warehouse has started have still to ship (a unit shipped from one stays on it);
    emptied fulfillment orders are cancelled (keeping their lines)."""
    at = after(order.updated_at, now)
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
    unshipped = OrderProgress.of(order).unshipped
    fulfillment_orders = []
    for fo in order.fulfillment_orders:
        if fo.status in STOPPABLE and any(left[part.line_id] for part in fo.lines):
            fo = _without(fo, unshipped[fo.id], left, at)
        fulfillment_orders.append(fo)
    changed = replace(order, lines=lines, fulfillment_orders=fulfillment_orders, updated_at=at)
    progress = OrderProgress.of(changed)
    everything = progress.active <= 0
    return replace(
        changed,
        financial_status=_refunded(order.financial_status, everything=everything),
        fulfillment_status=progress.fulfillment_status(),
    )


def _without(
    fo: FulfillmentOrder, unshipped: Mapping[str, int], left: Counter[str], at: datetime
) -> FulfillmentOrder:
    """``fo`` carrying ``left`` fewer units, taken from those it has still to ship
    (``unshipped``: line id -> units; ``left`` is drawn down)."""
    parts = []
    for part in fo.lines:
        taken = min(unshipped.get(part.line_id, 0), left[part.line_id])
        left[part.line_id] -= taken
        if part.quantity > taken:
            parts.append(replace(part, quantity=part.quantity - taken))
    if not parts:
        return replace(fo, status=FulfillmentOrderStatus.CANCELLED, updated_at=at)
    return replace(fo, lines=parts, updated_at=at)


def _refunded(status: FinancialStatus, *, everything: bool) -> FinancialStatus:
    """The payment after cancelling ``everything`` or only part of an order: an
    uncaptured payment is voided (or kept for the rest), a captured one refunded. One
    already voided, expired or refunded stays as it is: no money moves."""
    if everything and status in _UNCAPTURED:
        return FinancialStatus.VOIDED
    if everything and status in _CAPTURED:
        return FinancialStatus.REFUNDED
    return FinancialStatus.PARTIALLY_REFUNDED if status in _PAID else status


def change_shipping_address(
    dataset: Dataset, order_id: str, address: MailingAddress, now: datetime
) -> tuple[AddressChange, ChangeEvent | None]:
    """Apply ``address`` at once, or, when a warehouse has the work, record it as a
    PENDING request for the warehouse to decide (no event: the order is unchanged)."""
    order = _order(dataset, order_id)
    if check_address_change(order) is AddressChangeStatus.APPLIED:
        changed = replace(order, shipping_address=address, updated_at=after(order.updated_at, now))
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
        dataset, replace(order, updated_at=after(order.updated_at, now)), EventType.ORDER_UPDATED
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


_SHIPPABLE = frozenset({FulfillmentOrderStatus.OPEN, FulfillmentOrderStatus.IN_PROGRESS})


def ship_fulfillment_order(
    dataset: Dataset, order_id: str, body: ShipFulfillmentOrder, now: datetime
) -> Change:
    """The warehouse ships what a fulfillment order still holds: one shipment of it
    (shipped now), the fulfillment order CLOSED, the lines' shipped units raised and
    the order's fulfillment status moved on."""
    order = _order(dataset, order_id)
    fo = next((f for f in order.fulfillment_orders if f.id == body.fulfillment_order_id), None)
    if fo is None:
        raise ChangeError(404, NOT_FOUND, f"order {order_id} has no {body.fulfillment_order_id!r}")
    progress = OrderProgress.of(order)
    left = progress.unshipped.get(fo.id, {})  # none left on a closed or cancelled one
    parts = [LineQuantity(line_id=line, quantity=n) for line, n in left.items()]
    pickup = fo.delivery_method.method_type is DeliveryMethodType.PICK_UP
    if order.cancelled_at or pickup or fo.status not in _SHIPPABLE or not parts:
        message = f"{fo.id} is {fo.status.value}{' (pickup)' if pickup else ''}: nothing to ship"
        raise ChangeError(409, NOT_SHIPPABLE, message)
    at = after(order.updated_at, now)
    shipment = Shipment(
        id=f"shp_{secrets.randbelow(9 * 10**8) + 10**8}",
        fulfillment_order_id=fo.id,
        carrier_code=body.carrier_code,
        tracking_number=body.tracking_number,
        lines=parts,
        shipped_at=at,
    )
    shipped = {part.line_id: part.quantity for part in parts}
    lines = [
        _shipped(line, progress.lines[line.id].active, shipped.get(line.id, 0))
        for line in order.lines
    ]
    closed = replace(fo, status=FulfillmentOrderStatus.CLOSED, updated_at=at)
    changed = replace(
        order,
        lines=lines,
        fulfillment_orders=[closed if f.id == fo.id else f for f in order.fulfillment_orders],
        shipments=[*order.shipments, shipment],
        updated_at=at,
    )
    changed = replace(changed, fulfillment_status=OrderProgress.of(changed).fulfillment_status())
    return _store_order(dataset, changed, EventType.ORDER_UPDATED)


def _shipped(line: OrderLine, active: int, units: int) -> OrderLine:
    """``line`` with ``units`` more shipped, never more than its ``active`` units."""
    counted = line.quantities
    return replace(line, quantities=replace(counted, shipped=min(active, counted.shipped + units)))


def touch_order(dataset: Dataset, order_id: str, _body: NoBody, now: datetime) -> Change:
    """Only bump ``updatedAt`` (a change the gateway must still notice)."""
    order = _order(dataset, order_id)
    return _store_order(
        dataset, replace(order, updated_at=after(order.updated_at, now)), EventType.ORDER_UPDATED
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
