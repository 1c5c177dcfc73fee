"""The WebSockets and event streams a process has open: capped, and ended together
at shutdown (WebSockets with 1001 Going Away)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Protocol

import anyio

from gateway.observability import LIVE_CONNECTIONS


class GoingAway(Protocol):
    async def going_away(self) -> None: ...


class LiveConnections:
    def __init__(self, max_open: int) -> None:
        self.max_open = max_open
        self._sockets: set[GoingAway] = set()
        self._streams = 0
        self._shutdown: anyio.Event | None = None

    @property
    def shutdown(self) -> anyio.Event:
        """Set when the process stops: event streams end on it."""
        if self._shutdown is None:  # made on first use, inside the running loop
            self._shutdown = anyio.Event()
        return self._shutdown

    def full(self) -> bool:
        return len(self._sockets) + self._streams >= self.max_open

    @contextlib.contextmanager
    def socket(self, session: GoingAway) -> Iterator[None]:
        self._sockets.add(session)
        LIVE_CONNECTIONS.labels("websocket").inc()
        try:
            yield
        finally:
            self._sockets.discard(session)
            LIVE_CONNECTIONS.labels("websocket").dec()

    @contextlib.contextmanager
    def stream(self) -> Iterator[None]:
        self._streams += 1
        LIVE_CONNECTIONS.labels("sse").inc()
        try:
            yield
        finally:
            self._streams -= 1
            LIVE_CONNECTIONS.labels("sse").dec()

    async def close(self) -> None:
        """End every event stream and close every WebSocket with 1001."""
        self.shutdown.set()
        await asyncio.gather(*(session.going_away() for session in list(self._sockets)))
