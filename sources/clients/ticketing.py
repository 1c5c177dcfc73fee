"""Client of the ticketing system."""

from __future__ import annotations

from sources.clients.http import SourceClient
from sources.records import OrderTickets, Ticket


class TicketingClient(SourceClient):
    name = "ticketing"

    async def tickets_by_orders(self, order_ids: list[str]) -> dict[str, list[Ticket] | None]:
        found = await self.fetch_batch(
            "/tickets", "orderIds", order_ids, OrderTickets, lambda entry: entry.order_id
        )
        return {order_id: None if e is None else e.tickets for order_id, e in found.items()}
