"""Simulated carrier tracking aggregator (AfterShip-like): trackings by number; admin advance."""

from __future__ import annotations

from aiohttp import web

from sources.records import TrackingBatch
from sources.sim.changes import AdvanceTracking, advance_tracking
from sources.sim.common import admin_route, batch_route, create_source_app
from sources.sim.emitter import WebhookTarget
from sources.sim.seed import Dataset


def create_app(
    dataset: Dataset,
    *,
    latency_ms: float = 0.0,
    jitter_ms: float = 0.0,
    webhook: WebhookTarget | None = None,
) -> web.Application:
    """``GET /trackings?numbers=X,Y`` over ``dataset.trackings`` (numbers are case-insensitive)."""
    routes = [
        batch_route(
            "/trackings",
            "numbers",
            dataset.trackings.get,
            lambda found, missing: TrackingBatch(data=found, not_found=missing),
            normalize=str.upper,
        ),
        admin_route(
            "/admin/trackings/{number}/advance", dataset, advance_tracking, AdvanceTracking
        ),
    ]
    return create_source_app(
        "carrier", routes, latency_ms=latency_ms, jitter_ms=jitter_ms, webhook=webhook
    )
