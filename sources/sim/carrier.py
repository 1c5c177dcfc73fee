"""Simulated carrier tracking aggregator (AfterShip-like): trackings by number."""

from __future__ import annotations

from aiohttp import web

from sources.records import TrackingBatch
from sources.sim.common import batch_route, create_source_app
from sources.sim.seed import Dataset


def create_app(
    dataset: Dataset, *, latency_ms: float = 0.0, jitter_ms: float = 0.0
) -> web.Application:
    """``GET /trackings?numbers=X,Y`` over ``dataset.trackings`` (numbers are case-insensitive)."""
    route = batch_route(
        "/trackings",
        "numbers",
        dataset.trackings.get,
        lambda found, missing: TrackingBatch(data=found, not_found=missing),
        normalize=str.upper,
    )
    return create_source_app("carrier", [route], latency_ms=latency_ms, jitter_ms=jitter_ms)
