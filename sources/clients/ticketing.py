"""Client of the ticketing system."""

from __future__ import annotations

from sources.clients.changes import CONFLICT, send_change
from sources.clients.http import SourceClient
from sources.records import (
    AddCommentRequest,
    CommentAdded,
    CreateTicketRequest,
    OrderTickets,
    Ticket,
    TicketComment,
    comments_key,
    comments_key_parts,
)

_CREATED = 201
_NOT_FOUND = 404  # the order (new ticket) or the ticket (comment) is unknown


class TicketingClient(SourceClient):
    name = "ticketing"

    async def tickets_by_orders(self, order_ids: list[str]) -> dict[str, list[Ticket] | None]:
        found = await self.fetch_batch(
            "/tickets", "orderIds", order_ids, OrderTickets, lambda entry: entry.order_id
        )
        return {order_id: None if e is None else e.tickets for order_id, e in found.items()}

    async def comments_by_tickets(self, keys: list[str]) -> dict[str, list[TicketComment] | None]:
        """The native source answers comments with their tickets: read with their
        orders' tickets, in one call."""
        parts = {key: comments_key_parts(key) for key in keys}
        found = await self.tickets_by_orders(list(dict.fromkeys(o for o, _ in parts.values())))
        comments = {
            comments_key(ticket.order_id, ticket.id): ticket.comments
            for tickets in found.values()
            for ticket in tickets or ()
        }
        return {key: comments.get(key) for key in keys if found.get(parts[key][0]) is not None}

    async def create_ticket(self, request: CreateTicketRequest) -> Ticket:
        """Open a ticket; raises :class:`~sources.clients.changes.ChangeRefused` when the
        source refuses (ORDER_NOT_FOUND). Never retried: a lost answer may still have
        opened it."""
        return await send_change(
            self, "/tickets", request, Ticket, accepted=(_CREATED,), refusals=_REFUSALS
        )

    async def add_comment(self, ticket_id: str, request: AddCommentRequest) -> CommentAdded:
        """Comment on a ticket; raises :class:`~sources.clients.changes.ChangeRefused` when
        the source refuses (TICKET_CLOSED, NOT_FOUND). Never retried."""
        return await send_change(
            self,
            f"/tickets/{ticket_id}/comments",
            request,
            CommentAdded,
            accepted=(_CREATED,),
            refusals=_REFUSALS,
        )


_REFUSALS = (_NOT_FOUND, CONFLICT)
