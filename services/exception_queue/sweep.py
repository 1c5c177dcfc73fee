"""The periodic sweep, by one instance at a time: what change events cannot do.

Change events cannot tell when time alone raises an exception (a promise passes, a
parcel stalls), nor fill an empty queue, and an instance may miss some. A pass
therefore evaluates the orders the OMS lists as changed since the last pass (its
watermark: the OMS's ``listedAt`` of that pass's first page, shared through the
cache backend so a restarted or another instance continues from it), then the orders
whose due time has passed (the due index, kept by every evaluation from
``domain.exception_rules.next_change_at``). Its reads grow with change, not with the
number of orders.

A full pass reads every order instead: the first one (no watermark yet), then one
every ``full_interval_s`` as a reconciliation (events missed while every instance
was down, orders the OMS no longer lists); it drops the entries of orders it did not
list. The sweep's lock is held for the whole interval, not only while it runs, so a
fleet sweeps about once per interval whatever its size; a pass longer than the
interval (a large OMS's full pass) renews it as it goes, and stops if another
instance took it meanwhile, so two instances never sweep at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.queue_entries import QueueEntry
from services.exception_queue.store import KEY_PREFIX, QueueStore, SweepState
from sources import records
from sources.adapters.protocols import OrdersAdapter
from sources.adapters.search import OrderSearch
from sources.cache.backend import CacheUnavailable, Claim, Locks
from sources.clock import Clock
from sources.records import MAX_BATCH

log = logging.getLogger("ordergraph.exception_queue")

RETRY_S = 1.0  # the first wait after a pass the store could not serve
LOCK_KEY = f"{KEY_PREFIX}:sweep-lock"
PAGE_TIMEOUT_S = 30.0  # one page: its OMS call and its evaluation
FULL_INTERVAL_S = 24 * 3600.0
MAX_DUE_PER_PASS = 10_000  # the rest wait for the next pass (earliest first)

Evaluate = Callable[[Sequence[records.Order], float], Awaitable[None]]  # orders, read at
# Read these orders by id and evaluate them; the ids the OMS does not know.
EvaluateIds = Callable[[Sequence[str]], Awaitable[set[str]]]


class SweepLockLost(Exception):
    """The sweep's lock expired under a running pass (another instance may sweep)."""


@dataclass(frozen=True, slots=True)
class PassReport:
    """What one pass read: ``listed`` orders from ``searches`` OMS search calls (all
    of them on a full pass, the changed ones otherwise), ``due`` orders read by id
    because their due time passed, and ``gone`` orders dropped as no longer listed."""

    full: bool
    searches: int
    listed: int
    due: int
    gone: int


