"""Simulated inventory service: stock levels per SKU and location; admin level changes."""

from __future__ import annotations

from aiohttp import web

from sim.changes.inventory import SetInventoryLevel, set_inventory_level
from sim.common import admin_route, batch_route
from sim.seed import Dataset
from sources.records import InventoryBatch


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
