"""Root subscription fields: an order's updates, and exceptions as they are raised.

``orderUpdated`` first watches the change feed, then reads the order and sends it
as its first event, so no change falls between what the client saw and what it is
told next. ``orderExceptionRaised`` tells each raised announcement once, and never
drops one silently: a subscriber more than ``QUEUE_SIZE`` announcements behind, or
one whose instance may have missed some (pub/sub reconnected), is ended with a
retryable ``SUBSCRIBER_BEHIND`` error. Every later event re-reads what
it sends with fresh loaders, under its own deadline and for the subscriber's key, as
a new request would (``RequestContext.begin_event``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import strawberry
from graphql import GraphQLError

from domain.queue_entries import RaisedExceptions
from resolvers import order_facts
from resolvers.access import EXCEPTION_SCOPES, Access, requires
from resolvers.client_errors import NOT_FOUND, UserInputError
from resolvers.context import RequestContext
from resolvers.live import QUEUE_SIZE, Watch, WatchOverflowed
from resolvers.relay import expect_global_id
from resolvers.types.exception_queue import ExceptionMatch, ExceptionQueueFilter
from resolvers.types.freshness import DataSource
from resolvers.types.order import Info, Order
from resolvers.types.order_exceptions import OrderException
from sources import records
from sources.events import ChangeEvent, EventType, tracking_key
from sources.failures import SourceError
from sources.webhooks import new_msg_id

log = logging.getLogger("ordergraph.subscriptions")

SUBSCRIBER_BEHIND = "SUBSCRIBER_BEHIND"


class SubscriberBehind(GraphQLError):
    """An ``orderExceptionRaised`` subscriber fell more than ``QUEUE_SIZE`` orders
    (announcements) behind: its subscription ends here rather than leave some out.
    The client subscribes again and re-reads ``exceptionQueue``, where every order
    with open exceptions stands."""

    def __init__(self) -> None:
        super().__init__(
            f"this subscription fell more than {QUEUE_SIZE} announcements behind and "
            "ended: subscribe again, then re-read exceptionQueue",
            extensions={"code": SUBSCRIBER_BEHIND, "retryable": True},
        )


@dataclass(frozen=True, slots=True)
class _Interest:
    """The changes that concern one order: its own, its parcels' and its SKUs'."""

    order_id: str
    tracking_keys: frozenset[str]  # its parcels' numbers, by ``tracking_key``
    skus: frozenset[str]

    @classmethod
    def of(cls, order: records.Order) -> _Interest:
        return cls(
            order.id,
            frozenset(map(tracking_key, order_facts.keys_in(DataSource.CARRIER, order))),
            frozenset(order_facts.keys_in(DataSource.INVENTORY, order)),
        )

    def wants(self, event: ChangeEvent) -> bool:
        number = event.tracking_number
        return (
            event.order_id == self.order_id
            or (number is not None and tracking_key(number) in self.tracking_keys)
            or event.sku in self.skus
        )


@strawberry.type(description="Exceptions an order has just gained (derived by the gateway).")
class OrderExceptionsRaised:
    order: Order = strawberry.field(description="The order as it is now.")
    exceptions: list[OrderException] = strawberry.field(
        description="The new exceptions the caller may see, most severe first."
    )
    raised_at: datetime = strawberry.field(
        description="When the gateway found them new (gateway clock, UTC)."
    )


@strawberry.type(description="Live updates, pushed by every gateway instance.")
class Subscription:
    @strawberry.subscription(
        description="The order now, then again each time anything about it changes "
        "(the order itself, its parcels' tracking, its stock or its tickets).",
        directives=requires("orders:read"),
    )
    async def order_updated(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The order's global id.")],
    ) -> AsyncIterator[Order]:
        context = info.context
        (order_id,) = expect_global_id(id, "Order", 1)
        _, order = await _read(context, order_id)
        if order is None:
            raise UserInputError(f"nothing found for {id!r}", code=NOT_FOUND)
        return _updates(context, order_id)

    @strawberry.subscription(
        description="Each time an order gains exceptions that meet the filter (the same "
        "as `exceptionQueue`'s), on any instance. A key bound to an account hears of "
        "that account's orders only; app and partner keys never of internal exceptions. "
        f"None is left out: a subscriber that falls more than {QUEUE_SIZE} orders behind "
        "(a burst faster than it reads), or whose instance may have missed announcements "
        "(its connection to the other instances was lost), is ended with the retryable "
        "error `SUBSCRIBER_BEHIND`; subscribe again, then re-read `exceptionQueue`.",
        directives=requires(*EXCEPTION_SCOPES),
    )
    async def order_exception_raised(
        self,
        info: Info,
        filter: Annotated[
            ExceptionQueueFilter | None,
            strawberry.argument(description="Which exceptions to hear of; all when omitted."),
        ] = None,
    ) -> AsyncIterator[OrderExceptionsRaised]:
        return _raised(info.context, ExceptionMatch(filter or ExceptionQueueFilter()))


async def _read(
    context: RequestContext, order_id: str
) -> tuple[records.Order | None, Order | None]:
    """The order's record and its graph object, ``None`` when the caller may not see it."""
    found = await context.loaders.order_by_id.load(order_id)
    return found.value, Order.visible(found, context.access)


