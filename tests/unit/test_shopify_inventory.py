"""Shopify's inventory items and ours (sources/adapters/shopify/inventory.py): the
round trip of a seeded data set, less what Shopify cannot carry, and a documented
answer."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from sim.seed import Dataset
from sources.adapters.shopify import wire
from sources.adapters.shopify.inventory import item_from_shopify, shopify_from_item
from sources.records import InventoryItem
from tests.support.shopify_payloads import through_json


@pytest.fixture(scope="module")
def dataset(make_dataset) -> Dataset:
    return make_dataset(orders=300)


def uncarried(item: InventoryItem) -> InventoryItem:
    """``item`` without what Shopify cannot carry."""
    levels = [
        msgspec.structs.replace(
            level, incoming_expected_at=None, oversold_since=None, restock_history=[]
        )
        for level in item.levels
    ]
    return msgspec.structs.replace(item, levels=levels)


def test_every_seeded_item_comes_back_but_for_what_shopify_cannot_carry(dataset: Dataset):
    unequal = [
        sku
        for sku, item in dataset.inventory.items()
        if item_from_shopify(through_json(shopify_from_item(item), wire.InventoryItem))
        != uncarried(item)
    ]
    assert unequal == []
    levels = [level for item in dataset.inventory.values() for level in item.levels]
    assert any(level.restock_history for level in levels)  # so something was dropped
    assert any(level.available < 0 for level in levels)  # negative stock goes through


INVENTORY = """
{"data": {"inventoryItems": {"nodes": [{
  "id": "gid://shopify/InventoryItem/30322695", "sku": "TEE-ORG-BLK-M", "tracked": true,
  "inventoryLevels": {"nodes": [
    {"id": "gid://shopify/InventoryLevel/523463154?inventory_item_id=30322695",
     "location": {"id": "gid://shopify/Location/346779380"},
     "quantities": [{"name": "available", "quantity": -2},
                    {"name": "committed", "quantity": 5},
                    {"name": "incoming", "quantity": 24},
                    {"name": "on_hand", "quantity": 3}],
     "updatedAt": "2026-11-20T14:10:00Z"}]}}],
  "pageInfo": {"hasNextPage": false, "endCursor": null}}}}
"""


def test_inventory_reads_named_quantities():
    envelope = msgspec.json.decode(INVENTORY, type=wire.Envelope[wire.InventoryItemsData])
    assert envelope.data is not None
    [item] = [item_from_shopify(node) for node in envelope.data.inventory_items.nodes]
    [level] = item.levels
    assert (item.sku, level.location_id) == ("TEE-ORG-BLK-M", "loc_346779380")
    assert (level.available, level.committed, level.incoming, level.on_hand) == (-2, 5, 24, 3)
    assert level.reserved == 0  # a name Shopify did not send
    assert level.as_of == datetime(2026, 11, 20, 14, 10, tzinfo=UTC)
    assert (level.incoming_expected_at, level.restock_history) == (None, [])
