"""The upstream clients behind the cache: one ``CachedSource`` per lookup."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec

from sources.adapters.protocols import HearsChanges, SourceAdapter
from sources.adapters.registry import Upstreams
from sources.adapters.search import OrderSearch
from sources.cache.backend import CacheBackend
from sources.cache.invalidations import Invalidations
from sources.cache.memory_backend import MemoryBackend
from sources.cache.through import CachedSource, Fetch, Tagger
from sources.clock import SYSTEM_CLOCK, Clock
from sources.events import (
    ORDER_LISTS_TAG,
    ChangeEvent,
    order_tag,
    sku_tag,
    tickets_tag,
    tracking_tag,
)
from sources.options import CachePolicy
from sources.records import (
    InventoryItem,
    Order,
    OrderPage,
    Record,
    Ticket,
    TicketComment,
    Tracking,
    comments_key_parts,
)
from sources.resilience.coalesce import SingleFlight
from sources.resilience.held_batches import HeldBatches

log = logging.getLogger("ordergraph.cache")

V = TypeVar("V")

INVALIDATION_CHANNEL = "og:changes"

ChangeListener = Callable[[ChangeEvent], Awaitable[None]]
Resync = Callable[[], None]  # told that changes may have gone unheard; must not block


class ChangeNotice(Record, frozen=True, kw_only=True):
    """What one instance tells the others after a change: the tags it deleted from
    the shared cache, and the change event, if the change came as one."""

    tags: list[str]
    event: ChangeEvent | None = None
    origin: str = ""  # the announcing instance (``CachedUpstreams.instance``)


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
    comments: CachedSource[list[TicketComment]]  # of tickets read without them
    backend: CacheBackend
    local: MemoryBackend | None  # the in-process copies every source above shares
    upstreams: Upstreams
    hearing: tuple[HearsChanges, ...]  # the adapters told of every change, found once
    invalidations: Invalidations  # what this process saw invalidated, for fetches in flight
    clock: Clock  # the process's one clock: entry ages here, "now" for every rule
    listeners: list[ChangeListener] = field(default_factory=list)
    resyncs: set[Resync] = field(default_factory=set)
    instance: str = field(default_factory=lambda: secrets.token_hex(8))  # signs its notices
    # order-list searches running now: identical ones begun since the lists last changed
    # share a call (resilience.coalesce)
    searches: SingleFlight[tuple[OrderSearch, int, str | None, int], OrderPage] = field(
        default_factory=SingleFlight
    )

    @classmethod
    def build(
        cls,
        upstreams: Upstreams,
        backend: CacheBackend,
        policies: Mapping[str, CachePolicy],
        *,
        local: MemoryBackend | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> CachedUpstreams:
        """``local``: in-process copies in front of a shared ``backend`` (Redis)."""
        invalidations = Invalidations()

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
                invalidations=invalidations,
                clock=clock.time,
            )

        oms, stock = upstreams.oms, upstreams.inventory
        return cls(
            orders=cached(
                "order", "oms", Order, pooled(oms, oms.orders_by_ids), lambda i, _: [order_tag(i)]
            ),
            orders_by_number=cached(
                "order-number",
                "oms",
                Order,
                pooled(oms, oms.orders_by_numbers),
                lambda _, order: [order_tag(order.id)] if order else [],
            ),
            inventory=cached(
                "stock",
                "inventory",
                InventoryItem,
                pooled(stock, stock.items_by_skus),
                lambda sku, _: [sku_tag(sku)],
                scoped=False,
            ),
            trackings=cached(
                "tracking",
                "carrier",
                Tracking,
                pooled(upstreams.carrier, upstreams.carrier.trackings),
                lambda number, _: [tracking_tag(number)],
            ),
            tickets=cached(
                "tickets",
                "ticketing",
                list[Ticket],
                pooled(upstreams.ticketing, upstreams.ticketing.tickets_by_orders),
                lambda order_id, _: [tickets_tag(order_id)],
            ),
            comments=cached(
                "comments",
                "ticketing",
                list[TicketComment],
                pooled(upstreams.ticketing, upstreams.ticketing.comments_by_tickets),
                lambda key, _: [tickets_tag(comments_key_parts(key)[0])],
            ),
            backend=backend,
            local=local,
            upstreams=upstreams,
            hearing=tuple(a for a in upstreams.all() if isinstance(a, HearsChanges)),
            invalidations=invalidations,
            clock=clock,
        )

    async def search_orders(
        self, search: OrderSearch, *, limit: int, cursor: str | None = None
    ) -> OrderPage:
        """One page of the order list, read live (a list is never cached), in one call
        with any identical search running meanwhile, unless an order changed since that
        one began: its page may hold the order as it was, which this caller, begun
        after the change, would take (and write back) as current."""
        changed = self.invalidations.last(ORDER_LISTS_TAG)
        return await self.searches.run(
            (search, limit, cursor, changed),
            lambda: self.upstreams.oms.search_orders(search, limit=limit, cursor=cursor),
        )

    def listen(self) -> None:
        """Drop in-process copies, then tell ``listeners``, whenever another instance
        announces a change, and assume anything changed when announcements may have
        been lost (call before the backend starts)."""
        self.backend.subscribe(INVALIDATION_CHANNEL, self._on_notice)
        self.backend.on_missed(self._on_missed)

    def on_change(self, listener: ChangeListener) -> None:
        """Call ``listener`` for every change event any instance applies, once per
        instance, after this instance's copies of the changed data are gone."""
        self.listeners.append(listener)

    def on_resync(self, resync: Resync) -> Callable[[], None]:
        """Call ``resync`` whenever change events may have gone unheard here (pub/sub
        reconnected), until the returned function is called: whatever it follows may
        have changed without ``on_change`` saying so."""
        self.resyncs.add(resync)
        return lambda: self.resyncs.discard(resync)

    async def invalidate(self, tags: Sequence[str]) -> int:
        """Delete every cached entry under ``tags`` here and in the shared cache, and
        tell every other instance to drop its copies. The number of shared keys deleted."""
        return await self._announce(ChangeNotice(tags=list(tags), origin=self.instance))

    async def apply_change(self, event: ChangeEvent, *, strict: bool = False) -> int:
        """Invalidate what ``event`` makes stale and announce it to every instance's
        listeners (live updates); the number of shared keys deleted. With ``strict``,
        raise :class:`~sources.cache.backend.CacheUnavailable` if the shared cache
        could not delete or announce it (the change may then be applied again)."""
        self._tell_adapters(event)
        notice = ChangeNotice(tags=event.tags(), event=event, origin=self.instance)
        return await self._announce(notice, strict)

    async def _announce(self, notice: ChangeNotice, strict: bool = False) -> int:
        deleted = await self._forget(notice.tags, strict=strict)
        await self.backend.publish(INVALIDATION_CHANNEL, msgspec.json.encode(notice), strict=strict)
        if notice.event is not None:  # this instance's own: not through pub/sub
            await self._tell_listeners(notice.event)
        return deleted

    async def _forget(self, tags: Sequence[str], *, strict: bool = False) -> int:
        """Delete the entries under ``tags`` in the shared cache and this process's
        copies. Noted before (a fetch here that ends after the shared delete must not
        write its older answer back) and again after: a request that began meanwhile
        may still have read an old entry, shared or local, and must not write it back
        either (an entry, or a whole response)."""
        self.invalidations.record(tags)
        deleted = await self.backend.invalidate_tags(tags, strict=strict)
        await self._drop_local(tags)
        self.invalidations.record(tags)
        return deleted

    async def _on_notice(self, message: bytes) -> None:
        try:
            notice = msgspec.json.decode(message, type=ChangeNotice)
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("ignored a malformed change notice")
            return
        if notice.origin == self.instance:
            return  # applied and told here when announced
        if notice.event is not None:
            self._tell_adapters(notice.event)
        # A fetch here that ended after the announcer's shared delete, but before this
        # notice arrived, may have written the old value back; this process's later
        # write-backs are guarded now, so one more delete leaves none.
        await self._forget(notice.tags)
        if notice.event is not None:
            await self._tell_listeners(notice.event)

    async def _on_missed(self) -> None:
        """Notices may have been lost: any entry may have changed. No fetch begun
        before now writes back, no in-process copy is kept, and whatever follows
        changes reads again. (An old value a fetch here wrote back meanwhile stays in
        the shared cache: the second delete a lost notice brings is lost with it.)"""
        self.invalidations.forget_all()
        if self.local is not None:
            self.local.clear()
        for resync in list(self.resyncs):
            try:
                resync()
            except Exception:  # one follower's bug must not starve the others
                log.exception("a change follower failed to resync")

    async def _tell_listeners(self, event: ChangeEvent) -> None:
        for listener in list(self.listeners):
            try:
                await listener(event)
            except Exception:  # one listener's bug must not starve the others
                log.exception("a change listener failed on %s", event.type.value)

    def _tell_adapters(self, event: ChangeEvent) -> None:
        """Before anything is dropped: a read that follows must find the adapters
        knowing of the change (:class:`~sources.adapters.protocols.HearsChanges`)."""
        for adapter in self.hearing:
            adapter.heard(event)

    async def _drop_local(self, tags: Sequence[str]) -> None:
        if self.local is not None:
            await self.local.invalidate_tags(tags)


def pooled(adapter: SourceAdapter, read: Fetch[V]) -> Fetch[V]:
    """``read``, pooled across requests while ``adapter``'s source holds its calls back
    (an adapter that says so: ``held_s``; resilience.held_batches)."""
    held_s = getattr(adapter, "held_s", None)
    if held_s is None:
        return read
    return HeldBatches(adapter.name, read, held_s, adapter.batch_size).read
