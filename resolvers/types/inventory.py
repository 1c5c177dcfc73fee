"""Stock of a SKU, from the inventory source."""

from __future__ import annotations

from datetime import datetime

import strawberry

from sources import records


@strawberry.type(description="Stock of a SKU at one location.")
class InventoryLevel:
    location_id: str
    available: int = strawberry.field(description="May be negative when oversold.")
    committed: int
    reserved: int
    on_hand: int
    incoming: int
    incoming_expected_at: datetime | None
    as_of: datetime


@strawberry.type(description="Stock of a SKU over every location (inventory source).")
class InventoryAvailability:
    sku: str
    available: int
    on_hand: int
    incoming: int
    in_stock: bool
    next_restock_at: datetime | None = strawberry.field(
        description="The earliest expected arrival of incoming stock, if any is due."
    )
    as_of: datetime = strawberry.field(description="The oldest snapshot behind these figures.")
    locations: list[InventoryLevel]

    @classmethod
    def from_record(cls, item: records.InventoryItem) -> InventoryAvailability:
        levels = [
            InventoryLevel(
                location_id=level.location_id,
                available=level.available,
                committed=level.committed,
                reserved=level.reserved,
                on_hand=level.on_hand,
                incoming=level.incoming,
                incoming_expected_at=level.incoming_expected_at,
                as_of=level.as_of,
            )
            for level in item.levels
        ]
        restocks = [
            lv.incoming_expected_at for lv in levels if lv.incoming > 0 and lv.incoming_expected_at
        ]
        available = sum(level.available for level in levels)
        return cls(
            sku=item.sku,
            available=available,
            on_hand=sum(level.on_hand for level in levels),
            incoming=sum(level.incoming for level in levels),
            in_stock=available > 0,
            next_restock_at=min(restocks, default=None),
            as_of=min((level.as_of for level in levels), default=datetime.min),
            locations=levels,
        )
