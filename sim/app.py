"""The aiohttp app of one simulated source, built from its route declarations."""

from __future__ import annotations

from aiohttp import web

from sim.changes import NOT_FOUND
from sim.common import (
    ACCOUNT_KEY,
    CLOCK_KEY,
    DATASET_KEY,
    EMITTER_KEY,
    FAULTS_KEY,
    LATENCY_KEY,
    OPENAPI_KEY,
    SOURCE_KEY,
    STATS_KEY,
    Handler,
    Latency,
    error_response,
)
from sim.emitter import Emitter, WebhookEmitter, WebhookTarget
from sim.faults import Faults, FaultSpec
from sim.idempotency import KEYS, IdempotencyKeys
from sim.openapi import encoded_document, served_routes
from sim.routes import serve
from sim.seed import Dataset
from sim.stats import Stats
from sim.vendors.access import VendorAccount
from sources.clock import SYSTEM_CLOCK, Clock


@web.middleware
async def _unknown_routes(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unknown paths and methods answer an ErrorBody, like every other refusal."""
    if request.match_info.route.resource is None:
        exc = request.match_info.http_exception
        status = exc.status if exc is not None else 404
        code = "METHOD_NOT_ALLOWED" if status == 405 else NOT_FOUND
        return error_response(status, code, f"no route for {request.method} {request.path}")
    return await handler(request)


async def _release_hangs(app: web.Application) -> None:
    """Runs before aiohttp waits for open requests, so hung ones do not delay shutdown."""
    app[FAULTS_KEY].closing.set()


def create_source_app(
    source: str,
    dataset: Dataset,
    *,
    latency_ms: float = 0.0,
    jitter_ms: float = 0.0,
    webhook: WebhookTarget | Emitter | None = None,
    clock: Clock = SYSTEM_CLOCK,
    account: VendorAccount | None = None,
) -> web.Application:
    """An aiohttp app serving ``source``'s routes over ``dataset`` (read live, so tests
    may change it in place) plus the shared health, contract, stats and fault routes;
    it starts without faults.

    With a ``webhook`` target (or an emitter another app shares: one source served as
    native and as a vendor API), changes are delivered there; the emitter drains and
    closes when the app is cleaned up. Changes are dated by ``clock``. A simulated
    vendor API admits the calls of its ``account`` (key and rate limit).
    """
    app = web.Application(middlewares=[_unknown_routes])
    app[SOURCE_KEY] = source
    app[DATASET_KEY] = dataset
    app[STATS_KEY] = Stats()
    app[LATENCY_KEY] = Latency(latency_ms, jitter_ms)
    app[FAULTS_KEY] = Faults()
    app[CLOCK_KEY] = clock
    app[KEYS] = IdempotencyKeys()
    app.on_shutdown.append(_release_hangs)
    app[OPENAPI_KEY] = encoded_document(source)
    app[ACCOUNT_KEY] = account or VendorAccount()
    if webhook is not None:
        emitter = app[EMITTER_KEY] = (
            WebhookEmitter(webhook) if isinstance(webhook, WebhookTarget) else webhook
        )

        async def close_emitter(_app: web.Application) -> None:
            await emitter.close()

        app.on_cleanup.append(close_emitter)
    app.add_routes([serve(route) for route in served_routes(source)])
    return app


def set_latency(app: web.Application, latency_ms: float, jitter_ms: float = 0.0) -> None:
    """Change a running source's simulated latency."""
    latency = app[LATENCY_KEY]
    latency.fixed_ms, latency.jitter_ms = latency_ms, jitter_ms


def set_faults(app: web.Application, spec: FaultSpec | None) -> None:
    """Replace a running source's injected faults (``None`` clears them)."""
    app[FAULTS_KEY].set(FaultSpec() if spec is None else spec)
