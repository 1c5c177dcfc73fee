"""The whole simulated world the four sources serve."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

import msgspec

from sim import catalog as cat
from sources.records import AddressChangeRequest, InventoryItem, Location, Order, Ticket, Tracking


@dataclass
class Dataset:
    """The whole simulated world: what each source serves, plus test helpers."""

    seed: int
    now: datetime
    orders: dict[str, Order]  # id -> order, in order-number order
    orders_by_number: dict[str, Order]  # "1001" -> order
    inventory: dict[str, InventoryItem]  # sku -> item
    trackings: dict[str, Tracking]  # tracking number -> tracking
    tickets: dict[str, list[Ticket]]  # order id -> tickets (only orders that have some)
    scenarios: dict[str, str]  # order id -> scenario name
    locations: dict[str, Location] = field(default_factory=lambda: dict(cat.LOCATIONS))
    backorders: dict[tuple[str, str], datetime] = field(
        default_factory=dict
    )  # (sku, loc) -> restock
    # request id -> address change a warehouse must decide (POST /orders/{id}/shipping-address)
    address_requests: dict[str, AddressChangeRequest] = field(default_factory=dict)

    def __repr__(self) -> str:
        # Short on purpose: asyncio's runner reprs a finished task's result (a fixture's
        # data set) while restoring its SIGINT handler, and the dataclass default would
        # spell out every record, seconds of CPU for each such fixture.
        return f"Dataset(seed={self.seed}, now={self.now.isoformat()}, {len(self.orders)} orders)"

    def copy(self) -> Dataset:
        """A data set that changes apart from this one, at the cost of its containers
        only: the records are frozen, and a change replaces a record, never edits it."""
        return replace(
            self,
            orders=dict(self.orders),
            orders_by_number=dict(self.orders_by_number),
            inventory=dict(self.inventory),
            trackings=dict(self.trackings),
            tickets={order_id: list(tickets) for order_id, tickets in self.tickets.items()},
            scenarios=dict(self.scenarios),
            locations=dict(self.locations),
            backorders=dict(self.backorders),
            address_requests=dict(self.address_requests),
        )

    def order_ids(self, scenario: str) -> list[str]:
        """Ids of the orders built from ``scenario``, in order-number order."""
        return [oid for oid, name in self.scenarios.items() if name == scenario]

    def encode(self) -> bytes:
        """Everything the sources serve as one JSON document (for determinism checks)."""
        return msgspec.json.encode(
            {
                "orders": list(self.orders.values()),
                "inventory": list(self.inventory.values()),
                "trackings": list(self.trackings.values()),
                "tickets": self.tickets,
                "scenarios": self.scenarios,
            }
        )
