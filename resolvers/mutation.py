"""Mutations: change an order in the flow, with clear answers when it is not allowed.

Each checks scope (before execution, at the edge), tenant and eligibility before
calling the source; takes an optional ``idempotencyKey`` (the first outcome is
returned to every repeat, the source called once); never retries the source call;
then invalidates the cache and announces the change to every instance.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import time
from collections.abc import Awaitable, Callable

import msgspec
import strawberry

from resolvers.access import requires
from resolvers.eligibility import cancellable_quantities, change_eligibility
from resolvers.errors import NOT_FOUND, UserInputError
from resolvers.idempotency import run_once
from resolvers.relay import expect_global_id, from_global_id
from resolvers.types.enums import CancelReason
from resolvers.types.order import Info, Order
from sources import records
from sources.cache.through import Cached, Freshness
from sources.clients.changes import SourceRefused
from sources.events import ChangeEvent, EventType
from sources.resilience import deadline


@strawberry.type(description="Why a mutation did not do what was asked.")
class UserError:
    field: list[str] | None
    message: str
    code: str


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


@strawberry.type
class OrderCancelPayload:
    order: Order | None
    user_errors: list[UserError]


@strawberry.type
class OrderUpdateShippingAddressPayload:
    order: Order | None
    status: records.AddressChangeStatus | None = strawberry.field(
        description="APPLIED, or REQUESTED: a warehouse has the work and decides."
    )
    request_id: str | None
    user_errors: list[UserError]


class _Error(msgspec.Struct):
    field: list[str] | None
    message: str
    code: str


class _Outcome(msgspec.Struct):
    """What a mutation answered, as kept for its idempotency key."""

    fingerprint: str
    order: records.Order | None = None
    errors: list[_Error] = []
    status: records.AddressChangeStatus | None = None
    request_id: str | None = None


_DECODER = msgspec.json.Decoder(_Outcome)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Cancel an order, or some of its unfulfilled quantities.",
        directives=requires("orders:write"),
    )
    async def order_cancel(self, info: Info, input: OrderCancelInput) -> OrderCancelPayload:
        async def cancel(order: records.Order) -> _Outcome:
            lines = None
            if input.lines:
                lines = [_line(order, line) for line in input.lines]
                decision = change_eligibility(order).cancel_lines
                left = cancellable_quantities(order)
                too_many = [q for q in lines if q.quantity > left.get(q.line_id, 0)]
                if too_many and decision.allowed:
                    return _refused("lines", "more than can still be cancelled", "TOO_MANY")
            else:
                decision = change_eligibility(order).cancel
            if not decision.allowed:
                return _refused(None, "this order can no longer be cancelled", decision.reason_code)
            oms = info.context.cached.upstreams.oms
            changed = await oms.cancel_order(order.id, input.reason, lines)
            return _Outcome(fingerprint="", order=changed)

        outcome = await _mutate(info, "orderCancel", input.order_id, input, cancel)
        return OrderCancelPayload(order=_order(info, outcome), user_errors=_errors(outcome))

    @strawberry.mutation(
        description="Change where an order ships. Once a warehouse has the work the "
        "change becomes a request it approves or rejects (status REQUESTED).",
        directives=requires("orders:write"),
    )
    async def order_update_shipping_address(
        self, info: Info, input: OrderUpdateShippingAddressInput
    ) -> OrderUpdateShippingAddressPayload:
        async def change(order: records.Order) -> _Outcome:
            decision = change_eligibility(order).change_address
            if not decision.allowed:
                return _refused(None, "the address can no longer change", decision.reason_code)
            address = msgspec.convert(input.address, records.MailingAddress, from_attributes=True)
            oms = info.context.cached.upstreams.oms
            answer = await oms.change_shipping_address(order.id, address)
            return _Outcome(
                fingerprint="",
                order=answer.order,
                status=answer.status,
                request_id=answer.request_id,
            )

        outcome = await _mutate(info, "orderUpdateShippingAddress", input.order_id, input, change)
        return OrderUpdateShippingAddressPayload(
            order=_order(info, outcome),
            status=outcome.status,
            request_id=outcome.request_id,
            user_errors=_errors(outcome),
        )


async def _mutate(
    info: Info,
    name: str,
    order_gid: str,
    input: object,
    apply: Callable[[records.Order], Awaitable[_Outcome]],
) -> _Outcome:
    """Tenant check, then ``apply`` once per idempotency key, then invalidation."""
    context = info.context
    fingerprint = hashlib.sha256(repr((name, _comparable(input))).encode()).hexdigest()

    async def compute() -> bytes:
        try:
            (order_id,) = expect_global_id(order_gid, "Order", 1)
        except UserInputError as exc:
            return _encode(_refused(["orderId"], exc.message, "INVALID_ID"), fingerprint)
        found = await context.loaders.order_by_id.load(order_id)
        order = found.value
        if order is None or not context.access.sees(order.account_id):
            return _encode(_refused(["orderId"], "no such order", NOT_FOUND), fingerprint)
        try:
            outcome = await apply(order)
        except SourceRefused as refused:
            outcome = _refused(None, refused.message, refused.code)
        if outcome.order is not None:
            await context.cached.apply_change(_order_changed(outcome.order))
        return _encode(outcome, fingerprint)

    key = getattr(input, "idempotency_key", None)
    if key is None:
        kept = await compute()
    else:
        scoped = f"{context.access.tenant}:{name}:{key}"
        left = deadline.remaining()
        wait_s = 5.0 if left is None else max(0.0, left)
        kept = await run_once(context.cached.backend, scoped, compute, wait_s=wait_s)
    outcome = _DECODER.decode(kept)
    if outcome.fingerprint != fingerprint:
        raise UserInputError(
            "this idempotency key was used for another request", code="IDEMPOTENCY_KEY_REUSED"
        )
    return outcome


def _order_changed(order: records.Order) -> ChangeEvent:
    cancelled = order.cancelled_at is not None
    return ChangeEvent(
        type=EventType.ORDER_CANCELLED if cancelled else EventType.ORDER_UPDATED,
        occurred_at=order.updated_at,
        order_id=order.id,
    )


def _comparable(value: object) -> object:
    """A comparable view of an input object (nested inputs and enums included)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _comparable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _line(order: records.Order, line: LineCancelInput) -> records.LineQuantity:
    type_name, parts = from_global_id(line.line_item_id)
    if type_name != "LineItem" or len(parts) != 2 or parts[0] != order.id:
        raise UserInputError("lineItemId is not a line of this order", field="lineItemId")
    return records.LineQuantity(line_id=parts[1], quantity=line.quantity)


def _refused(field: str | list[str] | None, message: str, code: str | None) -> _Outcome:
    path = [field] if isinstance(field, str) else field
    return _Outcome(fingerprint="", errors=[_Error(path, message, code or "NOT_ALLOWED")])


def _encode(outcome: _Outcome, fingerprint: str) -> bytes:
    return msgspec.json.encode(msgspec.structs.replace(outcome, fingerprint=fingerprint))


def _order(info: Info, outcome: _Outcome) -> Order | None:
    if outcome.order is None:
        return None
    cached = Cached(outcome.order, Freshness.FRESH, time.time())
    return Order.visible(cached, info.context.access)


def _errors(outcome: _Outcome) -> list[UserError]:
    return [UserError(field=e.field, message=e.message, code=e.code) for e in outcome.errors]
