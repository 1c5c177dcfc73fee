"""Support tickets linked to an order, from the ticketing source."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.relay import to_global_id
from resolvers.types.common import Node
from resolvers.types.enums import TicketChannel, TicketPriority, TicketStatus, TicketType
from sources import records


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
        )
