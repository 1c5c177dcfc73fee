"""What a customer or agent may still change on an order (the OMS's rules for changes:
docs/vocabulary.md).

Pure functions over ``sources.records.Order``, table-tested in tests/unit/test_eligibility.py.
A fulfillment order is *handed over* once a warehouse works on it (IN_PROGRESS,
INCOMPLETE, CLOSED); before that (OPEN, SCHEDULED, ON_HOLD) it can still be stopped.
CANCELLED fulfillment orders are ignored.

Reason codes are stable API; the first that applies wins, in this order:

- ALREADY_CANCELLED: the order is cancelled; cancellation is irreversible.
- NOTHING_TO_CANCEL: every line's quantity is cancelled though the order is not:
  nothing is left to cancel or deliver.
- LINE_CANCEL_NOT_SUPPORTED: (lines) the OMS cancels whole orders only.
- PICKUP_ORDER: (address) every live fulfillment order is a pickup: no address to change.
- ALREADY_SHIPPED: everything left on the order has shipped.
- PARTIALLY_SHIPPED: (cancel, address) part of the order has shipped.
- IN_FULFILLMENT: (cancel, lines) a warehouse holds the work that would be stopped
  (for lines: every unshipped unit is on a handed-over fulfillment order, or on none).
- REQUIRES_WAREHOUSE_APPROVAL: (address, allowed) a warehouse has the work: the change
  is a request it may reject.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.progress import OrderProgress
from sources.records import (  # the OMS's refusal codes, which these rules predict
    ALREADY_CANCELLED,
    ALREADY_SHIPPED,
    IN_FULFILLMENT,
    LINE_CANCEL_NOT_SUPPORTED,
    NOTHING_TO_CANCEL,
    PARTIALLY_SHIPPED,
    PICKUP_ORDER,
    DeliveryMethodType,
    FulfillmentOrder,
    Order,
)

REQUIRES_WAREHOUSE_APPROVAL = "REQUIRES_WAREHOUSE_APPROVAL"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason_code: str | None  # None when allowed without conditions


@dataclass(frozen=True)
class ChangeEligibility:
    cancel: Decision  # cancel the whole order
    cancel_lines: Decision  # cancel some unfulfilled line quantities
    change_address: Decision


_ALLOWED = Decision(allowed=True, reason_code=None)


def _denied(reason_code: str) -> Decision:
    return Decision(allowed=False, reason_code=reason_code)


def change_eligibility(
    order: Order, progress: OrderProgress | None = None, *, oms_cancels_lines: bool = True
) -> ChangeEligibility:
    """Which changes ``order`` still accepts, and why not when it does not;
    ``progress``: the order's, when the caller has it already; ``oms_cancels_lines``:
    whether the OMS holding it cancels some lines (else whole orders only)."""
    progress = progress or OrderProgress.of(order)
    closed = _closed_reason(progress)
    if closed is not None:
        return ChangeEligibility(_denied(closed), _denied(closed), _denied(closed))
    shipping = _shipping_reason(progress)
    lines = _line_cancel(progress) if oms_cancels_lines else _denied(LINE_CANCEL_NOT_SUPPORTED)
    return ChangeEligibility(
        cancel=_whole_cancel(shipping, progress.handed_over),
        cancel_lines=lines,
        change_address=_address_change(progress.live, shipping, progress.handed_over),
    )


def cancellable_quantities(order: Order) -> dict[str, int]:
    """Line id -> quantity that can still be cancelled: unshipped units on fulfillment
    orders no warehouse has started. Lines with nothing cancellable are left out.

    Shipped is the larger of the line's own count and what shipments carry (see
    :class:`domain.progress.OrderProgress`), so a lagging counter never makes shipped
    goods look cancellable."""
    if order.cancelled_at is not None:
        return {}
    return OrderProgress.of(order).cancellable()


INVALID_QUANTITY = "INVALID_QUANTITY"
DUPLICATE_LINE = "DUPLICATE_LINE"
NOT_A_LINE = "NOT_A_LINE"
NO_LINES = "NO_LINES"
TOO_MANY = "TOO_MANY"


@dataclass(frozen=True)
class LineProblem:
    """Why the lines asked for cannot be cancelled as asked: ``index`` of the line at
    fault (``None`` for the list as a whole), a stable ``code`` and a message."""

    index: int | None
    code: str
    message: str


def line_cancel_problem(order: Order, lines: list[tuple[str, int]]) -> LineProblem | None:
    """The first thing wrong with cancelling ``lines`` (line id, quantity) of ``order``
    as input: an empty list, a quantity below 1, a line asked twice, a line that is not
    one of the order's. ``None`` when the request is well-formed (whether the order
    still allows it is ``change_eligibility``'s and ``cancellable_quantities``' call)."""
    if not lines:
        return LineProblem(None, NO_LINES, "give at least one line, or omit lines")
    own = {line.id for line in order.lines}
    seen: set[str] = set()
    for index, (line_id, quantity) in enumerate(lines):
        if line_id not in own:
            return LineProblem(index, NOT_A_LINE, "lineItemId is not a line of this order")
        if line_id in seen:
            return LineProblem(index, DUPLICATE_LINE, "each line may be given only once")
        seen.add(line_id)
        if quantity < 1:
            return LineProblem(index, INVALID_QUANTITY, "quantity must be at least 1")
    return None


def _closed_reason(progress: OrderProgress) -> str | None:
    if progress.order.cancelled_at is not None:
        return ALREADY_CANCELLED
    if progress.active <= 0:
        return NOTHING_TO_CANCEL
    return None


def _shipping_reason(progress: OrderProgress) -> str | None:
    if progress.shipped >= progress.active:
        return ALREADY_SHIPPED
    if progress.shipped:
        return PARTIALLY_SHIPPED
    return None


def _whole_cancel(shipping: str | None, handed_over: bool) -> Decision:
    if shipping is not None:
        return _denied(shipping)
    return _denied(IN_FULFILLMENT) if handed_over else _ALLOWED


def _line_cancel(progress: OrderProgress) -> Decision:
    if progress.cancellable():
        return _ALLOWED
    if progress.all_shipped:
        return _denied(ALREADY_SHIPPED)
    return _denied(IN_FULFILLMENT)


def _address_change(
    live: Sequence[FulfillmentOrder], shipping: str | None, handed_over: bool
) -> Decision:
    if live and all(fo.delivery_method.method_type is DeliveryMethodType.PICK_UP for fo in live):
        return _denied(PICKUP_ORDER)
    if shipping is not None:
        return _denied(shipping)
    if handed_over:
        return Decision(allowed=True, reason_code=REQUIRES_WAREHOUSE_APPROVAL)
    return _ALLOWED
