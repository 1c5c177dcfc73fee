"""The upstream clients behind the cache: one ``CachedSource`` per lookup."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from sources.cache.backend import CacheBackend
from sources.cache.through import CachedSource, CachePolicy, Fetch, Tagger
from sources.clients import Upstreams
from sources.events import order_tag, sku_tag, tickets_tag, tracking_tag
from sources.records import InventoryItem, Order, Ticket, Tracking

log = logging.getLogger("ordergraph.cache")

V = TypeVar("V")

INVALIDATION_CHANNEL = "og:invalidations"

# Fresh TTLs the issue asked for; the stale window equals the TTL and entries are
# kept ten minutes longer to serve if the source fails.
DEFAULT_TTL_S = {"oms": 30.0, "inventory": 10.0, "carrier": 60.0, "ticketing": 30.0}


def default_policy(source: str) -> CachePolicy:
    ttl = DEFAULT_TTL_S[source]
    return CachePolicy(ttl_s=ttl, stale_s=ttl, keep_s=600.0)


@dataclass(frozen=True, slots=True)
class CachedUpstreams:
    """Cache-through views of the four sources, shared by every request of a process.

    Orders, trackings and tickets are tenant-scoped (their keys carry the caller's
    scope); stock per SKU is the same for everyone.
    """

    orders: CachedSource[Order]
    orders_by_number: CachedSource[Order]
    inventory: CachedSource[InventoryItem]
    trackings: CachedSource[Tracking]
    tickets: CachedSource[list[Ticket]]
    backend: CacheBackend
    local: CacheBackend | None  # the in-process copies every source above shares
    upstreams: Upstreams

    @classmethod
    def build(
        cls,
        upstreams: Upstreams,
        backend: CacheBackend,
        policies: Mapping[str, CachePolicy],
        *,
        local: CacheBackend | None = None,
    ) -> CachedUpstreams:
        """``local``: in-process copies in front of a shared ``backend`` (Redis)."""

        def cached(
            kind: str,
            source: str,
            value_type: Any,
            fetch: Fetch[V],
            tags: Tagger[V],
            scoped: bool = True,
        ) -> CachedSource[V]:
            return CachedSource(
                kind=kind,
                source=source,
                value_type=value_type,
                fetch=fetch,
                tags=tags,
                policy=policies[source],
                backend=backend,
                local=local,
                scoped=scoped,
            )

        oms, stock = upstreams.oms, upstreams.inventory
        return cls(
            orders=cached("order", "oms", Order, oms.orders_by_ids, lambda i, _: [order_tag(i)]),
            orders_by_number=cached(
                "order-number",
                "oms",
                Order,
                oms.orders_by_numbers,
                lambda _, order: [order_tag(order.id)] if order else [],
            ),
            inventory=cached(
                "stock",
                "inventory",
                InventoryItem,
                stock.items_by_skus,
                lambda sku, _: [sku_tag(sku)],
                scoped=False,
            ),
            trackings=cached(
                "tracking",
                "carrier",
                Tracking,
                upstreams.carrier.trackings,
                lambda number, _: [tracking_tag(number)],
            ),
            tickets=cached(
                "tickets",
                "ticketing",
                list[Ticket],
                upstreams.ticketing.tickets_by_orders,
                lambda order_id, _: [tickets_tag(order_id)],
            ),
            backend=backend,
            local=local,
            upstreams=upstreams,
        )

    def listen(self) -> None:
        """Drop in-process copies whenever any instance announces a change (call
        before the backend starts)."""
        self.backend.subscribe(INVALIDATION_CHANNEL, self._on_invalidation)

    async def invalidate(self, tags: Sequence[str]) -> int:
        """Delete every cached entry under ``tags`` here and in the shared cache, and
        tell every other instance to drop its copies. The number of shared keys deleted."""
        deleted = await self.backend.invalidate_tags(tags)
        await self._drop_local(tags)
        await self.backend.publish(INVALIDATION_CHANNEL, msgspec.json.encode(list(tags)))
        return deleted

    async def _on_invalidation(self, message: bytes) -> None:
        try:
            tags = msgspec.json.decode(message, type=list[str])
        except msgspec.DecodeError:
            log.warning("ignored a malformed invalidation message")
            return
        await self._drop_local(tags)

    async def _drop_local(self, tags: Sequence[str]) -> None:
        if self.local is not None:
            await self.local.invalidate_tags(tags)
