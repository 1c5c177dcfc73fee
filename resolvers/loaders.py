"""Per-request dataloaders over the cache-through sources.

A ``Loaders`` is built for one request and dropped with it: aiodataloader's cache
never evicts, and sharing loaders across requests or principals would leak data.
Each batch is one cache read plus, for the misses, one source call split into
chunks of the source's batch limit (``max_batch_size``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiodataloader import DataLoader

from sources import telemetry
from sources.cache.through import CacheCounts, Cached, CachedSource
from sources.cache.upstreams import CachedUpstreams
from sources.failures import SourceError
from sources.records import InventoryItem, Order, Ticket, TicketComment, Tracking

V = TypeVar("V")

Loader = DataLoader[str, Cached[V]]


def cached_loader(
    source: CachedSource[V], batch_size: int, *, scope: str, counts: CacheCounts
) -> Loader[V]:
    async def batch(keys: list[str]) -> list[Cached[V] | SourceError]:
        async with telemetry.loader_batch(source.source, source.kind, len(keys)):
            return await source.load_many(keys, scope=scope, counts=counts)

    # aiodataloader rejects just the keys whose value is an exception; its type hints
    # do not say so.
    return DataLoader(batch, max_batch_size=batch_size)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Loaders:
    order_by_id: Loader[Order]
    order_by_number: Loader[Order]
    inventory_by_sku: Loader[InventoryItem]
    tracking_by_number: Loader[Tracking]
    tickets_by_order: Loader[list[Ticket]]
    comments_by_ticket: Loader[list[TicketComment]]  # by records.comments_key

    @classmethod
    def for_request(cls, cached: CachedUpstreams, *, scope: str, counts: CacheCounts) -> Loaders:
        up = cached.upstreams
        return cls(
            order_by_id=cached_loader(cached.orders, up.oms.batch_size, scope=scope, counts=counts),
            order_by_number=cached_loader(
                cached.orders_by_number, up.oms.batch_size, scope=scope, counts=counts
            ),
            inventory_by_sku=cached_loader(
                cached.inventory, up.inventory.batch_size, scope=scope, counts=counts
            ),
            tracking_by_number=cached_loader(
                cached.trackings, up.carrier.batch_size, scope=scope, counts=counts
            ),
            tickets_by_order=cached_loader(
                cached.tickets, up.ticketing.batch_size, scope=scope, counts=counts
            ),
            comments_by_ticket=cached_loader(
                cached.comments, up.ticketing.batch_size, scope=scope, counts=counts
            ),
        )

    def remember_orders(self, orders: Iterable[Cached[Order]]) -> None:
        """Prime the by-id loader with orders fetched another way (list, by number)."""
        for order in orders:
            if order.value is not None:
                self.order_by_id.prime(order.value.id, order)


async def settle(loader: DataLoader[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """Load ``keys`` together; each key maps to its value or the exception it raised.

    All loads are issued before the first await, so they share one batch.
    """
    keys = list(dict.fromkeys(keys))
    results = await asyncio.gather(*(loader.load(key) for key in keys), return_exceptions=True)
    return dict(zip(keys, results, strict=True))
