"""Results as server-sent events: the GraphQL over SSE protocol's distinct-connections
mode. Each result is a ``next`` event whose data is the result's JSON, the end is a
``complete`` event; a keep-alive comment goes out every ``ping_s`` seconds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import orjson
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.admission.gate import Admitted
from gateway.capacity import InFlight, Slot
from gateway.live.connections import LiveConnections
from gateway.live.key_recheck import Authenticate, KeyRecheck
from gateway.observability import LIVE_EVENTS
from gateway.operations import Operations, SubscriptionNotStarted
from gateway.refusal import RequestRefused
from gateway.settings import Settings

EVENT_STREAM = "text/event-stream"
SHUTDOWN_GRACE_S = 1.0

T = TypeVar("T")


def accepts_event_stream(accept: str) -> bool:
    return EVENT_STREAM in {part.split(";")[0].strip().lower() for part in accept.split(",")}


Admit = Callable[[], Awaitable[Admitted]]  # admits the operation, or raises RequestRefused


class _EventStream(EventSourceResponse):
    """An event stream that gives back what it holds once it is answered, however
    that ends: a client gone, or one gone before the first event, included."""

    def __init__(
        self,
        events: AsyncIterator[dict[str, str]],
        *,
        release: Callable[[], object],
        **options: Any,
    ) -> None:
        super().__init__(events, **options)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


class SseStreams:
    def __init__(
        self,
        operations: Operations,
        connections: LiveConnections,
        in_flight: InFlight,
        settings: Settings,
    ) -> None:
        self._operations = operations
        self._connections = connections
        self._in_flight = in_flight
        self._ping_s = settings.sse_ping_s
        self._recheck_s = settings.live_key_recheck_ms / 1000

    async def respond(self, request: Request, admit: Admit, recheck: Authenticate) -> Response:
        """The operation's results as events, once ``admit`` admits it. Its places
        among the operations executing (429 OVERLOADED) and the live connections (503
        TOO_MANY_CONNECTIONS) are taken first, so a refusal there charges nothing;
        ``recheck`` authenticates the caller again, every ``recheck_s`` while a
        subscription runs: a key revoked or expired since ends it, and so does one the
        key store could not answer at re-checks in a row (``gateway.live.key_recheck``)."""
        with contextlib.ExitStack() as held:
            running = held.enter_context(self._in_flight.claim())
            held.enter_context(self._connections.stream())
            admitted = await admit()
            release = held.pop_all().close  # from here, the response's to give back
        if admitted.analysis.kind == "subscription":
            running.release()  # checked as it starts, not counted while it waits
        # The library sets ``shutdown`` when the server stops, as LiveConnections
        # does; the stream then ends by itself, with ``complete``, within the grace.
        return _EventStream(
            self._events(admitted, recheck, running),
            release=release,
            ping=self._ping_s,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            shutdown_event=self._connections.shutdown,
            shutdown_grace_period=SHUTDOWN_GRACE_S,
        )

    async def _events(
        self, admitted: Admitted, recheck: Authenticate, running: Slot
    ) -> AsyncIterator[dict[str, str]]:
        if admitted.analysis.kind != "subscription":
            with running:
                body = await self._operations.execute(admitted)
            yield _next(body)
        else:
            ended = asyncio.Event()
            refused: list[RequestRefused] = []
            guard = asyncio.create_task(self._guard(ended, recheck, refused))
            results = self._operations.stream(admitted)
            try:
                async with contextlib.aclosing(results):
                    async for body in _until(ended, results):
                        yield _next(body)
            except SubscriptionNotStarted as rejected:
                yield _next(rejected.body)
            finally:
                guard.cancel()
            for refusal in refused:
                yield _next(refusal.body())
        yield {"event": "complete", "data": ""}

    async def _guard(
        self, ended: asyncio.Event, recheck: Authenticate, refused: list[RequestRefused]
    ) -> None:
        """Set ``ended`` at shutdown, or once a re-check of the key ends the stream
        (why, into ``refused``: the key's 401, or the key store's retryable 503)."""
        rechecks = KeyRecheck(recheck, "event stream")
        shutdown = asyncio.ensure_future(self._connections.shutdown.wait())
        try:
            while True:
                await asyncio.wait((shutdown,), timeout=self._recheck_s)
                if shutdown.done():
                    return
                ending = await rechecks.ending()
                if ending is not None:
                    refused.append(ending)
                    return
        finally:
            shutdown.cancel()
            ended.set()


async def _until(stop: asyncio.Event, results: AsyncIterator[T]) -> AsyncIterator[T]:
    """``results`` until they end or ``stop`` is set, whichever comes first. A pending
    step is cancelled on the way out (a client gone included), so ``results`` can be
    closed after."""
    stopped = asyncio.ensure_future(stop.wait())
    step: asyncio.Future[T] | None = None
    try:
        while True:
            step = asyncio.ensure_future(anext(results))
            await asyncio.wait((step, stopped), return_when=asyncio.FIRST_COMPLETED)
            if not step.done():
                return
            try:
                item = step.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        stopped.cancel()
        if step is not None and not step.done():
            step.cancel()
            await asyncio.gather(step, return_exceptions=True)


def _next(body: dict[str, Any]) -> dict[str, str]:
    LIVE_EVENTS.labels("sse").inc()
    return {"event": "next", "data": orjson.dumps(body).decode()}
