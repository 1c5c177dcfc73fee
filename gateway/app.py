"""The Starlette application: GraphQL, health and readiness."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.graphql_view import OrderGraphView
from gateway.settings import SOURCE_NAMES, Settings
from resolvers.schema import build_schema
from sources.clients import Upstreams

log = logging.getLogger("ordergraph.app")


class Gateway:
    """The process-wide state: settings and, while the app runs, the upstream clients."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._upstreams: Upstreams | None = None

    @property
    def upstreams(self) -> Upstreams:
        if self._upstreams is None:
            raise RuntimeError("the gateway is not started (lifespan has not run)")
        return self._upstreams

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        self._upstreams = Upstreams.open(*(self.settings.source(name) for name in SOURCE_NAMES))
        try:
            yield
        finally:
            await self._upstreams.close()
            self._upstreams = None

    async def healthz(self, _request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, _request: Request) -> Response:
        clients = self.upstreams.all()
        answers = await asyncio.gather(*(client.ping() for client in clients))
        sources = [
            {"name": client.name, "url": client.base_url, "ok": ok}
            for client, ok in zip(clients, answers, strict=True)
        ]
        ready = all(answers)
        return JSONResponse(
            {"status": "ready" if ready else "degraded", "sources": sources},
            status_code=200 if ready else 503,
        )


def create_app(settings: Settings) -> Starlette:
    gateway = Gateway(settings)
    view = OrderGraphView(
        build_schema(cache_size=settings.document_cache_size),
        graphql_ide="graphiql" if settings.graphiql else None,
        upstreams=lambda: gateway.upstreams,
    )
    app = Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            Route("/healthz", gateway.healthz, methods=["GET"]),
            Route("/readyz", gateway.readyz, methods=["GET"]),
        ],
        lifespan=gateway.lifespan,
    )
    app.state.gateway = gateway
    return app
