"""Order mutations: cancel (whole or some lines) and change the shipping address."""

from __future__ import annotations

import msgspec
import strawberry

from resolvers.access import requires
from resolvers.eligibility import cancellable_quantities, change_eligibility
from resolvers.errors import UserInputError
from resolvers.mutations.common import (
    Outcome,
    Refused,
    UserError,
    id_parts,
    mutate,
    order_of,
    visible_order,
)
from resolvers.relay import from_global_id
from resolvers.types.enums import CancelReason
from resolvers.types.order import Info, Order
from sources import records


@strawberry.input
class LineCancelInput:
    line_item_id: strawberry.ID
    quantity: int


@strawberry.input
class OrderCancelInput:
    order_id: strawberry.ID
    reason: CancelReason
    lines: list[LineCancelInput] | None = strawberry.field(
        default=None, description="Cancel only these unfulfilled quantities."
    )
    idempotency_key: str | None = None


@strawberry.input
class MailingAddressInput:
    name: str
    line1: str
    line2: str | None = None
    city: str
    region: str | None = None
    postal_code: str
    country_code: str
    phone: str | None = None


@strawberry.input
class OrderUpdateShippingAddressInput:
    order_id: strawberry.ID
    address: MailingAddressInput
    idempotency_key: str | None = None


strawberry.enum(records.AddressChangeStatus)


# The order answered is what a read answers: it needs orders:read beside orders:write
# (the gate refuses the whole mutation otherwise).
_READ_ORDER = requires("orders:read")


@strawberry.type
class OrderCancelPayload:
    order: Order | None = strawberry.field(directives=_READ_ORDER)
    user_errors: list[UserError]


@strawberry.type
class OrderUpdateShippingAddressPayload:
    order: Order | None = strawberry.field(directives=_READ_ORDER)
    status: records.AddressChangeStatus | None = strawberry.field(
        description="APPLIED, or REQUESTED: a warehouse has the work and decides."
    )
    request_id: str | None
    user_errors: list[UserError]


async def order_cancel(info: Info, input: OrderCancelInput) -> OrderCancelPayload:
    async def cancel() -> Outcome:
        order = await _order(info, input.order_id)
        lines = None
        if input.lines:
            lines = [_line(order, line) for line in input.lines]
            decision = change_eligibility(order).cancel_lines
            left = cancellable_quantities(order)
            too_many = [q for q in lines if q.quantity > left.get(q.line_id, 0)]
            if too_many and decision.allowed:
                raise Refused("lines", "more than can still be cancelled", "TOO_MANY")
        else:
            decision = change_eligibility(order).cancel
        if not decision.allowed:
            raise Refused(None, "this order can no longer be cancelled", decision.reason_code)
        oms = info.context.cached.upstreams.oms
        return Outcome(order=await oms.cancel_order(order.id, input.reason, lines))

    outcome = await mutate(info, "orderCancel", input, cancel)
    return OrderCancelPayload(order=order_of(info, outcome), user_errors=outcome.user_errors())


async def order_update_shipping_address(
    info: Info, input: OrderUpdateShippingAddressInput
) -> OrderUpdateShippingAddressPayload:
    async def change() -> Outcome:
        order = await _order(info, input.order_id)
        decision = change_eligibility(order).change_address
        if not decision.allowed:
            raise Refused(None, "the address can no longer change", decision.reason_code)
        address = msgspec.convert(input.address, records.MailingAddress, from_attributes=True)
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


async def _order(info: Info, order_gid: str) -> records.Order:
    (order_id,) = id_parts(order_gid, "Order", 1, "orderId")
    return await visible_order(info, order_id, "orderId")


def _line(order: records.Order, line: LineCancelInput) -> records.LineQuantity:
    type_name, parts = from_global_id(line.line_item_id)
    if type_name != "LineItem" or len(parts) != 2 or parts[0] != order.id:
        raise UserInputError("lineItemId is not a line of this order", field="lineItemId")
    return records.LineQuantity(line_id=parts[1], quantity=line.quantity)
