"""Shopify's inventory items onto our records, and back (for the simulated Shopify
API).

An item's levels are its ``InventoryLevel``s, one per location, with the named
quantities of :data:`.wire.QUANTITY_NAMES`. What Shopify cannot carry: the expected
date of incoming stock, its history, and since when a level is oversold. Shopify's one
place for an expected date, ``InventoryLevel.scheduledChanges``, is deprecated ("will
be phased out"), so they come back as None and []. ``as_of`` is the level's
``updatedAt``, when it last changed.
"""

from __future__ import annotations

from sources import records
from sources.adapters.shopify import wire
from sources.adapters.shopify.gid import item_gid, our_id, shopify_gid


def item_from_shopify(item: wire.InventoryItem) -> records.InventoryItem:
    """Our record of Shopify's inventory ``item``: its named quantities (0 for a name
    Shopify did not send) per location."""
    return records.InventoryItem(
        sku=item.sku or "", levels=[_level(level) for level in item.inventory_levels.nodes]
    )


def _level(level: wire.InventoryLevel) -> records.InventoryLevel:
    named = {quantity.name: quantity.quantity for quantity in level.quantities}
    return records.InventoryLevel(
        location_id=our_id(level.location.id),
        available=named.get("available", 0),
        committed=named.get("committed", 0),
        reserved=named.get("reserved", 0),
        on_hand=named.get("on_hand", 0),
        incoming=named.get("incoming", 0),
        as_of=level.updated_at,
    )


def shopify_from_item(item: records.InventoryItem) -> wire.InventoryItem:
    """Shopify's shape of our ``item`` (the simulated API serves it); what Shopify cannot
    carry (module docstring) is left out."""
    return wire.InventoryItem(
        id=item_gid(item.sku),
        sku=item.sku,
        inventory_levels=wire.one_page(
            [
                wire.InventoryLevel(
                    location=wire.Ref(id=shopify_gid("Location", level.location_id)),
                    quantities=[
                        wire.InventoryQuantity(name=name, quantity=getattr(level, name))
                        for name in wire.QUANTITY_NAMES
                    ],
                    updated_at=level.as_of,
                )
                for level in item.levels
            ]
        ),
    )
