"""Simulated inventory service: stock levels per SKU and location."""

from __future__ import annotations

from aiohttp import web

from sources.records import InventoryBatch
from sources.sim.common import batch_route, create_source_app
from sources.sim.seed import Dataset


def create_app(
    dataset: Dataset, *, latency_ms: float = 0.0, jitter_ms: float = 0.0
) -> web.Application:
    """``GET /inventory?skus=A,B`` over ``dataset.inventory``."""
    route = batch_route(
        "/inventory",
        "skus",
        dataset.inventory.get,
        lambda found, missing: InventoryBatch(data=found, not_found=missing),
    )
    return create_source_app("inventory", [route], latency_ms=latency_ms, jitter_ms=jitter_ms)
