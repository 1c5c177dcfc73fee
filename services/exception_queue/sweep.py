"""The periodic sweep: every order evaluated again, by one instance at a time.

Change events cannot tell when time alone raises an exception (a promise passes, a
parcel stalls), nor fill an empty queue; the sweep does both. It pages through the
OMS's order list and evaluates each page together, then drops entries of orders the
OMS no longer lists. Its lock is held for the whole interval, not only while it
runs, so a fleet sweeps about once per interval whatever its size.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from services.exception_queue.store import KEY_PREFIX, QueueStore
from sources import records
from sources.cache.backend import CacheUnavailable, Locks
from sources.clients.oms import OmsClient, OrderSearch
from sources.clock import Clock
from sources.records import MAX_BATCH

log = logging.getLogger("ordergraph.exception_queue")

LOCK_KEY = f"{KEY_PREFIX}:sweep-lock"
PAGE_TIMEOUT_S = 30.0  # one page: its OMS call and its evaluation

Evaluate = Callable[[Sequence[records.Order], float], Awaitable[None]]  # orders, read at


class Sweeper:
    def __init__(
        self,
        oms: OmsClient,
        store: QueueStore,
        backend: Locks,
        evaluate: Evaluate,
        interval_s: float,
        clock: Clock,
    ) -> None:
        self._oms = oms
        self._store = store
        self._backend = backend
        self._evaluate = evaluate
        self.interval_s = interval_s
        self._clock = clock
        self.completed = 0  # sweeps this process finished

    async def run(self) -> None:
        """Sweep now, then every ``interval_s`` after the last one ended, until cancelled."""
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("exception queue: the sweep failed; next try in one interval")
            await asyncio.sleep(self.interval_s)

    async def sweep(self) -> bool:
        """One sweep, unless another instance swept within the interval; whether it ran."""
        try:
            claim = await self._backend.claim_once(LOCK_KEY, self.interval_s)
        except CacheUnavailable as exc:
            log.warning("exception queue: no sweep, its lock cannot be claimed: %s", exc)
            return False
        if claim is None:
            return False
        try:
            await self._sweep()
        except BaseException:
            await self._backend.release_claim(claim)  # another may try at once
            raise
        self.completed += 1
        return True

    async def _sweep(self) -> None:
        started = self._clock.now()
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            async with asyncio.timeout(PAGE_TIMEOUT_S):
                listed_at = self._clock.time()
                page = await self._oms.search_orders(OrderSearch(), limit=MAX_BATCH, cursor=cursor)
                orders = [edge.node for edge in page.edges]
                await self._evaluate(orders, listed_at)
            seen.update(order.id for order in orders)
            cursor = page.page_info.end_cursor
            if not page.page_info.has_next_page or cursor is None:
                break
        gone = [
            entry
            for entry in await self._store.every_entry()
            if entry.order_id not in seen and entry.evaluated_at < started
        ]
        await self._store.remove(gone)
        await self._store.mark_primed()
        log.info("exception queue: swept %d orders, %d gone", len(seen), len(gone))
