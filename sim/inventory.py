"""Simulated inventory service: stock levels per SKU and location; admin level changes."""

from __future__ import annotations

from sim.changes.inventory import SetInventoryLevel, set_inventory_level
from sim.routes import Admin, Source, batch, id_list, path_param
from sources.events import EventType
from sources.records import InventoryBatch, InventoryItem

SOURCE = Source(
    name="inventory",
    title="OrderGraph simulated inventory",
    description="Stock levels per SKU and location, each as of its asOf time, with the "
    "expected date of stock still incoming and the history of that date.",
    routes=(
        batch(
            "/inventory",
            id_list("skus", "SKUs"),
            lambda dataset, sku: dataset.inventory.get(sku),
            operation_id="getInventory",
            summary="Inventory by SKU",
            note="An item has a level per location that stocks it; available is negative "
            "while the location is oversold.",
            response=InventoryBatch,
        ),
        Admin(
            path="/admin/inventory/{sku}",
            operation_id="setInventoryLevel",
            summary="Change a stock level",
            description="Changes one location's level; omitted fields keep their value. "
            "onHand moves with available (committed, reserved and unavailable stock stay) "
            "and must stay non-negative; incomingExpectedAt is cleared when incoming drops "
            "to 0 and is required while incoming > 0. Answers the item.",
            key=path_param("sku", "SKU."),
            apply=set_inventory_level,
            body=SetInventoryLevel,
            response=InventoryItem,
            event=EventType.INVENTORY_CHANGED,
        ),
    ),
)
