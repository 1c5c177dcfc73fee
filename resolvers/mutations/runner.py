"""Runs a mutation: :func:`mutate` runs it once per idempotency key (repeats get the
kept :class:`Outcome`), answers its refusals as user errors and announces what it
changed (or what a source's refusal showed to be stale)."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import msgspec

from domain.addresses import INVALID_COUNTRY
from resolvers.client_errors import BAD_USER_INPUT, UserInputError
from resolvers.idempotency import InProgress, run_once, source_key
from resolvers.mutations.common import UserError
from resolvers.types.order import Info
from sources import records
from sources.clients.changes import (
    IDEMPOTENCY_IN_PROGRESS,
    IDEMPOTENCY_KEY_REUSED,
    ChangeRefused,
    idempotency_key,
)
from sources.clients.http import SourceRejected
from sources.events import ChangeEvent, EventType
from sources.resilience import deadline
from sources.webhooks import new_msg_id


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


class MutationRefused(Exception):
    """Raised by a mutation's own checks (input, tenant, eligibility) while it runs: its
    answer is this user error, nothing changed, and nothing is kept under the
    idempotency key. A source's refusal of the change itself is :class:`ChangeRefused`,
    answered the same way by :func:`mutate` (and kept)."""

    def __init__(self, field: str | None, message: str, code: str | None) -> None:
        super().__init__(message)
        path = None if field is None else [field]
        self.outcome = Outcome(errors=[_Error(path, message, code or "NOT_ALLOWED")])

    @classmethod
    def every(cls, errors: Sequence[UserError]) -> MutationRefused:
        """Refused for each of ``errors`` at once (e.g. every problem of an address)."""
        refused = cls(None, errors[0].message, errors[0].code)
        refused.outcome = Outcome(errors=[_Error(e.field, e.message, e.code) for e in errors])
        return refused


# The input field a source's refusal concerns where its code says which (sources name
# none): Shopify's unknown country (its code is the address checks'), a line's units.
_REFUSED_FIELDS: dict[str, list[str]] = {
    INVALID_COUNTRY: ["address", "countryCode"],
    records.QUANTITY_NOT_CANCELLABLE: ["lines"],
}
# Refusals of the input alone: they say nothing of the order, whose copy here stands.
_INPUT_REFUSALS = frozenset({BAD_USER_INPUT, INVALID_COUNTRY})


class Subject:
    """What a mutation is about to ask its source to change, named by ``run`` just
    before the call. The source's refusal of the change (not of the input) means the
    gateway's copy of it is stale, changed behind its back: :func:`mutate` drops and
    announces it as a change, so the next read, ``changeEligibility`` and live
    subscribers see the source's."""

    def __init__(self) -> None:
        self._event: tuple[EventType, str, str | None] | None = None

    def order(self, order_id: str) -> None:
        self._event = (EventType.ORDER_UPDATED, order_id, None)

    def tickets(self, order_id: str, ticket_id: str | None = None) -> None:
        """The order's tickets (``ticket_id``: the one asked about)."""
        self._event = (EventType.TICKET_UPDATED, order_id, ticket_id)

    def stale(self, now: datetime) -> ChangeEvent | None:
        if self._event is None:
            return None
        kind, order_id, ticket_id = self._event
        return ChangeEvent(
            type=kind, occurred_at=now, order_id=order_id, ticket_id=ticket_id, id=new_msg_id()
        )


async def mutate(
    info: Info, name: str, input: object, run: Callable[[Subject], Awaitable[Outcome]]
) -> Outcome:
    """``run(subject)`` once per idempotency key (repeats get the kept outcome), its
    refusals as user errors, then the cache invalidated and the change announced. The
    key is passed on to the source too (see :mod:`resolvers.idempotency`).

    ``run`` checks tenant and eligibility before it calls the source and raises
    :class:`MutationRefused` (or lets the source's :class:`ChangeRefused` through) to say
    no. What the key keeps is what the source was asked: its change, or its refusal of
    the change. The gateway's own refusals and a source's rejection of the request as
    malformed (:class:`SourceRejected`) are answered but not kept, and the claim is
    released: the same key may carry the corrected request.
    """
    context = info.context
    fingerprint = hashlib.sha256(repr((name, _comparable(input))).encode()).hexdigest()

    key = getattr(input, "idempotency_key", None)
    # Per view, not per tenant: a kept outcome holds what its first caller was shown
    # (a console's internal note), and a repeat skips the checks that ran in ``run``.
    scoped = None if key is None else f"{context.access.view}:{name}:{key}"
    subject = Subject()

    async def compute() -> bytes:
        try:
            with idempotency_key(None if scoped is None else source_key(scoped)):
                outcome = await run(subject)
            change = _change_of(outcome)
        except ChangeRefused as refused:
            # The source's own idempotency answers are not outcomes to keep: the same
            # request may be retried, another one must not be.
            if refused.code == IDEMPOTENCY_KEY_REUSED:
                raise _key_reused() from None
            if refused.code == IDEMPOTENCY_IN_PROGRESS:
                raise InProgress() from None
            field = _REFUSED_FIELDS.get(refused.code)
            outcome = Outcome(errors=[_Error(field, refused.message, refused.code)])
            stale = refused.code not in _INPUT_REFUSALS
            change = subject.stale(context.clock.now()) if stale else None
        except SourceRejected as rejected:
            # A 4xx the gateway's own checks did not foresee: the caller's input, not an
            # outage. Nothing changed; the source's words stay in the log.
            message = f"the {rejected.source} refused the request as invalid"
            raise MutationRefused(None, message, BAD_USER_INPUT) from None
        if change is not None:
            await context.cached.apply_change(change)
        return msgspec.json.encode(msgspec.structs.replace(outcome, fingerprint=fingerprint))

    try:
        if scoped is None:
            kept = await compute()
        else:
            left = deadline.remaining()
            wait_s = 5.0 if left is None else max(0.0, left)
            kept = await run_once(context.cached.backend, scoped, compute, wait_s=wait_s)
    except MutationRefused as refused:
        return refused.outcome  # raised out of run_once: answered, not kept
    outcome = _DECODER.decode(kept)
    if outcome.fingerprint != fingerprint:
        raise _key_reused()
    return outcome


def _key_reused() -> UserInputError:
    return UserInputError(
        "this idempotency key was used for another request", code=IDEMPOTENCY_KEY_REUSED
    )


def _change_of(outcome: Outcome) -> ChangeEvent | None:
    """What the outcome changed, to invalidate and announce."""
    if outcome.ticket is not None:
        ticket = outcome.ticket
        return ChangeEvent(
            type=EventType.TICKET_UPDATED,
            occurred_at=ticket.updated_at,
            order_id=ticket.order_id,
            ticket_id=ticket.id,
            id=new_msg_id(),
        )
    if outcome.order is not None:
        order = outcome.order
        cancelled = order.cancelled_at is not None
        return ChangeEvent(
            type=EventType.ORDER_CANCELLED if cancelled else EventType.ORDER_UPDATED,
            occurred_at=order.updated_at,
            order_id=order.id,
            id=new_msg_id(),
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
