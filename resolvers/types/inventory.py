"""Stock of a SKU, from the inventory source."""

from __future__ import annotations

from datetime import datetime

import strawberry

from sources import records


@strawberry.type(description="Stock of a SKU at one location (inventory source), in units.")
class InventoryLevel:
    location_id: str = strawberry.field(
        description="The location's id, the same as `Location.id` in the OMS."
    )
    available: int = strawberry.field(
        description="Units free to sell; may be negative when oversold."
    )
    committed: int = strawberry.field(description="Units promised to orders not yet shipped.")
    reserved: int = strawberry.field(
        description="Units held back from sale without being committed to an order."
    )
    on_hand: int = strawberry.field(
        description="Units physically there: available + committed + reserved + unavailable "
        "(damaged, safety stock, quality control)."
    )
    incoming: int = strawberry.field(description="Units on their way to this location.")
    incoming_expected_at: datetime | None = strawberry.field(
        description="When the incoming units are expected (inventory time, with the offset "
        "the source gives); null when none are due or the date is unknown."
    )
    as_of: datetime = strawberry.field(
        description="When the inventory source took this snapshot (with the offset it gives); "
        "it may lag the OMS."
    )


@strawberry.type(
    description="Stock of a SKU over every location (inventory source; totals summed by "
    "the gateway), in units."
)
class InventoryAvailability:
    sku: str = strawberry.field(description="The stock keeping unit.")
    available: int = strawberry.field(
        description="Units free to sell over all locations; may be negative when oversold."
    )
    on_hand: int = strawberry.field(description="Units physically held over all locations.")
    incoming: int = strawberry.field(description="Units on their way over all locations.")
    in_stock: bool = strawberry.field(
        description="True when `available` is above 0 (derived by the gateway)."
    )
    next_restock_at: datetime | None = strawberry.field(
        description="The earliest expected arrival of incoming stock, if any is due "
        "(inventory time, with the offset the source gives)."
    )
    as_of: datetime = strawberry.field(
        description="The oldest location snapshot behind these figures (inventory time)."
    )
    locations: list[InventoryLevel] = strawberry.field(
        description="Stock per location, as the inventory source lists it."
    )

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
