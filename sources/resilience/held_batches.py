"""Batch reads that wait together while their source holds calls back.

A source's rate limit makes its calls wait (:mod:`sources.clients.http`); each
request's loaders would still send their own batch once it lets calls through, one
after another, so under load the requests queue for the vendor's few calls a second
and run out of deadline in turn. While the source holds calls back, the batch reads of
concurrent requests are pooled instead, and go out together when it lets them through
again: as few calls as the source's batch limit allows. A source that holds nothing
back is read at once, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, TypeVar

from sources.failures import SOURCE_TIMEOUT, SourceError
from sources.resilience import deadline

V = TypeVar("V")
BatchRead = Callable[[list[str]], Awaitable[Mapping[str, V]]]


class HeldBatches(Generic[V]):
    """``read`` (a source's batch read, at most ``batch_size`` keys a call), pooled
    while ``held_s()`` says the source holds calls back."""

    def __init__(
        self, source: str, read: BatchRead[V], held_s: Callable[[], float], batch_size: int
    ) -> None:
        self._source = source
        self._read = read
        self._held_s = held_s
        self._batch_size = batch_size
        self._pending: dict[str, None] = {}  # keys waiting for the next pooled call
        self._pooled: asyncio.Task[dict[str, V]] | None = None

    async def read(self, keys: list[str]) -> Mapping[str, V]:
        wait_s = self._held_s()
        if wait_s <= 0 and self._pooled is None:
            return await self._read(keys)
        self._pending.update(dict.fromkeys(keys))
        if self._pooled is None:
            # free of this request's deadline: the pool serves every request in it
            self._pooled = deadline.detached(self._send(wait_s))
        answers = await self._within_deadline(self._pooled)
        return {key: answers[key] for key in keys if key in answers}

    async def _send(self, wait_s: float) -> dict[str, V]:
        await asyncio.sleep(wait_s)
        keys, self._pending, self._pooled = list(self._pending), {}, None
        answers: dict[str, V] = {}
        for start in range(0, len(keys), self._batch_size):
            answers.update(await self._read(keys[start : start + self._batch_size]))
        return answers

    async def _within_deadline(self, pooled: asyncio.Task[dict[str, V]]) -> dict[str, V]:
        left = deadline.remaining()
        try:
            return await asyncio.wait_for(asyncio.shield(pooled), left)
        except TimeoutError:
            message = "rate limited: the pooled call did not come back within the deadline"
            raise SourceError(self._source, SOURCE_TIMEOUT, message, retryable=True) from None