class Sweeper:
    def __init__(
        self,
        oms: OrdersAdapter,
        store: QueueStore,
        backend: Locks,
        evaluate: Evaluate,
        evaluate_ids: EvaluateIds,
        interval_s: float,
        clock: Clock,
        full_interval_s: float = FULL_INTERVAL_S,
    ) -> None:
        self._oms = oms
        self._store = store
        self._backend = backend
        self._evaluate = evaluate
        self._evaluate_ids = evaluate_ids
        self.interval_s = interval_s
        self.full_interval_s = full_interval_s
        self._clock = clock
        self.completed = 0  # sweeps this process finished
        self.last: PassReport | None = None  # the last pass this process finished

    async def run(self) -> None:
        """Sweep now, then every ``interval_s`` after the last one ended, until cancelled.
        A pass the store could not serve is tried again sooner: after 1 s, doubling up
        to the interval."""
        retry_s = RETRY_S
        while True:
            wait_s = self.interval_s
            try:
                await self.sweep()
                retry_s = RETRY_S
            except SweepLockLost:
                log.warning("exception queue: the sweep lock expired under a pass; it stopped")
            except CacheUnavailable as exc:
                wait_s, retry_s = min(retry_s, self.interval_s), retry_s * 2
                log.warning(
                    "exception queue: no sweep, the store failed (next try in %.0f s): %s",
                    wait_s,
                    exc,
                )
            except Exception:
                log.exception("exception queue: the sweep failed; next try in one interval")
            await asyncio.sleep(wait_s)

    async def sweep(self) -> bool:
        """One sweep, unless another instance swept within the interval; whether it ran.
        Raises :class:`CacheUnavailable` when the store (its lock included) cannot answer,
        :class:`SweepLockLost` when another instance took the lock meanwhile."""
        claim = await self._backend.claim_once(LOCK_KEY, self.interval_s)
        if claim is None:
            return False
        try:
            self.last = await self._held(claim)
        except BaseException:
            await self._backend.release_claim(claim)  # another may try at once
            raise
        self.completed += 1
        return True

    async def _held(self, claim: Claim) -> PassReport:
        """A pass while ``claim`` holds the lock: renewed for an interval every third of
        one, and once more as the pass ends (the next pass is an interval away); the
        pass stops as soon as a renewal finds another instance holding the lock (one
        that lapsed, a renewal late on a busy loop, and that no one took is held again)."""
        every_s = self.interval_s / 3
        swept = asyncio.ensure_future(self._sweep())
        try:
            while not (await asyncio.wait({swept}, timeout=every_s))[0]:
                if not await self._backend.renew_claim(claim, self.interval_s):
                    raise SweepLockLost()
            report = swept.result()
            with contextlib.suppress(CacheUnavailable):  # else it lapses an interval sooner
                await self._backend.renew_claim(claim, self.interval_s)
            return report
        finally:
            if not swept.done():
                swept.cancel()
                await asyncio.gather(swept, return_exceptions=True)

    async def _sweep(self) -> PassReport:
        started = self._clock.now()
        state = await self._store.sweep_state()
        full = (
            state is None
            or state.watermark is None
            or started - state.full_at >= timedelta(seconds=self.full_interval_s)
        )
        since = None if full or state is None else state.watermark
        seen, searches, watermark = await self._list(since)
        due = [] if full else await self._due(started, seen)
        gone = await self._drop_unlisted(seen, started) if full else 0
        if watermark is None and (state is None or state.watermark is not None):
            log.warning("exception queue: the OMS gives no listedAt; every pass reads every order")
        full_at = started if full or state is None else state.full_at
        await self._store.save_sweep_state(SweepState(watermark=watermark, full_at=full_at))
        report = PassReport(full=full, searches=searches, listed=len(seen), due=len(due), gone=gone)
        log.info("exception queue: swept %s", report)
        return report

    async def _list(self, since: datetime | None) -> tuple[set[str], int, datetime | None]:
        """Evaluate every order the OMS lists (updated since ``since``, if given): their
        ids, the search calls made and the first page's ``listedAt``."""
        seen: set[str] = set()
        search = OrderSearch(updated_since=since)
        cursor: str | None = None
        searches = 0
        watermark: datetime | None = None
        while True:
            async with asyncio.timeout(PAGE_TIMEOUT_S):
                listed_at = self._clock.time()
                page = await self._oms.search_orders(search, limit=MAX_BATCH, cursor=cursor)
                orders = [edge.node for edge in page.edges]
                await self._evaluate(orders, listed_at)
            if searches == 0:
                watermark = page.listed_at
            searches += 1
            seen.update(order.id for order in orders)
            cursor = page.page_info.end_cursor
            if not page.page_info.has_next_page or cursor is None:
                return seen, searches, watermark

    async def _due(self, now: datetime, seen: set[str]) -> list[str]:
        """Evaluate the orders whose due time has passed (those just listed were
        evaluated already); the ones the OMS no longer knows leave the queue."""
        due = [i for i in await self._store.due_orders(now, MAX_DUE_PER_PASS) if i not in seen]
        for start in range(0, len(due), MAX_BATCH):
            async with asyncio.timeout(PAGE_TIMEOUT_S):
                unknown = await self._evaluate_ids(due[start : start + MAX_BATCH])
            if unknown:  # rare: look their entries up in the whole queue
                entries = await self._store.every_entry()
                await self._forget(unknown, [e for e in entries if e.order_id in unknown])
        return due

    async def _drop_unlisted(self, seen: set[str], started: datetime) -> int:
        """Drop the queue entries and due times of orders a full pass did not list."""
        entries = [
            entry
            for entry in await self._store.every_entry()
            if entry.order_id not in seen and entry.evaluated_at < started
        ]
        gone = {entry.order_id for entry in entries}
        gone |= {order_id for order_id in await self._store.every_due() if order_id not in seen}
        await self._forget(gone, entries)
        return len(gone)

    async def _forget(self, order_ids: set[str], entries: list[QueueEntry]) -> None:
        await asyncio.gather(self._store.remove(entries), self._store.set_due({}, list(order_ids)))
