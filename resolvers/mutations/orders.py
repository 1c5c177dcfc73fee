"""Order mutations: cancel (whole or some lines) and change the shipping address."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import strawberry

from domain.addresses import check_address
from domain.eligibility import (
    TOO_MANY,
    cancellable_quantities,
    change_eligibility,
    line_cancel_problem,
)
from resolvers.access import requires
from resolvers.client_errors import INVALID_ID, UserInputError
from resolvers.mutations.common import UserError, idempotency_key_field
from resolvers.mutations.runner import MutationRefused, Outcome, Subject, mutate
from resolvers.mutations.targets import id_parts, order_of, visible_order
from resolvers.relay import from_global_id
from resolvers.types.describe import described_enum
from resolvers.types.enums import CancelReason
from resolvers.types.order import Info, Order
from sources import records


@strawberry.input(description="Units of one order line to cancel.")
class LineCancelInput:
    line_item_id: strawberry.ID = strawberry.field(
        description="The line's global id (`LineItem.id`), a line of this order."
    )
    quantity: int = strawberry.field(
        description="Units to cancel; at most the line's units not yet shipped or cancelled."
    )


@strawberry.input(description="What `orderCancel` cancels.")
class OrderCancelInput:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    reason: CancelReason = strawberry.field(
        description="Why it is cancelled, as the OMS records it."
    )
    lines: list[LineCancelInput] | None = strawberry.field(
        default=None,
        description="Cancel only these unfulfilled quantities; the whole order when omitted.",
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="A postal address to ship to.")
class MailingAddressInput:
    name: str = strawberry.field(description="Recipient's name.")
    line1: str = strawberry.field(description="Street address.")
    line2: str | None = strawberry.field(
        default=None, description="Apartment, suite or floor, if any."
    )
    city: str = strawberry.field(description="City.")
    region: str | None = strawberry.field(
        default=None, description="State, province or region code, where the country uses one."
    )
    postal_code: str = strawberry.field(description="Postal code.")
    country_code: str = strawberry.field(description="ISO 3166-1 alpha-2 country code.")
    phone: str | None = strawberry.field(
        default=None, description="Recipient's phone number, if any."
    )


@strawberry.input(description="What `orderUpdateShippingAddress` changes.")
class OrderUpdateShippingAddressInput:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    address: MailingAddressInput = strawberry.field(description="The new shipping address.")
    idempotency_key: str | None = idempotency_key_field()


described_enum(
    records.AddressChangeStatus,
    {
        "APPLIED": "The order carries the new address now.",
        "REQUESTED": "A warehouse has the work: it approves or rejects the change later.",
    },
    description="What became of an address change (OMS).",
)


# The order answered is what a read answers: it needs orders:read beside orders:write
# (the gate refuses the whole mutation otherwise).
_READ_ORDER = requires("orders:read")


@strawberry.type(description="What `orderCancel` did.")
class OrderCancelPayload:
    order: Order | None = strawberry.field(
        description="The order as the OMS answered the cancellation; null when refused. "
        "Needs orders:read.",
        directives=_READ_ORDER,
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing was cancelled; empty on success."
    )


@strawberry.type(description="What `orderUpdateShippingAddress` did.")
class OrderUpdateShippingAddressPayload:
    order: Order | None = strawberry.field(
        description="The order as the OMS answered the change; null when refused. Needs "
        "orders:read.",
        directives=_READ_ORDER,
    )
    status: records.AddressChangeStatus | None = strawberry.field(
        description="APPLIED, or REQUESTED: a warehouse has the work and decides."
    )
    request_id: str | None = strawberry.field(
        description="The OMS's id of the change request when REQUESTED; null otherwise."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing was changed; empty on success."
    )


async def order_cancel(
    info: Info,
    input: Annotated[OrderCancelInput, strawberry.argument(description="What to cancel.")],
) -> OrderCancelPayload:
    async def cancel(subject: Subject) -> Outcome:
        order = await _order(info, input.order_id)
        lines = None
        if input.lines is not None:
            # Checked here, never by the OMS: a bad line used to reach it as a 4xx.
            lines = [_line(order, index, line) for index, line in enumerate(input.lines)]
            problem = line_cancel_problem(order, [(q.line_id, q.quantity) for q in lines])
            if problem is not None:
                raise MutationRefused("lines", _at(problem.index, problem.message), problem.code)
            decision = change_eligibility(
                order, oms_cancels_lines=info.context.oms_cancels_lines
            ).cancel_lines
            left = cancellable_quantities(order)
            too_many = [q for q in lines if q.quantity > left.get(q.line_id, 0)]
            if too_many and decision.allowed:
                raise MutationRefused("lines", "more than can still be cancelled", TOO_MANY)
        else:
            decision = change_eligibility(order).cancel
        if decision.reason_code == records.LINE_CANCEL_NOT_SUPPORTED:
            message = "the order management system cancels whole orders only"
            raise MutationRefused("lines", message, decision.reason_code)
        if not decision.allowed:
            raise MutationRefused(
                None, "this order can no longer be cancelled", decision.reason_code
            )
        subject.order(order.id)
        if lines is not None:  # one body for one request: the source's key compares them
            lines.sort(key=lambda q: q.line_id)
        oms = info.context.cached.upstreams.oms
        return Outcome(order=await oms.cancel_order(order.id, input.reason, lines))

    outcome = await mutate(info, "orderCancel", _lines_in_order(input), cancel)
    return OrderCancelPayload(order=order_of(info, outcome), user_errors=outcome.user_errors())


async def order_update_shipping_address(
    info: Info,
    input: Annotated[
        OrderUpdateShippingAddressInput,
        strawberry.argument(description="The order and its new address."),
    ],
) -> OrderUpdateShippingAddressPayload:
    async def change(subject: Subject) -> Outcome:
        address, problems = _checked_address(input.address)
        if problems:
            raise MutationRefused.every(problems)
        order = await _order(info, input.order_id)
        decision = change_eligibility(order).change_address
        if not decision.allowed:
            raise MutationRefused(None, "the address can no longer change", decision.reason_code)
        subject.order(order.id)
        oms = info.context.cached.upstreams.oms
        answer = await oms.change_shipping_address(order.id, address)
        return Outcome(order=answer.order, status=answer.status, request_id=answer.request_id)

    outcome = await mutate(info, "orderUpdateShippingAddress", input, change)
    return OrderUpdateShippingAddressPayload(
        order=order_of(info, outcome),
        status=outcome.status,
        request_id=outcome.request_id,
        user_errors=outcome.user_errors(),
    )


def _lines_in_order(input: OrderCancelInput) -> OrderCancelInput:
    """``input`` with its lines in one order, so that the same cancel is the same request
    (for its idempotency key) whichever order the caller gave them in."""
    if input.lines is None:
        return input
    lines = sorted(input.lines, key=lambda line: (line.line_item_id, line.quantity))
    return dataclasses.replace(input, lines=lines)


def _checked_address(
    address: MailingAddressInput,
) -> tuple[records.MailingAddress, list[UserError]]:
    """The address as checked (what is sent on), and what is wrong with it."""
    checked = check_address(
        name=address.name,
        line1=address.line1,
        line2=address.line2,
        city=address.city,
        region=address.region,
        postal_code=address.postal_code,
        country_code=address.country_code,
        phone=address.phone,
    )
    errors = [
        UserError(field=["address", p.field], message=p.message, code=p.code)
        for p in checked.problems
    ]
    return checked.address, errors


async def _order(info: Info, order_gid: str) -> records.Order:
    (order_id,) = id_parts(order_gid, "Order", 1, "orderId")
    return await visible_order(info, order_id, "orderId")


def _line(order: records.Order, index: int, line: LineCancelInput) -> records.LineQuantity:
    try:
        type_name, parts = from_global_id(line.line_item_id)
    except UserInputError:
        type_name, parts = "", []
    if type_name != "LineItem" or len(parts) != 2 or parts[0] != order.id:
        raise MutationRefused(
            "lines", _at(index, "lineItemId is not a line of this order"), INVALID_ID
        )
    return records.LineQuantity(line_id=parts[1], quantity=line.quantity)


def _at(index: int | None, message: str) -> str:
    return message if index is None else f"lines[{index}]: {message}"