async def _updates(context: RequestContext, order_id: str) -> AsyncIterator[Order]:
    """The order, then again after each change that concerns it. Watches are taken
    only here, inside the generator, so closing it always lets go of them."""
    watch = context.live.changes.watch(lambda event: event.order_id == order_id)
    stop_resync = context.cached.on_resync(lambda: watch.offer(_unheard(context, order_id)))
    try:
        while True:
            context.begin_event()
            try:
                record, order = await _read(context, order_id)
            except SourceError as exc:  # stale-if-error had nothing either: wait for more
                log.warning("order %s changed but could not be read: %s", order_id, exc.code)
            else:
                if order is None:  # gone, or no longer the caller's: the stream ends
                    return
                _follow(watch, record)
                yield order
            await watch.next_batch()
    finally:
        stop_resync()
        watch.close()


def _unheard(context: RequestContext, order_id: str) -> ChangeEvent:
    """What stands for the changes the feed may have lost (pub/sub reconnected): one
    to the order, so it is read again."""
    return ChangeEvent(
        type=EventType.ORDER_UPDATED,
        occurred_at=context.clock.now(),
        order_id=order_id,
        id=new_msg_id(),
    )


def _follow(watch: Watch[ChangeEvent], record: records.Order | None) -> None:
    """Watch what concerns the order as it is now: parcels come and go."""
    if record is not None:
        watch.wants = _Interest.of(record).wants


def _concerns(raised: RaisedExceptions, access: Access, match: ExceptionMatch) -> bool:
    return access.sees(raised.account_id) and any(
        match.fact(fact) and (access.internal or not fact.internal) for fact in raised.exceptions
    )


async def _raised(
    context: RequestContext, match: ExceptionMatch
) -> AsyncIterator[OrderExceptionsRaised]:
    """The raised exceptions, told in full as the caller sees the order now; one that
    healed before it could be read is not told."""
    access = context.access
    watch = context.live.raised.watch(
        lambda raised: _concerns(raised, access, match), lossless=True
    )
    # Announcements published while pub/sub was away are lost: the subscription ends
    # as when it falls behind, and the client re-reads the queue.
    stop_resync = context.cached.on_resync(watch.fall_behind)
    try:
        while True:
            try:
                raised = await watch.next()
            except WatchOverflowed:
                raise SubscriberBehind from None
            context.begin_event()
            wanted = {
                fact.identity
                for fact in raised.exceptions
                if match.fact(fact) and (context.access.internal or not fact.internal)
            }
            try:
                found = await context.loaders.order_by_id.load(raised.order_id)
                order = Order.visible(found, context.access)
                if order is None or found.value is None:
                    continue
                current = await order_facts.detect(found.value, context)
            except SourceError as exc:
                log.warning("order %s could not be read: %s", raised.order_id, exc.code)
                continue
            new = [
                OrderException.of(raised.order_id, e)
                for e in current
                if (e.code, e.subject.kind, e.subject.id) in wanted
            ]
            if new:
                yield OrderExceptionsRaised(order=order, exceptions=new, raised_at=raised.raised_at)
    finally:
        stop_resync()
        watch.close()
