"""The WebSockets and event streams a process has open: capped (503
TOO_MANY_CONNECTIONS past ``max_open``, checked and counted at once), and ended
together at shutdown (WebSockets with 1001 Going Away)."""

from __future__ import annotations

import asyncio
from typing import Protocol

import anyio

from gateway.capacity import Slot
from gateway.observability import LIVE_CONNECTIONS
from gateway.refusal import RequestRefused

TOO_MANY_CONNECTIONS = "TOO_MANY_CONNECTIONS"


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

    def _check(self) -> None:
        if len(self._sockets) + self._streams >= self.max_open:
            raise RequestRefused(
                503,
                TOO_MANY_CONNECTIONS,
                "too many live connections: retry later",
                {"Retry-After": "5"},
            )

    def socket(self, session: GoingAway) -> Slot:
        """A WebSocket's place, taken at once (refused when full), held until released."""
        self._check()
        self._sockets.add(session)
        LIVE_CONNECTIONS.labels("websocket").inc()
        return Slot(lambda: self._socket_closed(session))

    def _socket_closed(self, session: GoingAway) -> None:
        self._sockets.discard(session)
        LIVE_CONNECTIONS.labels("websocket").dec()

    def stream(self) -> Slot:
        """An event stream's place, taken at once (refused when full), held until
        released."""
        self._check()
        self._streams += 1
        LIVE_CONNECTIONS.labels("sse").inc()
        return Slot(self._stream_ended)

    def _stream_ended(self) -> None:
        self._streams -= 1
        LIVE_CONNECTIONS.labels("sse").dec()

    async def close(self) -> None:
        """End every event stream and close every WebSocket with 1001."""
        self.shutdown.set()
        await asyncio.gather(*(session.going_away() for session in list(self._sockets)))
