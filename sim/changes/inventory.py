"""Inventory changes: one location's stock level of a SKU."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec.structs import replace

from sim.changes import NOT_FOUND, Body, Change, ChangeError, after
from sim.seed import Dataset
from sources.events import ChangeEvent, EventType
from sources.records import InventoryItem, RestockExpectation


class SetInventoryLevel(Body, frozen=True, kw_only=True):
    """Omitted fields keep their value; ``onHand`` follows ``available``."""

    location_id: str
    available: int | None = None
    incoming: Annotated[int, msgspec.Meta(ge=0)] | None = None
    incoming_expected_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


def set_inventory_level(
    dataset: Dataset, sku: str, body: SetInventoryLevel, now: datetime
) -> Change:
    """Change one location's level of ``sku``, keeping ``onHand`` and ``incoming`` consistent.

    ``onHand`` moves with ``available`` (committed, reserved and unavailable stock stay);
    ``incomingExpectedAt`` is cleared when ``incoming`` drops to 0 and is required while
    anything is incoming. A new expected date is appended to ``restockHistory`` (emptied
    with ``incoming``); ``oversoldSince`` is set when ``available`` goes negative and
    cleared when it no longer is.
    """
    item = dataset.inventory.get(sku)
    if item is None:
        raise ChangeError(404, NOT_FOUND, f"no inventory item {sku!r}")
    index = next(
        (i for i, lv in enumerate(item.levels) if lv.location_id == body.location_id), None
    )
    if index is None:
        raise ChangeError(400, "BAD_REQUEST", f"{sku} has no level at {body.location_id!r}")
    level = item.levels[index]
    available = level.available if body.available is None else body.available
    unavailable = level.on_hand - level.available - level.committed - level.reserved
    on_hand = available + level.committed + level.reserved + unavailable
    if on_hand < 0:
        raise ChangeError(
            400, "BAD_REQUEST", f"available {available} would leave onHand negative ({on_hand})"
        )
    incoming = level.incoming if body.incoming is None else body.incoming
    expected = body.incoming_expected_at or (level.incoming_expected_at if incoming else None)
    if (incoming > 0) != (expected is not None):
        raise ChangeError(
            400, "BAD_REQUEST", "incomingExpectedAt is required exactly when incoming > 0"
        )
    at = after(level.as_of, now)
    history = list(level.restock_history) if incoming else []
    if expected is not None and (not history or history[-1].expected_at != expected):
        history.append(RestockExpectation(expected_at=expected, set_at=at))
    new_level = replace(
        level,
        available=available,
        on_hand=on_hand,
        incoming=incoming,
        incoming_expected_at=expected,
        as_of=at,
        oversold_since=(level.oversold_since or at) if available < 0 else None,
        restock_history=history,
    )
    levels = [*item.levels[:index], new_level, *item.levels[index + 1 :]]
    changed = InventoryItem(sku=item.sku, levels=levels)
    dataset.inventory[sku] = changed
    return changed, ChangeEvent(type=EventType.INVENTORY_CHANGED, occurred_at=at, sku=sku)
