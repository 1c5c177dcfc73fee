"""Simulated inventory service: stock levels per SKU and location; admin level changes."""

from __future__ import annotations

from aiohttp import web

from sources.records import InventoryBatch
from sources.sim.changes import SetInventoryLevel, set_inventory_level
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
    """``GET /inventory?skus=A,B`` over ``dataset.inventory``."""
    routes = [
        batch_route(
            "/inventory",
            "skus",
            dataset.inventory.get,
            lambda found, missing: InventoryBatch(data=found, not_found=missing),
        ),
        admin_route("/admin/inventory/{sku}", dataset, set_inventory_level, SetInventoryLevel),
    ]
    return create_source_app(
        "inventory", routes, latency_ms=latency_ms, jitter_ms=jitter_ms, webhook=webhook
    )
