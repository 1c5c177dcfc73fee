"""Ticketing changes: new tickets about an order, comments, status and priority updates."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from msgspec.structs import replace

from sim import catalog as cat
from sim.changes import NOT_FOUND, Body, Change, ChangeError, after
from sim.seed import Dataset
from sources.events import ChangeEvent, EventType
from sources.records import (
    ORDER_NOT_FOUND,
    TICKET_CLOSED,
    AddCommentRequest,
    CommentAdded,
    CreateTicketRequest,
    Ticket,
    TicketComment,
    TicketPriority,
    TicketStatus,
)


class UpdateTicket(Body, frozen=True, kw_only=True):
    status: TicketStatus | None = None
    priority: TicketPriority | None = None


def update_ticket(dataset: Dataset, ticket_id: str, body: UpdateTicket, now: datetime) -> Change:
    """Change a ticket's status and/or priority."""
    tickets, i = _find_ticket(dataset, ticket_id)
    ticket = tickets[i]
    tickets[i] = updated = replace(
        ticket,
        status=body.status or ticket.status,
        priority=body.priority or ticket.priority,
        updated_at=after(ticket.updated_at, now),
    )
    return updated, _ticket_changed(updated)


def create_ticket(dataset: Dataset, _key: str, body: CreateTicketRequest, now: datetime) -> Change:
    """A NEW ticket about an existing order, opened with a public first comment by
    ``body.author`` or else the order's customer (``POST /tickets``)."""
    order = dataset.orders.get(body.order_id)
    if order is None:
        raise ChangeError(404, ORDER_NOT_FOUND, f"no order {body.order_id!r} to open a ticket on")
    at = after(order.placed_at, now)
    ticket_id = _next_id((t.id for t in _all_tickets(dataset)), first=cat.FIRST_TICKET_ID)
    first = TicketComment(
        id=_next_comment_id(dataset),
        author=body.author or order.customer.name,
        body=body.body,
        created_at=at,
    )
    ticket = Ticket(
        id=ticket_id,
        order_id=order.id,
        status=TicketStatus.NEW,
        priority=body.priority,
        type=body.type,
        channel=body.channel,
        subject=body.subject,
        created_at=at,
        updated_at=at,
        url=cat.ticket_url(ticket_id),
        comments=[first],
    )
    dataset.tickets.setdefault(order.id, []).append(ticket)
    return ticket, _ticket_changed(ticket)


def add_comment(dataset: Dataset, ticket_id: str, body: AddCommentRequest, now: datetime) -> Change:
    """Append a comment (``POST /tickets/{id}/comments``). A CLOSED ticket is read-only
    (409); a comment on a SOLVED one reopens it, as in Zendesk."""
    tickets, i = _find_ticket(dataset, ticket_id)
    ticket = tickets[i]
    if ticket.status is TicketStatus.CLOSED:
        raise ChangeError(
            409, TICKET_CLOSED, f"ticket {ticket_id} is closed: open a follow-up ticket instead"
        )
    at = after(ticket.updated_at, now)
    comment = TicketComment(
        id=_next_comment_id(dataset),
        author=body.author,
        body=body.body,
        public=body.public,
        created_at=at,
    )
    reopened = ticket.status is TicketStatus.SOLVED
    tickets[i] = updated = replace(
        ticket,
        status=TicketStatus.OPEN if reopened else ticket.status,
        comments=[*(ticket.comments or ()), comment],
        updated_at=at,
    )
    return CommentAdded(ticket=updated, comment=comment), _ticket_changed(updated)


def _find_ticket(dataset: Dataset, ticket_id: str) -> tuple[list[Ticket], int]:
    """The list holding ticket ``ticket_id`` and its index there (404 if none)."""
    for tickets in dataset.tickets.values():
        for i, ticket in enumerate(tickets):
            if ticket.id == ticket_id:
                return tickets, i
    raise ChangeError(404, NOT_FOUND, f"no ticket {ticket_id!r}")


def _all_tickets(dataset: Dataset) -> Iterable[Ticket]:
    return (ticket for tickets in dataset.tickets.values() for ticket in tickets)


def _next_comment_id(dataset: Dataset) -> str:
    ids = (c.id for t in _all_tickets(dataset) for c in t.comments or ())
    return _next_id(ids, first=cat.FIRST_COMMENT_ID)


def _next_id(ids: Iterable[str], *, first: int) -> str:
    """One more than the largest numeric id of ``ids``, or ``first`` when there is none."""
    return str(max((int(i) for i in ids if i.isdigit()), default=first - 1) + 1)


def _ticket_changed(ticket: Ticket) -> ChangeEvent:
    return ChangeEvent(
        type=EventType.TICKET_UPDATED,
        occurred_at=ticket.updated_at,
        order_id=ticket.order_id,
        ticket_id=ticket.id,
    )
