"""Simulated inventory service: stock levels per SKU and location; admin level changes."""

from __future__ import annotations

from aiohttp import web

from sources.records import InventoryBatch
from sources.sim.changes import SetInventoryLevel, set_inventory_level
from sources.sim.common import admin_route, batch_route
from sources.sim.seed import Dataset


def routes(dataset: Dataset) -> list[web.RouteDef]:
    """``GET /inventory?skus=A,B`` over ``dataset.inventory``."""
    return [
        batch_route(
            "/inventory",
            "skus",
            dataset.inventory.get,
            lambda found, missing: InventoryBatch(data=found, not_found=missing),
        ),
        admin_route("/admin/inventory/{sku}", dataset, set_inventory_level, SetInventoryLevel),
    ]
