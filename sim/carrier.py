"""Simulated carrier tracking aggregator (AfterShip-like): trackings by number; admin advance."""

from __future__ import annotations

from aiohttp import web

from sim.changes.carrier import AdvanceTracking, advance_tracking
from sim.common import admin_route, batch_route
from sim.seed import Dataset
from sources.records import TrackingBatch


def routes(dataset: Dataset) -> list[web.RouteDef]:
    """``GET /trackings?numbers=X,Y`` over ``dataset.trackings`` (numbers are case-insensitive)."""
    return [
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
