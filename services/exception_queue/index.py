"""Keeping the exception queue current, and telling every instance what was raised.

Every instance hears every change event (``CachedUpstreams.on_change``); the first to
claim an event (``claim_once`` on its delivery's id) evaluates the orders it concerns,
in a background worker, so neither the webhook nor the other change listeners wait.
A periodic sweep (one instance at a time) evaluates the orders changed since its last
pass and those whose due time has passed, which is how time-based exceptions (LATE,
STALLED_IN_TRANSIT...) appear; its first pass, with no watermark yet, evaluates every
order and so fills the queue (``sweep``). Every evaluation notes when the order's
exceptions next change by time alone in the due index; an order with nothing left to
change (delivered, cancelled, closed) leaves it.

An evaluation reads the sources as an internal console would, through fresh
per-evaluation loaders, and only counts when every source answered: an order whose
tracking, stock or tickets could not be read keeps its previous entry (a failing
carrier must not clear, then raise again, every carrier exception). Nor does it count
for an order whose data another evaluation read later (a sweep page listed before a
change, written after the change's own evaluation): the later read wins. An order
whose rules raise keeps its entry as well, logged with its id and due again at once
(the next pass tries it again), while the rest of its batch, and the sweep, go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import msgspec
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from domain.exception_rules import next_change_at
from domain.queue_entries import ExceptionFact, QueueEntry, RaisedExceptions
from resolvers.context import RequestContext
from resolvers.loaders import settle
from resolvers.order_facts import SourceFacts, gather_facts
from services.exception_queue.store import KEY_PREFIX, QueueStore, open_skus
from services.exception_queue.sweep import Sweeper
from sources import records
from sources.cache.backend import CacheUnavailable, Claim, Locks
from sources.cache.through import Cached
from sources.cache.upstreams import CachedUpstreams
from sources.events import ChangeEvent, EventType
from sources.records import MAX_BATCH
from sources.resilience import deadline

log = logging.getLogger("ordergraph.exception_queue")

RAISED_CHANNEL = "og:exceptions-raised"  # every instance's RaisedExceptions, as JSON
RaisedListener = Callable[[RaisedExceptions], Awaitable[None]]

EVENT_CLAIM_TTL_S = 600.0  # an event is evaluated by one instance, once, within this
# A batch of events the store could not serve is tried again this many times in all,
# after 0.2 s, then 0.4 s (Redis blips, a saturated loop); then the sweep catches up.
EVENT_ATTEMPTS = 3
EVENT_RETRY_S = 0.2
_EVENT_RETRY = AsyncRetrying(
    retry=retry_if_exception_type(CacheUnavailable),
    stop=stop_after_attempt(EVENT_ATTEMPTS),
    wait=wait_exponential(multiplier=EVENT_RETRY_S),
    reraise=True,
)
EVALUATION_TIMEOUT_S = 15.0  # one batch of at most MAX_BATCH orders
MAX_PENDING_EVENTS = 10_000  # beyond, events are dropped (the next sweep catches up)
_ORDER_EVENTS = frozenset(
    {EventType.ORDER_UPDATED, EventType.ORDER_CANCELLED, EventType.TICKET_UPDATED}
)


class ExceptionIndex:
    """The exception queue's upkeep in one gateway process.

    ``listen()`` before the cache backend starts, ``start()`` after it, ``close()``
    before it closes. Reading the queue needs only ``store`` (or a ``QueueStore`` over
    the same backend).
    """

    def __init__(
        self, cached: CachedUpstreams, *, sweep_interval_s: float = 60.0, workers: int = 2
    ) -> None:
        self._cached = cached
        self.store = QueueStore(cached.backend)
        self.sweeper = Sweeper(
            cached.upstreams.oms,
            self.store,
            cached.backend,
            self.evaluate_orders,
            self._evaluate_due,
            sweep_interval_s,
            cached.clock,
        )
        self._workers = workers
        self._pending: asyncio.Queue[ChangeEvent] = asyncio.Queue(MAX_PENDING_EVENTS)
        self._listeners: list[RaisedListener] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._encode = msgspec.json.Encoder().encode
        self._decode_raised = msgspec.json.Decoder(RaisedExceptions).decode

    def listen(self) -> None:
        """Follow change events and raised announcements (call before the backend starts)."""
        self._cached.on_change(self._on_change)
        self._cached.backend.subscribe(RAISED_CHANNEL, self._on_raised_message)

    def start(self) -> None:
        """Start the event workers and the sweep (its first run at once)."""
        work = [self._work() for _ in range(self._workers)]
        self._tasks = [deadline.detached(w, background=True) for w in [*work, self.sweeper.run()]]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def on_raised(self, listener: RaisedListener) -> Callable[[], None]:
        """Call ``listener`` for every ``RaisedExceptions`` any instance publishes, in
        this process, until the returned function is called. Listeners run one after
        another per message: hand the message on (e.g. to a queue) and return."""
        self._listeners.append(listener)

        def stop() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return stop

    async def evaluate(self, order_ids: Sequence[str]) -> list[records.Order]:
        """Evaluate these orders (at most ``MAX_BATCH``) now; the ones the OMS gave."""
        orders, _ = await self._read_and_evaluate(order_ids)
        return orders

    async def _evaluate_due(self, order_ids: Sequence[str]) -> set[str]:
        """Evaluate these orders now; the ids the OMS answered it does not know."""
        _, unknown = await self._read_and_evaluate(order_ids)
        return unknown

    async def _read_and_evaluate(
        self, order_ids: Sequence[str]
    ) -> tuple[list[records.Order], set[str]]:
        read_at = self._cached.clock.time()
        context = RequestContext.create(self._cached, queue=self.store)
        found = await settle(context.loaders.order_by_id, order_ids)
        answered = {i: r.value for i, r in found.items() if isinstance(r, Cached)}
        orders = [order for order in answered.values() if order is not None]
        await self.evaluate_orders(orders, read_at, context)
        return orders, {i for i, order in answered.items() if order is None}

    async def evaluate_orders(
        self,
        orders: Sequence[records.Order],
        read_at: float,
        context: RequestContext | None = None,
    ) -> None:
        """Evaluate these order records, read from the OMS at ``read_at`` (epoch
        seconds), together (their lookups share batches); store the outcome and
        announce exceptions new to each order."""
        ids = [order.id for order in orders]
        superseded = await self.store.read_since(ids, read_at)
        await self.store.mark_read([i for i in ids if i not in superseded], read_at)
        context = context or RequestContext.create(self._cached, queue=self.store)
        facts = await asyncio.gather(*(gather_facts(order, context) for order in orders))
        superseded |= await self.store.read_since(ids, read_at)
        now = self._cached.clock.now()
        current = [
            (order, found)
            for order, found in zip(orders, facts, strict=True)
            if order.id not in superseded
        ]
        evaluated: list[tuple[records.Order, QueueEntry | None]] = []
        due: dict[str, datetime | None] = {}
        for order, found in current:
            try:
                due[order.id] = _due(order, found, now)
                if found.complete:
                    evaluated.append((order, _entry(order, found, now)))
            except Exception:  # one order's failing rule must not cost the others theirs
                log.exception(
                    "exception queue: order %s kept, its rules failed; tried again next pass",
                    order.id,
                )
                due[order.id] = now
        if len(evaluated) < len(orders):
            kept = len(orders) - len(evaluated)
            log.info(
                "exception queue: %d order(s) kept: a source or a rule failed, or newer data",
                kept,
            )
        previous, *_ = await asyncio.gather(
            self.store.write(evaluated),
            self.store.remember(orders),
            self.store.set_due(
                {i: at for i, at in due.items() if at is not None},
                [i for i, at in due.items() if at is None],
            ),
        )
        raised = [
            RaisedExceptions(
                order_id=order.id, account_id=order.account_id, exceptions=new, raised_at=now
            )
            for order, entry in evaluated
            if entry is not None and (new := _new_facts(entry, previous.get(order.id)))
        ]
        # Until a sweep has filled the queue once, every open exception would look new.
        if raised and await self.store.primed():
            await asyncio.gather(
                *(self._cached.backend.publish(RAISED_CHANNEL, self._encode(r)) for r in raised)
            )

    async def _on_change(self, event: ChangeEvent) -> None:
        try:
            self._pending.put_nowait(event)
        except asyncio.QueueFull:
            log.warning("exception queue: %s dropped, too many pending", event.type.value)

    async def _work(self) -> None:
        """Evaluate what pending events concern, a batch of events at a time."""
        while True:
            events = [await self._pending.get()]
            while len(events) < MAX_BATCH and not self._pending.empty():
                events.append(self._pending.get_nowait())
            try:
                await _EVENT_RETRY.copy()(self._apply, events)
            except CacheUnavailable as exc:
                log.warning(
                    "exception queue: %d change event(s) left to the sweep, the store "
                    "failed %d times: %s", len(events), EVENT_ATTEMPTS, exc,
                )  # fmt: skip
            except Exception:
                log.exception("exception queue: %d change event(s) not evaluated", len(events))

    async def _apply(self, events: list[ChangeEvent]) -> None:
        """Evaluate what the events this instance claims concern. When the store cannot
        answer (:class:`CacheUnavailable`, raised) their claims are given back, so the
        batch can be tried again, here or on another instance: a claim is never assumed."""
        claims: Locks = self._cached.backend
        results = await asyncio.gather(
            *(claims.claim_once(_claim_key(event), EVENT_CLAIM_TTL_S) for event in events),
            return_exceptions=True,
        )
        taken = [
            (event, r) for event, r in zip(events, results, strict=True) if isinstance(r, Claim)
        ]
        try:
            for failure in results:
                if isinstance(failure, BaseException):
                    raise failure
            await self._evaluate_changes([event for event, _ in taken])
        except CacheUnavailable:
            await asyncio.gather(*(claims.release_claim(claim) for _, claim in taken))
            raise

    async def _evaluate_changes(self, mine: list[ChangeEvent]) -> None:
        order_ids = [e.order_id for e in mine if e.type in _ORDER_EVENTS and e.order_id]
        numbers = [e.tracking_number for e in mine if e.type is EventType.TRACKING_UPDATED]
        order_ids += await self.store.orders_of_trackings([n for n in numbers if n])
        skus = {e.sku for e in mine if e.type is EventType.INVENTORY_CHANGED and e.sku}
        by_sku = {sku: await self.store.orders_of_sku(sku) for sku in skus}
        for members in by_sku.values():
            order_ids += members
        unique = list(dict.fromkeys(order_ids))
        evaluated: dict[str, records.Order] = {}
        for start in range(0, len(unique), MAX_BATCH):
            async with asyncio.timeout(EVALUATION_TIMEOUT_S):
                orders = await self.evaluate(unique[start : start + MAX_BATCH])
            evaluated.update((order.id, order) for order in orders)
        for sku, members in by_sku.items():  # orders whose line of this SKU is done now
            done = [m for m in members if m in evaluated and sku not in open_skus(evaluated[m])]
            await self.store.forget_sku(sku, done)

    async def _on_raised_message(self, message: bytes) -> None:
        try:
            raised = self._decode_raised(message)
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("ignored a malformed raised-exceptions message")
            return
        for listener in list(self._listeners):
            try:
                await listener(raised)
            except Exception:  # one listener's bug must not starve the others
                log.exception("a raised-exceptions listener failed")


def _claim_key(event: ChangeEvent) -> str:
    """The claim of one delivery of a change: by its id, so two deliveries that say
    the same (a parcel's two updates within one second) are both evaluated, and a
    delivery announced again (a retry) is evaluated once. An event without an id (a
    notice from an instance that predates them) is claimed by its contents."""
    identity = msgspec.json.encode(event) if event.id is None else event.id.encode()
    digest = hashlib.sha256(identity).hexdigest()[:32]
    return f"{KEY_PREFIX}:event:{digest}"


def _entry(order: records.Order, found: SourceFacts, now: datetime) -> QueueEntry | None:
    facts = [ExceptionFact.of(e) for e in found.exceptions(order, now)]
    return QueueEntry.of(order.id, order.account_id, facts, now)


def _due(order: records.Order, found: SourceFacts, now: datetime) -> datetime | None:
    """When the order needs evaluating again without a change: its next due time, or at
    the next pass when a source failed (``now``, already past by then)."""
    if not found.complete:
        return now
    return next_change_at(order, found.trackings, found.stock, found.tickets, now=now)


def _new_facts(entry: QueueEntry, previous: QueueEntry | None) -> list[ExceptionFact]:
    """``entry``'s exceptions that ``previous`` did not have (by code and subject)."""
    before = set() if previous is None else {fact.identity for fact in previous.exceptions}
    return [fact for fact in entry.exceptions if fact.identity not in before]
