"""The exception queue in the cache backend: its views (ranked indexes of
``QueueEntry``), the reverse maps that turn tracking and inventory change events
into the orders they concern, the due index (when each open order's exceptions next
change by time alone) and the sweep's state (its watermark).

An order with open exceptions has one entry per *view* it belongs to: every
account's view and its own account's, each in an internal version (all exceptions)
and a public one (without internal exceptions such as FRAUD_REVIEW; the order is in
it only if a public exception is left). A caller reads exactly one view, so tenant
and internal filtering cost nothing at read time and ranks never count what the
caller may not see.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, cast

import msgspec
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_incrementing

from domain.progress import OrderProgress
from domain.queue_entries import QueueEntry
from resolvers.access import EVERY_ACCOUNT
from sources import records
from sources.cache.backend import (
    CacheUnavailable,
    IndexEntry,
    IndexPosition,
    KeyValue,
    RankedIndexes,
)
from sources.events import tracking_key
from sources.records import Record

KEY_PREFIX = "og:exq:v1"  # bump when QueueEntry changes shape

# A tracking number's order is written at every evaluation of the order. An order is
# evaluated again only when it changes or a due time passes, so the map outlives a
# parcel's whole journey.
TRACKING_TTL_S = 60 * 24 * 3600.0
READ_MARK_TTL_S = 120.0  # longer than any evaluation may take
READ_PAGE = 100
ATTEMPTS = 3  # a store call that fails, in all
RETRY_S = 0.02  # before its second attempt; twice that before its third
DUE = f"{KEY_PREFIX}:due"  # ranked index: open orders by their next due time
_SWEEP_STATE = f"{KEY_PREFIX}:sweep-state"  # ranked index holding the one SweepState
_STATE_MEMBER = "sweep"
# Due times rank as text, earliest highest (an index is read highest first): 10**17
# minus the due time in microseconds since the epoch, in 17 digits.
_DUE_HORIZON_US = 10**17

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(QueueEntry).decode


class SweepState(Record, frozen=True, kw_only=True):
    """Where the sweep left off, shared by every instance.

    ``watermark`` is the OMS's ``listedAt`` of the first page of the last pass: the
    next pass lists the orders updated since (``None``: the OMS does not say, so every
    pass reads every order). ``full_at`` is when the last full pass began."""

    watermark: datetime | None
    full_at: datetime


_decode_state = msgspec.json.Decoder(SweepState).decode


def due_rank(due: datetime) -> str:
    """``due`` as a rank of the due index: earlier is higher."""
    micros = round(due.timestamp() * 1_000_000)
    return f"{min(_DUE_HORIZON_US, max(0, _DUE_HORIZON_US - micros)):017d}"


def _key(kind: str, ident: str) -> str:
    """A key of the queue's own: ``kind`` is tracking (a number's order), read (when an
    order was last read) or sku (an index of the orders with that SKU open)."""
    return f"{KEY_PREFIX}:{kind}:{ident}"


def _tracking(number: str) -> str:
    """The key of the order a tracking number belongs to, whatever its letter case."""
    return _key("tracking", tracking_key(number))


def view(scope: str, *, internal: bool) -> str:
    """The index of one view: ``scope`` is an account id or ``*`` (every account)."""
    return f"{KEY_PREFIX}:queue:{'internal' if internal else 'public'}:{scope}"


def views_of(account_id: str) -> list[tuple[str, bool]]:
    """(index, internal) of every view an order of ``account_id`` may be in."""
    return [
        (view(scope, internal=internal), internal)
        for scope in (EVERY_ACCOUNT, account_id)
        for internal in (True, False)
    ]


def open_skus(order: records.Order) -> set[str]:
    """SKUs with units neither cancelled nor shipped: where stock still matters. A
    line counter that lags the shipments does not keep a SKU open."""
    progress = OrderProgress.of(order)
    if progress.is_cancelled:
        return set()
    return {line.sku for line in order.lines if progress.lines[line.id].unfulfilled > 0}


class QueueBackend(RankedIndexes, KeyValue, Protocol):
    """The views are ranked indexes; the reverse maps, plain values."""


class _Patient:
    """The backend, each call asked again (up to ``ATTEMPTS`` in all, a moment apart)
    when it fails: the store has no fallback, and a Redis call times out after 100 ms,
    which a busy machine (a sweep's own evaluations keep its event loop busy) or a
    Redis blip exceeds now and then. Every call the store makes is safe to repeat; one
    thing is lost when a lost answer hid a write Redis did apply: asked again,
    ``index_put`` reports the entry it replaced as the one just written, so that
    evaluation announces no new exceptions."""

    def __init__(self, backend: QueueBackend) -> None:
        self._backend = backend

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._backend, name)

        async def patiently(*args: Any, **options: Any) -> Any:
            return await _PATIENCE.copy()(call, *args, **options)

        return patiently


_PATIENCE = AsyncRetrying(
    retry=retry_if_exception_type(CacheUnavailable),
    stop=stop_after_attempt(ATTEMPTS),
    wait=wait_incrementing(start=RETRY_S, increment=RETRY_S),
    reraise=True,
)


class QueueStore:
    def __init__(self, backend: QueueBackend) -> None:
        self._backend = cast(QueueBackend, _Patient(backend))

    async def write(
        self, evaluated: Sequence[tuple[records.Order, QueueEntry | None]]
    ) -> dict[str, QueueEntry | None]:
        """Put each order's entry in its views, or take the order out of those where
        it has nothing to show; each order's previous internal entry (every-account
        view), swapped atomically so concurrent evaluations never both see the old one."""
        puts: dict[str, list[IndexEntry]] = defaultdict(list)
        removals: dict[str, list[str]] = defaultdict(list)
        for order, entry in evaluated:
            for index, internal in views_of(order.account_id):
                shown = entry if internal or entry is None else entry.public()
                if shown is None:
                    removals[index].append(order.id)
                else:
                    puts[index].append(IndexEntry(order.id, shown.rank(), _encode(shown)))
        everyone = view(EVERY_ACCOUNT, internal=True)
        others = asyncio.gather(
            *(self._backend.index_put(index, entries) for index, entries in puts.items()
              if index != everyone),
            *(self._backend.index_remove(index, members) for index, members in removals.items()),
        )  # fmt: skip
        previous_payloads, _ = await asyncio.gather(
            self._backend.index_put(everyone, puts.get(everyone, [])), others
        )
        put_ids = [order.id for order, entry in evaluated if entry is not None]
        previous = dict(zip(put_ids, previous_payloads, strict=True))
        return {
            order.id: None if (raw := previous.get(order.id)) is None else _decode(raw)
            for order, _ in evaluated
        }

    async def remove(self, entries: Iterable[QueueEntry]) -> None:
        """Take these entries' orders out of every view."""
        removals: dict[str, list[str]] = defaultdict(list)
        for entry in entries:
            for index, _ in views_of(entry.account_id):
                removals[index].append(entry.order_id)
        await asyncio.gather(
            *(self._backend.index_remove(index, members) for index, members in removals.items())
        )

    async def page(
        self, scope: str, *, internal: bool, limit: int, after: IndexPosition | None
    ) -> list[tuple[IndexPosition, QueueEntry]]:
        """Up to ``limit`` entries of one view, highest first, below ``after``."""
        found = await self._backend.index_range(view(scope, internal=internal), limit, after)
        return [(entry.position, _decode(entry.payload)) for entry in found]

    async def every_entry(self) -> list[QueueEntry]:
        """The whole every-account internal view (every queued order once)."""
        entries: list[QueueEntry] = []
        after: IndexPosition | None = None
        while page := await self.page(EVERY_ACCOUNT, internal=True, limit=READ_PAGE, after=after):
            entries += [entry for _, entry in page]
            after = page[-1][0]
        return entries

    async def mark_read(self, order_ids: Sequence[str], at: float) -> None:
        """Note that these orders' data were read at ``at`` (epoch seconds) for an
        evaluation, so that an evaluation of older data does not overwrite its outcome
        (callers leave out the orders ``read_since`` already found newer marks for)."""
        mark = repr(at).encode()
        marks = [(_key("read", order_id), mark, READ_MARK_TTL_S) for order_id in order_ids]
        await self._backend.set_many(marks, {}, strict=True)

    async def read_since(self, order_ids: Sequence[str], at: float) -> set[str]:
        """Those of ``order_ids`` whose data another evaluation read after ``at``."""
        keys = [_key("read", order_id) for order_id in order_ids]
        marks = await self._backend.get_many(keys, strict=True)
        return {i for i, mark in zip(order_ids, marks, strict=True) if mark and float(mark) > at}

    async def remember(self, orders: Sequence[records.Order]) -> None:
        """Map the orders' tracking numbers, and their open SKUs, back to them."""
        numbers = [
            (_tracking(shipment.tracking_number), order.id.encode(), TRACKING_TTL_S)
            for order in orders
            for shipment in order.shipments
            if shipment.tracking_number
        ]
        by_sku: dict[str, list[IndexEntry]] = defaultdict(list)
        for order in orders:
            for sku in open_skus(order):
                by_sku[sku].append(IndexEntry(order.id, ""))
        await asyncio.gather(
            self._backend.set_many(numbers, {}, strict=True),
            *(self._backend.index_put(_key("sku", sku), ids) for sku, ids in by_sku.items()),
        )

    async def orders_of_trackings(self, numbers: Sequence[str]) -> list[str]:
        """The orders last evaluated with these tracking numbers, named in any case."""
        keys = list(dict.fromkeys(_tracking(number) for number in numbers))
        found = await self._backend.get_many(keys, strict=True)
        return list(dict.fromkeys(order_id.decode() for order_id in found if order_id is not None))

    async def orders_of_sku(self, sku: str) -> list[str]:
        """Orders that had ``sku`` open when last evaluated (some may have closed it)."""
        return await self._members(_key("sku", sku))

    async def forget_sku(self, sku: str, order_ids: Sequence[str]) -> None:
        await self._backend.index_remove(_key("sku", sku), order_ids)

    async def primed(self) -> bool:
        """Whether a full sweep has ever filled the queue (in this backend)."""
        return await self.sweep_state() is not None

    async def sweep_state(self) -> SweepState | None:
        """The last pass's state; ``None`` before the first full pass completes (or when
        the backend cannot answer: then the next pass is a full one)."""
        found = await self._backend.index_range(_SWEEP_STATE, 1)
        if not found or found[0].member != _STATE_MEMBER:
            return None
        return _decode_state(found[0].payload)

    async def save_sweep_state(self, state: SweepState) -> None:
        await self._backend.index_put(_SWEEP_STATE, [IndexEntry(_STATE_MEMBER, "", _encode(state))])

    async def set_due(self, due: Mapping[str, datetime], done: Sequence[str]) -> None:
        """Note when each order of ``due`` next needs evaluating, and take the ``done``
        ones (nothing left to change by time) out of the due index."""
        entries = [IndexEntry(order_id, due_rank(at)) for order_id, at in due.items()]
        await asyncio.gather(
            self._backend.index_put(DUE, entries), self._backend.index_remove(DUE, done)
        )

    async def due_orders(self, now: datetime, limit: int) -> list[str]:
        """Up to ``limit`` orders whose due time is at or before ``now``, earliest first."""
        found: list[str] = []
        after: IndexPosition | None = None
        cut = due_rank(now)
        while len(found) < limit:
            wanted = min(READ_PAGE, limit - len(found))
            page = await self._backend.index_range(DUE, wanted, after)
            found += [entry.member for entry in page if entry.rank >= cut]
            if len(page) < wanted or page[-1].rank < cut:
                break
            after = page[-1].position
        return found

    async def every_due(self) -> list[str]:
        """Every order in the due index."""
        return await self._members(DUE)

    async def _members(self, index: str) -> list[str]:
        members: list[str] = []
        after: IndexPosition | None = None
        while page := await self._backend.index_range(index, READ_PAGE, after):
            members += [entry.member for entry in page]
            after = page[-1].position
        return members
