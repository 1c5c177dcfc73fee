"""The Starlette application: GraphQL, change-event webhooks, health and readiness."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from gateway.graphql_view import OrderGraphView
from gateway.observability import RequestObservability, metrics_endpoint
from gateway.settings import SOURCE_NAMES, Settings
from gateway.webhooks import WebhookReceiver
from resolvers.schema import build_schema
from sources.cache import open_backend
from sources.cache.memory_backend import MemoryBackend
from sources.cache.upstreams import CachedUpstreams
from sources.clients import Upstreams

log = logging.getLogger("ordergraph.app")


class Gateway:
    """The process-wide state: settings and, while the app runs, the cached upstreams."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.draining = False  # set on SIGTERM: readiness fails, requests still served
        self._cached: CachedUpstreams | None = None

    @property
    def cached(self) -> CachedUpstreams:
        if self._cached is None:
            raise RuntimeError("the gateway is not started (lifespan has not run)")
        return self._cached

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        settings = self.settings
        upstreams = Upstreams.open(*(settings.source(name) for name in SOURCE_NAMES))
        backend = open_backend(settings.cache_url)
        shared = backend.name != "memory" and settings.cache_local_ttl_ms > 0
        local = MemoryBackend(max_entries=10_000) if shared else None
        cached = CachedUpstreams.build(upstreams, backend, settings.cache_policies(), local=local)
        cached.listen()
        await backend.start()
        if not settings.webhook_secrets:
            log.warning("no OG_WEBHOOK_SECRETS: every change event will be refused")
        self._cached = cached
        try:
            yield
        finally:
            self._cached = None
            await backend.close()
            await upstreams.close()

    async def healthz(self, _request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, _request: Request) -> Response:
        """Ready while the OMS answers; degraded (still 200) when another source or
        the cache does not, since the graph then still serves partial answers;
        unavailable while draining for shutdown."""
        if self.draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        clients = self.cached.upstreams.all()
        answers = await asyncio.gather(*(client.ping() for client in clients))
        sources = [
            {"name": client.name, "url": client.base_url, "ok": ok}
            for client, ok in zip(clients, answers, strict=True)
        ]
        health = self.cached.backend.health()
        cache = {"backend": health.backend, "ok": health.ok, "errors": health.errors}
        if not answers[0]:
            status, code = "unavailable", 503
        elif all(answers) and health.ok:
            status, code = "ready", 200
        else:
            status, code = "degraded", 200
        return JSONResponse({"status": status, "sources": sources, "cache": cache}, code)


def create_app(settings: Settings, gateway: Gateway | None = None) -> ASGIApp:
    """The Starlette app, wrapped in the request observability middleware (outermost,
    so even a 500 carries its request id)."""
    gateway = gateway or Gateway(settings)
    view = OrderGraphView(
        build_schema(cache_size=settings.document_cache_size),
        graphql_ide="graphiql" if settings.graphiql else None,
        cached=lambda: gateway.cached,
        deadline_s=settings.request_deadline_ms / 1000,
    )
    webhooks = WebhookReceiver(settings.webhook_secrets, cached=lambda: gateway.cached)
    app = Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            Route("/webhooks/{source}", webhooks.receive, methods=["POST"]),
            Route("/healthz", gateway.healthz, methods=["GET"]),
            Route("/readyz", gateway.readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        lifespan=gateway.lifespan,
    )
    return RequestObservability(app)
