"""What every mutation shares: user errors, the outcome kept per idempotency key, and
:func:`mutate`, which runs a mutation once per key and announces its change."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import strawberry

from resolvers.client_errors import BAD_USER_INPUT, INVALID_ID, NOT_FOUND, UserInputError
from resolvers.idempotency import KEEP_S, InProgress, run_once, source_key
from resolvers.relay import expect_global_id
from resolvers.types.order import Info, Order
from sources import records
from sources.cache.through import Cached, Freshness
from sources.clients.changes import (
    IDEMPOTENCY_IN_PROGRESS,
    IDEMPOTENCY_KEY_REUSED,
    ChangeRefused,
    idempotency_key,
)
from sources.clients.http import SourceRejected
from sources.events import ChangeEvent, EventType
from sources.resilience import deadline


@strawberry.type(description="Why a mutation did not do what was asked; nothing was changed.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["orderId"]; null when the '
        "refusal is about the whole request."
    )
    message: str = strawberry.field(description="What went wrong, for a person to read.")
    code: str = strawberry.field(
        description="Stable code to act on, e.g. NOT_FOUND, TICKET_CLOSED, or a `ChangeReason`."
    )


class _Error(msgspec.Struct):
    field: list[str] | None
    message: str
    code: str


class Outcome(msgspec.Struct):
    """What a mutation answered, as kept for its idempotency key."""

    fingerprint: str = ""
    errors: list[_Error] = []
    order: records.Order | None = None
    status: records.AddressChangeStatus | None = None
    request_id: str | None = None
    ticket: records.Ticket | None = None
    comment: records.TicketComment | None = None

    def user_errors(self) -> list[UserError]:
        return [UserError(field=e.field, message=e.message, code=e.code) for e in self.errors]


_DECODER = msgspec.json.Decoder(Outcome)


def idempotency_key_field() -> Any:
    """Every mutation input's ``idempotencyKey``: optional, kept for :data:`KEEP_S`."""
    return strawberry.field(
        default=None,
        description="Any unique string: a repeat with the same key and input within "
        f"{KEEP_S / 3600:g} hours gets the first outcome and the change is made once; the "
        f"same key with another input is refused ({IDEMPOTENCY_KEY_REUSED}).",
    )


class MutationRefused(Exception):
    """Raised by a mutation's own checks (input, tenant, eligibility) while it runs: its
    answer is this user error, nothing changed. A source's refusal of the change itself
    is :class:`ChangeRefused`, answered the same way by :func:`mutate`."""

    def __init__(self, field: str | None, message: str, code: str | None) -> None:
        super().__init__(message)
        path = None if field is None else [field]
        self.outcome = Outcome(errors=[_Error(path, message, code or "NOT_ALLOWED")])


async def mutate(
    info: Info, name: str, input: object, run: Callable[[], Awaitable[Outcome]]
) -> Outcome:
    """``run()`` once per idempotency key (repeats get the kept outcome), its refusals
    as user errors, then the cache invalidated and the change announced. The key is
    passed on to the source too (see :mod:`resolvers.idempotency`).

    ``run`` checks tenant and eligibility before it calls the source and raises
    :class:`MutationRefused` (or lets the source's :class:`ChangeRefused` through) to say no.
    """
    context = info.context
    fingerprint = hashlib.sha256(repr((name, _comparable(input))).encode()).hexdigest()

    key = getattr(input, "idempotency_key", None)
    # Per view, not per tenant: a kept outcome holds what its first caller was shown
    # (a console's internal note), and a repeat skips the checks that ran in ``run``.
    scoped = None if key is None else f"{context.access.view}:{name}:{key}"

    async def compute() -> bytes:
        try:
            with idempotency_key(None if scoped is None else source_key(scoped)):
                outcome = await run()
        except MutationRefused as refused:
            outcome = refused.outcome
        except ChangeRefused as refused:
            # The source's own idempotency answers are not outcomes to keep: the same
            # request may be retried, another one must not be.
            if refused.code == IDEMPOTENCY_KEY_REUSED:
                raise _key_reused() from None
            if refused.code == IDEMPOTENCY_IN_PROGRESS:
                raise InProgress() from None
            outcome = MutationRefused(None, refused.message, refused.code).outcome
        except SourceRejected as rejected:
            # A 4xx the gateway's own checks did not foresee: the caller's input, not an
            # outage. Nothing changed; the source's words stay in the log.
            outcome = MutationRefused(
                None, f"the {rejected.source} refused the request as invalid", BAD_USER_INPUT
            ).outcome
        change = _change_of(outcome)
        if change is not None:
            await context.cached.apply_change(change)
        return msgspec.json.encode(msgspec.structs.replace(outcome, fingerprint=fingerprint))

    if scoped is None:
        kept = await compute()
    else:
        left = deadline.remaining()
        wait_s = 5.0 if left is None else max(0.0, left)
        kept = await run_once(context.cached.backend, scoped, compute, wait_s=wait_s)
    outcome = _DECODER.decode(kept)
    if outcome.fingerprint != fingerprint:
        raise _key_reused()
    return outcome


def _key_reused() -> UserInputError:
    return UserInputError(
        "this idempotency key was used for another request", code=IDEMPOTENCY_KEY_REUSED
    )


def id_parts(global_id: str, type_name: str, parts: int, field: str) -> list[str]:
    """The parts of ``global_id``, which must name a ``type_name`` (else INVALID_ID)."""
    try:
        return expect_global_id(global_id, type_name, parts)
    except UserInputError as exc:
        raise MutationRefused(field, exc.message, INVALID_ID) from None


async def visible_order(info: Info, order_id: str, field: str) -> records.Order:
    """The order, if the caller's tenant may see it: another tenant's order is
    NOT_FOUND, exactly like one that does not exist."""
    order = (await info.context.loaders.order_by_id.load(order_id)).value
    if order is None or not info.context.access.sees(order.account_id):
        raise MutationRefused(field, "no such order", NOT_FOUND)
    return order


def order_of(info: Info, outcome: Outcome) -> Order | None:
    if outcome.order is None:
        return None
    cached = Cached(outcome.order, Freshness.FRESH, info.context.clock.time())
    return Order.visible(cached, info.context.access)


def _change_of(outcome: Outcome) -> ChangeEvent | None:
    """What the outcome changed, to invalidate and announce."""
    if outcome.ticket is not None:
        ticket = outcome.ticket
        return ChangeEvent(
            type=EventType.TICKET_UPDATED,
            occurred_at=ticket.updated_at,
            order_id=ticket.order_id,
            ticket_id=ticket.id,
        )
    if outcome.order is not None:
        order = outcome.order
        cancelled = order.cancelled_at is not None
        return ChangeEvent(
            type=EventType.ORDER_CANCELLED if cancelled else EventType.ORDER_UPDATED,
            occurred_at=order.updated_at,
            order_id=order.id,
        )
    return None


def _comparable(value: object) -> object:
    """A comparable view of an input object (nested inputs and enums included)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _comparable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value
