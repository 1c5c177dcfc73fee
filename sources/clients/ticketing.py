"""Client of the ticketing system."""

from __future__ import annotations

from sources.clients.http import SourceClient, id_list
from sources.records import Ticket, TicketBatch


class TicketingClient(SourceClient):
    name = "ticketing"

    async def tickets_by_orders(self, order_ids: list[str]) -> dict[str, list[Ticket]]:
        batch = await self.get_json("/tickets", {"orderIds": id_list(order_ids)}, TicketBatch)
        return {entry.order_id: entry.tickets for entry in batch.data}
