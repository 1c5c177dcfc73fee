"""Per-request dataloaders: every lookup of the graph, batched per source.

A ``Loaders`` is built for one request and dropped with it: aiodataloader's cache
never evicts, and sharing loaders across requests or principals would leak data.
``max_batch_size`` is each source's configured batch limit, so a larger batch is
split into calls the source accepts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from aiodataloader import DataLoader

from sources.clients import Upstreams
from sources.records import InventoryItem, Order, Ticket, Tracking

V = TypeVar("V")


def keyed_loader(
    fetch: Callable[[list[str]], Awaitable[Mapping[str, V]]], batch_size: int
) -> DataLoader[str, V | None]:
    """A loader over a batch fetch that answers a mapping; absent keys load as ``None``."""

    async def batch(keys: list[str]) -> list[V | None]:
        found = await fetch(list(keys))
        return [found.get(key) for key in keys]

    return DataLoader(batch, max_batch_size=batch_size)


@dataclass(frozen=True, slots=True)
class Loaders:
    order_by_id: DataLoader[str, Order | None]
    order_by_number: DataLoader[str, Order | None]
    inventory_by_sku: DataLoader[str, InventoryItem | None]
    tracking_by_number: DataLoader[str, Tracking | None]
    tickets_by_order: DataLoader[str, list[Ticket] | None]

    @classmethod
    def for_request(cls, upstreams: Upstreams) -> Loaders:
        return cls(
            order_by_id=keyed_loader(upstreams.oms.orders_by_ids, upstreams.oms.batch_size),
            order_by_number=keyed_loader(upstreams.oms.orders_by_numbers, upstreams.oms.batch_size),
            inventory_by_sku=keyed_loader(
                upstreams.inventory.items_by_skus, upstreams.inventory.batch_size
            ),
            tracking_by_number=keyed_loader(
                upstreams.carrier.trackings, upstreams.carrier.batch_size
            ),
            tickets_by_order=keyed_loader(
                upstreams.ticketing.tickets_by_orders, upstreams.ticketing.batch_size
            ),
        )

    def remember_orders(self, orders: list[Order]) -> None:
        """Prime the by-id loader with orders fetched another way (list, by number)."""
        for order in orders:
            self.order_by_id.prime(order.id, order)
