"""Simulated help desk (Zendesk-like): tickets linked to orders."""

from __future__ import annotations

from aiohttp import web

from sources.records import OrderTickets, TicketBatch
from sources.sim.common import batch_route, create_source_app
from sources.sim.seed import Dataset


def create_app(
    dataset: Dataset, *, latency_ms: float = 0.0, jitter_ms: float = 0.0
) -> web.Application:
    """``GET /tickets?orderIds=a,b``: one entry per requested order, empty when none."""

    def lookup(order_id: str) -> OrderTickets:
        return OrderTickets(order_id=order_id, tickets=dataset.tickets.get(order_id, []))

    route = batch_route(
        "/tickets", "orderIds", lookup, lambda found, _missing: TicketBatch(data=found)
    )
    return create_source_app("ticketing", [route], latency_ms=latency_ms, jitter_ms=jitter_ms)
