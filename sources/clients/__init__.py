"""Clients of the four upstream sources, and the bundle the gateway holds for its life."""

from __future__ import annotations

from dataclasses import dataclass

from sources.clients.carrier import CarrierClient
from sources.clients.http import SourceClient
from sources.clients.inventory import InventoryClient
from sources.clients.oms import OmsClient
from sources.clients.ticketing import TicketingClient
from sources.options import SourceConfig


@dataclass(frozen=True, slots=True)
class Upstreams:
    """One client, and so one aiohttp session, per source for the whole process."""

    oms: OmsClient
    inventory: InventoryClient
    carrier: CarrierClient
    ticketing: TicketingClient

    @classmethod
    def open(
        cls,
        oms: SourceConfig,
        inventory: SourceConfig,
        carrier: SourceConfig,
        ticketing: SourceConfig,
    ) -> Upstreams:
        """Open the four sessions; call from inside the running event loop."""
        return cls(
            oms=OmsClient(oms),
            inventory=InventoryClient(inventory),
            carrier=CarrierClient(carrier),
            ticketing=TicketingClient(ticketing),
        )

    def all(self) -> tuple[SourceClient, ...]:
        return (self.oms, self.inventory, self.carrier, self.ticketing)

    async def close(self) -> None:
        for client in self.all():
            await client.close()
