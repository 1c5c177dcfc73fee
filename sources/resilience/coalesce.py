"""Concurrent identical calls share one upstream call (single flight).

A list of orders is read live on every request that misses the response cache, so
when a cached page expires, every client asking for it at that moment would send the
same search at once: a burst a vendor's rate limit or query cost refuses (Shopify's
bucket holds twenty searches of fifty orders). The first caller's call runs, under
its deadline; callers asking the same while it runs await its answer. One caller
giving up does not cancel the call for the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """The calls running now, by what they ask."""

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Task[V]] = {}

    async def run(self, key: K, call: Callable[[], Awaitable[V]]) -> V:
        """``call()``'s answer, or that of the same ``key``'s call already running."""
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(call())  # in this caller's context: its deadline
            self._running[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    def _finished(self, key: K, task: asyncio.Task[V]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved: every caller may have given up on it

    def __len__(self) -> int:
        return len(self._running)
