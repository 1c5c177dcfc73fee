"""Simulated help desk (Zendesk-like): tickets linked to orders, new tickets and
comments (data endpoints answering 201 and honouring ``Idempotency-Key``), admin
ticket updates."""

from __future__ import annotations

from sim.changes.ticketing import UpdateTicket, add_comment, create_ticket, update_ticket
from sim.routes import Admin, Change, Source, batch, id_list, path_param
from sim.seed import Dataset
from sources.events import EventType
from sources.records import (
    AddCommentRequest,
    CommentAdded,
    CreateTicketRequest,
    OrderTickets,
    Ticket,
    TicketBatch,
)

_TICKET_ID = path_param("id", "Ticket id.")


def _order_tickets(dataset: Dataset, order_id: str) -> OrderTickets:
    """Every order id has an entry: empty when the order has no tickets (or is unknown)."""
    return OrderTickets(order_id=order_id, tickets=dataset.tickets.get(order_id, []))


SOURCE = Source(
    name="ticketing",
    title="OrderGraph simulated ticketing",
    description="Support tickets linked to orders, with their comments.",
    routes=(
        batch(
            "/tickets",
            id_list("orderIds", "order ids"),
            _order_tickets,
            operation_id="getTicketsByOrder",
            summary="Tickets by order id",
            note="An order with no tickets, or an unknown one, has an empty tickets list. "
            "Each ticket carries its comments, oldest first, internal notes (public false) "
            "included.",
            response=TicketBatch,
        ),
        Change(
            path="/tickets",
            operation_id="createTicket",
            summary="Open a ticket about an order",
            description="A NEW ticket about orderId, opened with its first comment (public, "
            "written by author, else the order's customer); priority defaults to NORMAL, "
            "type to QUESTION, channel to WEB. Emits ticket.updated. Answers the ticket.",
            key=None,
            apply=create_ticket,
            body=CreateTicketRequest,
            response=Ticket,
            created=True,
            not_found="The order is unknown (code ORDER_NOT_FOUND).",
        ),
        Change(
            path="/tickets/{id}/comments",
            operation_id="addTicketComment",
            summary="Comment on a ticket",
            description="Appends a comment (an internal note for agents when public is "
            "false) and moves updatedAt forward; a SOLVED ticket is reopened (OPEN). Emits "
            "ticket.updated. Answers the comment and the ticket.",
            key=_TICKET_ID,
            apply=add_comment,
            body=AddCommentRequest,
            response=CommentAdded,
            conflict="The ticket is CLOSED, so read-only: a follow-up is a new ticket "
            "(code TICKET_CLOSED).",
            created=True,
        ),
        Admin(
            path="/admin/tickets/{id}",
            operation_id="updateTicket",
            summary="Update a ticket",
            description="Sets status and/or priority and moves updatedAt forward. Answers "
            "the ticket.",
            key=_TICKET_ID,
            apply=update_ticket,
            body=UpdateTicket,
            response=Ticket,
            event=EventType.TICKET_UPDATED,
        ),
    ),
)
