"""A SKU's stock as the graph shows it: what the gateway derives from the levels."""

from __future__ import annotations

from datetime import datetime

from resolvers.types.inventory import InventoryAvailability
from sources.records import InventoryItem, InventoryLevel
from tests.support.exception_builders import NOW, at


def item(*expected_at: datetime | None) -> InventoryItem:
    """One SKU at as many locations as ``expected_at``: each oversold, with stock
    incoming then (none incoming, for ``None``)."""
    levels = [
        InventoryLevel(
            location_id=f"loc-{n}",
            available=-2,
            committed=2,
            reserved=0,
            on_hand=0,
            incoming=0 if when is None else 40,
            incoming_expected_at=when,
            as_of=NOW,
        )
        for n, when in enumerate(expected_at)
    ]
    return InventoryItem(sku="SKU-l1", levels=levels)


def next_restock(found: InventoryItem) -> datetime | None:
    return InventoryAvailability.from_record(found, NOW).next_restock_at


def test_the_next_restock_is_the_earliest_date_still_ahead() -> None:
    assert next_restock(item(at(3), at(1), None)) == at(1)
    # A date gone by with the stock still incoming is late, not next: it neither
    # shows as coming nor hides another location's real date.
    assert next_restock(item(at(-5), at(2))) == at(2)
    assert next_restock(item(at(-5))) is None
    assert next_restock(item(None)) is None
    assert next_restock(item(NOW)) == NOW
