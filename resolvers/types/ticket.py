"""Support tickets linked to an order, from the ticketing source."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.context import RequestContext
from resolvers.relay import to_global_id
from resolvers.types.common import Node
from resolvers.types.enums import TicketChannel, TicketPriority, TicketStatus, TicketType
from sources import records


@strawberry.type(description="A message on a ticket; the first is the requester's description.")
class TicketComment:
    id: strawberry.ID = strawberry.field(description="The comment's id in the ticketing system.")
    author: str
    body: str
    public: bool = strawberry.field(description="False for an internal note (consoles only).")
    created_at: datetime

    @classmethod
    def from_record(cls, comment: records.TicketComment) -> TicketComment:
        return cls(
            id=strawberry.ID(comment.id),
            author=comment.author,
            body=comment.body,
            public=comment.public,
            created_at=comment.created_at,
        )


@strawberry.type
class SupportTicket(Node):
    reference: str = strawberry.field(description="The ticket's id in the ticketing system.")
    status: TicketStatus
    priority: TicketPriority
    type: TicketType
    channel: TicketChannel
    subject: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    url: str
    record: strawberry.Private[records.Ticket]

    @strawberry.field(
        description="Oldest first. App and partner keys see public comments only; consoles "
        "also see internal notes."
    )
    def comments(self, info: strawberry.Info[RequestContext, None]) -> list[TicketComment]:
        internal = info.context.access.internal
        return [TicketComment.from_record(c) for c in self.record.comments if internal or c.public]

    @classmethod
    def from_record(cls, ticket: records.Ticket) -> SupportTicket:
        return cls(
            id=strawberry.ID(to_global_id("SupportTicket", ticket.order_id, ticket.id)),
            reference=ticket.id,
            status=ticket.status,
            priority=ticket.priority,
            type=ticket.type,
            channel=ticket.channel,
            subject=ticket.subject,
            tags=list(ticket.tags),
            created_at=ticket.created_at,
            updated_at=ticket.updated_at,
            url=ticket.url,
            record=ticket,
        )
