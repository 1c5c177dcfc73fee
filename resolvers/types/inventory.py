"""Stock of a SKU, from the inventory source."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.types.common import built_on_read
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


def _levels(stock: InventoryAvailability) -> list[InventoryLevel]:
    return [
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
        for level in stock.record.levels
    ]


def _next_restock(stock: InventoryAvailability) -> datetime | None:
    """The earliest expected arrival still ahead: a date that has passed with the stock
    still incoming is late, not next (and must not hide another location's)."""
    due = [lv.incoming_expected_at for lv in stock.record.levels if lv.incoming > 0]
    return min((at for at in due if at and at >= stock.now), default=None)


@built_on_read(
    available=lambda stock: sum(level.available for level in stock.record.levels),
    on_hand=lambda stock: sum(level.on_hand for level in stock.record.levels),
    incoming=lambda stock: sum(level.incoming for level in stock.record.levels),
    in_stock=lambda stock: stock.available > 0,
    next_restock_at=_next_restock,
    as_of=lambda stock: min((level.as_of for level in stock.record.levels), default=datetime.min),
    locations=_levels,
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
        description="The earliest expected arrival of incoming stock still ahead (inventory "
        "time, with the offset the source gives); null when none is, or when every date "
        "given has passed with the stock still incoming (it is late: see `locations`)."
    )
    as_of: datetime = strawberry.field(
        description="The oldest location snapshot behind these figures (inventory time)."
    )
    locations: list[InventoryLevel] = strawberry.field(
        description="Stock per location, as the inventory source lists it."
    )

    record: strawberry.Private[records.InventoryItem]
    now: strawberry.Private[datetime]  # what "ahead" is measured from

    def __init__(self, item: records.InventoryItem, now: datetime) -> None:
        self.record = item
        self.now = now
        self.sku = item.sku

    @classmethod
    def from_record(cls, item: records.InventoryItem, now: datetime) -> InventoryAvailability:
        """The SKU's stock as a graph object at ``now``; each total, and each location,
        is worked out only when a query reads it."""
        return cls(item, now)
