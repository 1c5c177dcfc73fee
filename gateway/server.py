"""Running the app under uvicorn, with a drain before the graceful shutdown.

On SIGTERM readiness fails at once (``/readyz`` answers 503 ``draining``) while
requests are still served for ``shutdown_drain_ms``, so a load balancer can stop
sending new ones; then uvicorn stops accepting and gives the requests in flight up
to ``shutdown_grace_ms`` to finish; WebSockets close with 1001 and event streams
end. SIGINT (Ctrl+C) skips the drain.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import signal
import socket
from collections.abc import Sequence
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from gateway.app import Components, create_app
from gateway.settings import Settings
from gateway.slow_clients import guarded_protocol
from gateway.startup import check_startup
from sources.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger("ordergraph.server")


# Requests make many short-lived objects and few cycles: at the default first threshold
# (700 allocations) the collector ran several times per page of 50 orders.
GC_FIRST_THRESHOLD = 7000


def settle_the_heap() -> None:
    """Once the server is up: what start-up made lives as long as the process, so the
    cyclic collector stops scanning it (``gc.freeze``), and the young generation is
    collected ten times less often."""
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(GC_FIRST_THRESHOLD, second, third)
    log.info(
        "heap settled: %d start-up objects frozen, first collection every %d allocations",
        gc.get_freeze_count(),
        GC_FIRST_THRESHOLD,
    )


class GatewayServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, components: Components, drain_s: float) -> None:
        super().__init__(config)
        self._components = components
        self._drain_s = drain_s
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            settle_the_heap()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Before uvicorn's own shutdown, which would close WebSockets with 1012.
        await self._components.connections.close()
        await super().shutdown(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        draining = self._components.draining
        if sig != signal.SIGTERM or draining or self._drain_s <= 0 or self._loop is None:
            super().handle_exit(sig, frame)
            return
        self._components.draining = True
        log.warning("SIGTERM: not ready any more, draining for %.1f s", self._drain_s)
        # A signal handler may only hand work to the loop thread-safely.
        self._loop.call_soon_threadsafe(
            self._loop.call_later, self._drain_s, super().handle_exit, sig, frame
        )


async def serve(settings: Settings, clock: Clock = SYSTEM_CLOCK) -> None:
    """Run the gateway until stopped; first refuse (a ``SettingsError``) what cannot
    work, before the port is bound."""
    await check_startup(settings)
    await serve_on(settings, clock)


async def serve_on(
    settings: Settings,
    clock: Clock = SYSTEM_CLOCK,
    sockets: list[socket.socket] | None = None,
    headers: Sequence[tuple[str, str]] = (),
    *,
    log_configuration: bool = True,
) -> None:
    """Run the gateway on ``sockets`` (None: bind the settings' host and port) until
    stopped, with ``headers`` on every response; the start-up checks are the caller's."""
    components = Components(settings, clock, log_configuration=log_configuration)
    server = GatewayServer(
        server_config(settings, create_app(settings, components), headers),
        components,
        settings.shutdown_drain_ms / 1000,
    )
    await server.serve(sockets)


def server_config(
    settings: Settings, app: ASGIApp, headers: Sequence[tuple[str, str]] = ()
) -> uvicorn.Config:
    """uvicorn's configuration: every WebSocket frame within the HTTP body limit
    (uvicorn's default is 16 MiB); headers timed and connections per client address
    capped (gateway.slow_clients) by a protocol over httptools."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        headers=list(headers),
        access_log=False,
        log_config=None,  # the process's own logging configuration applies
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_ms / 1000),
        log_level=settings.log_level.lower(),
        ws_max_size=settings.max_body_bytes,
        http=guarded_protocol(
            settings.header_timeout_ms / 1000, settings.max_connections_per_client
        ),
    )
