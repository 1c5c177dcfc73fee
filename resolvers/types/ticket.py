"""Support tickets linked to an order, from the ticketing source."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers import order_facts
from resolvers.context import RequestContext
from resolvers.relay import to_global_id
from resolvers.types.common import Node, built_on_read
from resolvers.types.enums import TicketChannel, TicketPriority, TicketStatus, TicketType
from sources import records


@strawberry.type(
    description="A message on a ticket (ticketing source); the first is the requester's "
    "description."
)
class TicketComment:
    id: strawberry.ID = strawberry.field(description="The comment's id in the ticketing system.")
    author: str = strawberry.field(description="Who wrote it: a name, as ticketing records it.")
    body: str = strawberry.field(description="The comment's text.")
    public: bool = strawberry.field(description="False for an internal note (consoles only).")
    created_at: datetime = strawberry.field(
        description="When it was written (ticketing time, with the offset it gives)."
    )

    @classmethod
    def from_record(cls, comment: records.TicketComment) -> TicketComment:
        return cls(
            id=strawberry.ID(comment.id),
            author=comment.author,
            body=comment.body,
            public=comment.public,
            created_at=comment.created_at,
        )


@built_on_read(
    id=lambda ticket: strawberry.ID(
        to_global_id("SupportTicket", ticket.record.order_id, ticket.record.id)
    ),
)
@strawberry.type(description="A support ticket about an order (ticketing source).")
class SupportTicket(Node):
    reference: str = strawberry.field(description="The ticket's id in the ticketing system.")
    status: TicketStatus = strawberry.field(description="Where the ticket stands.")
    priority: TicketPriority = strawberry.field(description="How urgent it is.")
    type: TicketType = strawberry.field(description="What kind of request it is.")
    channel: TicketChannel = strawberry.field(description="Where it came in.")
    subject: str = strawberry.field(description="The ticket's subject line.")
    tags: list[str] = strawberry.field(description="Ticketing's tags, as set there.")
    created_at: datetime = strawberry.field(
        description="When it was opened (ticketing time, with the offset it gives)."
    )
    updated_at: datetime = strawberry.field(
        description="When ticketing last changed it (ticketing time, with the offset it gives)."
    )
    url: str = strawberry.field(description="The ticket's page in the ticketing system.")
    record: strawberry.Private[records.Ticket]

    def __init__(self, ticket: records.Ticket) -> None:
        self.record = ticket
        self.reference = ticket.id
        self.status = ticket.status
        self.priority = ticket.priority
        self.type = ticket.type
        self.channel = ticket.channel
        self.subject = ticket.subject
        self.tags = list(ticket.tags)
        self.created_at = ticket.created_at
        self.updated_at = ticket.updated_at
        self.url = ticket.url

    @strawberry.field(
        description="Its comments, oldest first. App and partner keys see public comments "
        "only; consoles also see internal notes."
    )
    async def comments(self, info: strawberry.Info[RequestContext, None]) -> list[TicketComment]:
        internal = info.context.access.internal
        read = await order_facts.ticket_comments(self.record, info.context)
        return [TicketComment.from_record(c) for c in read if internal or c.public]

    @classmethod
    def from_record(cls, ticket: records.Ticket) -> SupportTicket:
        """The ticket as a graph object; its global id is made only when read."""
        return cls(ticket)
