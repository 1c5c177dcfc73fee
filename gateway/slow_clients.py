"""Slow clients cannot hold connections: a request's headers must arrive within
``header_timeout_s`` of its first byte (or of the connection, for one that sends
nothing), its body at a minimum rate, and one client address holds at most so many
connections at once.

uvicorn has neither a header timeout nor a body rate (only a keep-alive timeout,
which a request's first byte cancels), so a client sending a header line a second,
or a body a byte a second, held its connection for ever, on ``/graphql`` as on the
unauthenticated ``/webhooks/{source}``. Headers and the per-address cap are the
server's (:func:`guarded_protocol`, an ``HttpToolsProtocol`` subclass that
``gateway.server`` runs); the body rate is the app's (:class:`SlowBodyGuard`, an ASGI
middleware), so it holds under any server.
"""

from __future__ import annotations

import asyncio
import logging
from asyncio import TimerHandle
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("ordergraph.http")

TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\n"
    b"connection: close\r\ncontent-length: 24\r\n\r\nthe request was too slow"
)


def guarded_protocol(header_timeout_s: float, max_per_client: int) -> type[HttpToolsProtocol]:
    """An HTTP protocol class for one server: header timeout, and at most
    ``max_per_client`` connections per client address (0: no cap)."""
    open_by_address: dict[str, int] = {}

    class GuardedHttpProtocol(HttpToolsProtocol):
        _header_timer: TimerHandle | None = None
        _address: str | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            address = self.client[0] if self.client else None
            if address is not None and max_per_client:
                if open_by_address.get(address, 0) >= max_per_client:
                    log.info("refused a connection: %s has %d open", address, max_per_client)
                    transport.close()
                    return
                open_by_address[address] = open_by_address.get(address, 0) + 1
                self._address = address
            self._arm()  # a connection that sends nothing at all

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            self._release()
            super().connection_lost(exc)

        def handle_websocket_upgrade(self) -> None:
            # The connection leaves this protocol (the WebSocket one never tells it
            # when it ends): it stops counting here; live_max_connections caps those.
            self._release()
            super().handle_websocket_upgrade()

        def _release(self) -> None:
            if self._address is not None:
                left = open_by_address.get(self._address, 1) - 1
                if left > 0:
                    open_by_address[self._address] = left
                else:
                    open_by_address.pop(self._address, None)
                self._address = None

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(header_timeout_s, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.transport.is_closing():
                return
            log.info("closed a connection: no complete headers in %.1f s", header_timeout_s)
            if self.cycle is None or self.cycle.response_complete:  # nothing else to answer
                self.transport.write(TIMEOUT_RESPONSE)
            self.transport.close()

    return GuardedHttpProtocol


class SlowBodyGuard:
    """A request body must arrive within ``grace_s`` plus one second per
    ``min_bytes_per_s`` received so far; else the client gets 408 (with
    ``connection: close``) and the app a disconnect, and whatever the app then does
    with it is dropped."""

    def __init__(self, app: ASGIApp, *, grace_s: float, min_bytes_per_s: int) -> None:
        self.app = app
        self.grace_s = grace_s
        self.min_bytes_per_s = min_bytes_per_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        state: dict[str, Any] = {"received": 0, "complete": False, "timed_out": False}
        response_started = False

        async def guarded_receive() -> Message:
            if state["timed_out"]:
                return {"type": "http.disconnect"}
            if state["complete"]:  # the body is in: waiting for a disconnect is untimed
                return await receive()
            deadline = started + self.grace_s + state["received"] / self.min_bytes_per_s
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                state["timed_out"] = True
                log.info(
                    "closed a request: its body came too slowly (%d bytes in %.1f s)",
                    state["received"],
                    loop.time() - started,
                )
                if not response_started:
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 408,
                            "headers": [
                                (b"content-type", b"text/plain"),
                                (b"connection", b"close"),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": b"the body was too slow"})
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                state["complete"] = not message.get("more_body", False)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if state["timed_out"]:
                return  # the 408 is the answer
            response_started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            if not state["timed_out"]:
                raise
            # The app met the disconnect it was given: the 408 has been sent.
