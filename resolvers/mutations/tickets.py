"""Ticket mutations: open a ticket about an order, and comment on one.

The tenant check goes through the order: a ticket's global id names its order, which
must exist and be visible, and the ticket must be one of that order's.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers.access import requires
from resolvers.client_errors import NOT_FOUND
from resolvers.mutations.common import UserError, idempotency_key_field
from resolvers.mutations.runner import MutationRefused, Outcome, Subject, mutate
from resolvers.mutations.targets import id_parts, visible_order
from resolvers.types.enums import TicketChannel, TicketPriority, TicketStatus, TicketType
from resolvers.types.order import Info
from resolvers.types.ticket import SupportTicket, TicketComment
from sources import records


@strawberry.input(description="What `ticketCreate` opens.")
class TicketCreateInput:
    order_id: strawberry.ID = strawberry.field(
        description="The global id of the order the ticket is about."
    )
    subject: str = strawberry.field(
        description=f"Subject line: not blank, at most {records.SUBJECT_MAX} characters."
    )
    body: str = strawberry.field(
        description="The first comment: what the ticket is about (not blank, at most "
        f"{records.COMMENT_MAX:,} characters)."
    )
    author: str | None = strawberry.field(
        default=None,
        description=f"Who writes it (at most {records.AUTHOR_MAX} characters); the order's "
        "customer when omitted.",
    )
    priority: TicketPriority = strawberry.field(
        default=TicketPriority.NORMAL, description="How urgent it is."
    )
    type: TicketType = strawberry.field(
        default=TicketType.QUESTION, description="What kind of request it is."
    )
    channel: TicketChannel = strawberry.field(
        default=TicketChannel.WEB, description="Where the request came in."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="What `ticketAddComment` adds.")
class TicketAddCommentInput:
    ticket_id: strawberry.ID = strawberry.field(description="The ticket's global id.")
    body: str = strawberry.field(
        description=f"The comment's text: not blank, at most {records.COMMENT_MAX:,} characters."
    )
    author: str = strawberry.field(
        description=f"Who writes it: not blank, at most {records.AUTHOR_MAX} characters."
    )
    public: bool = strawberry.field(
        default=True, description="False: an internal note for agents (consoles only)."
    )
    idempotency_key: str | None = idempotency_key_field()


# The ticket answered holds everyone's public comments: writing needs tickets:write,
# reading it back tickets:read as well (the gate refuses the whole mutation otherwise).
_READ_TICKET = requires("tickets:read")


@strawberry.type(description="What `ticketCreate` did.")
class TicketCreatePayload:
    ticket: SupportTicket | None = strawberry.field(
        description="The new ticket as ticketing answered; null when refused. Needs tickets:read.",
        directives=_READ_TICKET,
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why no ticket was opened; empty on success."
    )


@strawberry.type(description="What `ticketAddComment` did.")
class TicketAddCommentPayload:
    ticket: SupportTicket | None = strawberry.field(
        description="The ticket as it now is (a solved one reopened); null when refused. "
        "Needs tickets:read.",
        directives=_READ_TICKET,
    )
    comment: TicketComment | None = strawberry.field(
        description="The new comment; null when refused."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why no comment was added; empty on success."
    )


async def ticket_create(
    info: Info,
    input: Annotated[TicketCreateInput, strawberry.argument(description="The ticket to open.")],
) -> TicketCreatePayload:
    async def create(subject: Subject) -> Outcome:
        (order_id,) = id_parts(input.order_id, "Order", 1, "orderId")
        request = records.CreateTicketRequest(
            order_id=order_id,
            subject=_text("subject", input.subject, records.SUBJECT_MAX),
            body=_text("body", input.body, records.COMMENT_MAX),
            author=None if input.author is None else _author(input.author),
            priority=input.priority,
            type=input.type,
            channel=input.channel,
        )
        await visible_order(info, order_id, "orderId")  # the tenant check
        subject.tickets(order_id)
        ticketing = info.context.cached.upstreams.ticketing
        return Outcome(ticket=await ticketing.create_ticket(request))

    outcome = await mutate(info, "ticketCreate", input, create)
    return TicketCreatePayload(ticket=_ticket(outcome), user_errors=outcome.user_errors())


async def ticket_add_comment(
    info: Info,
    input: Annotated[
        TicketAddCommentInput, strawberry.argument(description="The ticket and the comment.")
    ],
) -> TicketAddCommentPayload:
    async def add(subject: Subject) -> Outcome:
        order_id, ticket_id = id_parts(input.ticket_id, "SupportTicket", 2, "ticketId")
        request = records.AddCommentRequest(
            body=_text("body", input.body, records.COMMENT_MAX),
            author=_author(input.author),
            public=input.public,
        )
        if not input.public and not info.context.access.internal:
            raise MutationRefused("public", "only consoles may add internal notes", "NOT_ALLOWED")
        await visible_order(info, order_id, "ticketId")
        tickets = (await info.context.loaders.tickets_by_order.load(order_id)).value
        ticket = next((t for t in tickets or () if t.id == ticket_id), None)
        if ticket is None:
            raise MutationRefused("ticketId", "no such ticket", NOT_FOUND)
        if ticket.status is TicketStatus.CLOSED:
            message = "the ticket is closed: open a follow-up ticket instead"
            raise MutationRefused(None, message, records.TICKET_CLOSED)
        subject.tickets(order_id, ticket.id)
        ticketing = info.context.cached.upstreams.ticketing
        added = await ticketing.add_comment(ticket.id, request)
        return Outcome(ticket=added.ticket, comment=added.comment)

    outcome = await mutate(info, "ticketAddComment", input, add)
    comment = None if outcome.comment is None else TicketComment.from_record(outcome.comment)
    return TicketAddCommentPayload(
        ticket=_ticket(outcome), comment=comment, user_errors=outcome.user_errors()
    )


def _text(field: str, value: str, limit: int) -> str:
    """``value`` if the ticketing source takes it: not blank, at most ``limit`` long."""
    if not value.strip():
        raise MutationRefused(field, f"{field} is blank", "BLANK")
    if len(value) > limit:
        raise MutationRefused(field, f"{field} is longer than {limit} characters", "TOO_LONG")
    return value


def _author(value: str) -> str:
    return _text("author", value, records.AUTHOR_MAX)


def _ticket(outcome: Outcome) -> SupportTicket | None:
    return None if outcome.ticket is None else SupportTicket.from_record(outcome.ticket)
