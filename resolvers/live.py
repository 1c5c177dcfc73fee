"""Live updates in one process: what the change feed announces (every instance's
changes, through Redis pub/sub) fanned out to this process's subscriptions.

Each subscription holds a :class:`Watch`: a predicate over messages and a small
queue. A slow subscriber never holds up the others; what happens when its queue is
full is the watch's to say:

- by default the oldest message is dropped: an order subscription re-reads the order
  anyway, so only the fact that something changed matters;
- a ``lossless`` watch (each message a different fact, e.g. another order's raised
  exceptions) drops nothing silently: it stops watching, and its ``next()`` raises
  :class:`WatchOverflowed`, so the subscription ends and its client knows to catch up
  (re-read what the feed summarises) before it watches again. It ends so too when the
  feed itself may have lost messages (``fall_behind``: pub/sub reconnected).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic, TypeVar, cast

from domain.queue_entries import RaisedExceptions
from sources.events import ChangeEvent

log = logging.getLogger("ordergraph.live")

M = TypeVar("M")

QUEUE_SIZE = 64


class WatchOverflowed(Exception):
    """A lossless watch's subscriber fell more than ``QUEUE_SIZE`` messages behind, or
    the feed may have lost some: the watch has stopped, and what came after is not in
    it."""


_WAKE = object()  # put in an ended watch's queue: a next() waiting on it raises


class Watch(Generic[M]):
    """One subscription's interest: messages for which ``wants`` is true are queued."""

    def __init__(self, hub: Hub[M], wants: Callable[[M], bool], *, lossless: bool) -> None:
        self.wants = wants
        self.ended = False  # a lossless watch that overflowed or fell behind
        self._hub = hub
        self._lossless = lossless
        self._queue: asyncio.Queue[M] = asyncio.Queue(QUEUE_SIZE)

    def offer(self, message: M) -> None:
        if self.ended or not self.wants(message):
            return
        if self._queue.full():
            if self._lossless:  # nothing is dropped silently: the watch ends instead
                self._end()
                log.warning(
                    "a live subscriber fell %d messages behind a feed that drops none; "
                    "ending its subscription",
                    QUEUE_SIZE,
                )
                return
            self._queue.get_nowait()  # the oldest goes: see the module's docstring
            log.warning("a live subscriber is behind; dropped its oldest message")
        self._queue.put_nowait(message)

    def fall_behind(self) -> None:
        """Messages may have been lost before they reached this watch (the feed's
        pub/sub reconnected): a lossless watch ends, as when it overflows."""
        if self._lossless and not self.ended:
            self._end()
            if not self._queue.full():
                self._queue.put_nowait(cast(M, _WAKE))

    def _end(self) -> None:
        self.ended = True
        self.close()

    async def next(self) -> M:
        """The next message; raises :class:`WatchOverflowed` once a lossless watch
        ended (it overflows only while its subscriber is busy elsewhere, so it is told
        as it comes back for more; one waiting is woken when the feed falls behind)."""
        if self.ended:
            raise WatchOverflowed
        message = await self._queue.get()
        if self.ended:
            raise WatchOverflowed
        return message

    async def next_batch(self) -> list[M]:
        """Wait for one message, then take every message already waiting."""
        batch = [await self.next()]
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    def close(self) -> None:
        self._hub.watches.discard(self)


class Hub(Generic[M]):
    """The watches of one kind of message in this process."""

    def __init__(self) -> None:
        self.watches: set[Watch[M]] = set()

    def watch(self, wants: Callable[[M], bool], *, lossless: bool = False) -> Watch[M]:
        """Start queueing the messages ``wants`` accepts; ``close()`` the watch after.
        ``lossless``: end the watch rather than drop a message (the module's docstring)."""
        watch = Watch(self, wants, lossless=lossless)
        self.watches.add(watch)
        return watch

    async def publish(self, message: M) -> None:
        """Offer ``message`` to every watch (an async change-feed listener)."""
        for watch in list(self.watches):
            try:
                watch.offer(message)
            except Exception:  # a bad predicate must not starve the others
                log.exception("a live subscriber's filter failed")


class LiveFeeds:
    """Every kind of live message this process fans out to its subscriptions."""

    def __init__(self) -> None:
        self.changes: Hub[ChangeEvent] = Hub()
        self.raised: Hub[RaisedExceptions] = Hub()
