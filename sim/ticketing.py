"""Simulated help desk (Zendesk-like): tickets linked to orders, new tickets and
comments (data endpoints), admin ticket updates."""

from __future__ import annotations

from aiohttp import web

from sim.changes.ticketing import UpdateTicket, add_comment, create_ticket, update_ticket
from sim.common import admin_route, batch_route
from sim.idempotency import IdempotencyKeys
from sim.seed import Dataset
from sources.records import AddCommentRequest, CreateTicketRequest, OrderTickets, TicketBatch

CREATED = 201


def routes(dataset: Dataset) -> list[web.RouteDef]:
    """``GET /tickets?orderIds=a,b``: one entry per requested order, empty when none.
    ``POST /tickets`` and ``POST /tickets/{id}/comments`` answer 201 and honour
    ``Idempotency-Key``."""
    keys = IdempotencyKeys()

    def lookup(order_id: str) -> OrderTickets:
        return OrderTickets(order_id=order_id, tickets=dataset.tickets.get(order_id, []))

    return [
        batch_route(
            "/tickets", "orderIds", lookup, lambda found, _missing: TicketBatch(data=found)
        ),
        # data endpoints (counted, delayed, faulted) that change tickets like admin routes
        keys.route(
            admin_route("/tickets", dataset, create_ticket, CreateTicketRequest, status=CREATED)
        ),
        keys.route(
            admin_route(
                "/tickets/{id}/comments", dataset, add_comment, AddCommentRequest, status=CREATED
            )
        ),
        admin_route("/admin/tickets/{id}", dataset, update_ticket, UpdateTicket),
    ]
