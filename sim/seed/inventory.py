"""Stock levels per SKU and location, consistent with the orders: what unfinished
fulfillment orders still need is committed, and the backordered SKUs are oversold."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta

import msgspec

from domain.progress import UNFINISHED
from sim import catalog as cat
from sim.seed.drafts import OrderDraft
from sim.seed.draw import Draw
from sim.seed.scenarios import UNSHIPPED, Backorders
from sources.records import InventoryItem, InventoryLevel, RestockExpectation


def choose_backorders(draw: Draw) -> Backorders:
    """Four (SKU, location) pairs out of stock, each with the day a restock is due."""
    backorders: Backorders = {}
    skus = draw.r.sample([s[0] for s in cat.SKUS[:-1]], 4)
    locs = (cat.LOC_US_EAST, cat.LOC_US_WEST, cat.LOC_EU, cat.LOC_US_EAST)
    for sku, loc in zip(skus, locs, strict=True):
        day = (draw.now + timedelta(days=draw.r.uniform(3, 14))).date()
        backorders[(sku, loc)] = datetime.combine(day, time(12), UTC)
    return backorders


def inventory_items(
    draw: Draw, drafts: list[OrderDraft], backorders: Backorders
) -> dict[str, InventoryItem]:
    r = draw.r
    committed: dict[tuple[str, str], int] = defaultdict(int)
    for d in drafts:
        if d.cancelled_at is not None:
            continue
        skus = {line.id: line.sku for line in d.lines}
        for fo in d.fos:
            if fo.status not in UNFINISHED:
                continue
            for line_id, qty in fo.lines.items():
                shipped = sum(p.lines.get(line_id, 0) for p in fo.parcels)
                committed[(skus[line_id], fo.location_id)] += qty - shipped
    out = {}
    for sku, _, _ in cat.SKUS:
        as_of = draw.ago(r.uniform(0.01, 0.2))
        levels = []
        for loc in cat.LOCATIONS:
            c = committed[(sku, loc)]
            restock = backorders.get((sku, loc))
            expected: datetime | None = None
            incoming = 0
            if restock is not None:  # oversold or empty, waiting for a delivery
                unavailable, reserved = r.randint(0, 1), 0
                on_hand = r.randint(0, c)
                available = on_hand - c - unavailable
                incoming, expected = r.randint(24, 120), restock
            else:
                store = loc == cat.LOC_STORE
                available = r.randint(0, 14) if store else r.randint(4, 240)
                if r.random() < 0.03:
                    available = 0
                unavailable = r.choices((0, 1, 2, 5), weights=(60, 20, 15, 5))[0]
                reserved = r.choices((0, 1, 2, 4), weights=(70, 15, 10, 5))[0]
                on_hand = available + c + reserved + unavailable
                if not store and r.random() < 0.2:
                    day = (draw.now + timedelta(days=r.uniform(2, 30))).date()
                    incoming, expected = (
                        r.randint(12, 200),
                        datetime.combine(day, time(12), UTC),
                    )
            levels.append(
                InventoryLevel(
                    location_id=loc,
                    available=available,
                    committed=c,
                    reserved=reserved,
                    on_hand=on_hand,
                    incoming=incoming,
                    incoming_expected_at=expected,
                    as_of=as_of,
                )
            )
        out[sku] = InventoryItem(sku=sku, levels=levels)
    return _stock_history(draw, out, backorders)


def _stock_history(
    draw: Draw, items: dict[str, InventoryItem], backorders: Backorders
) -> dict[str, InventoryItem]:
    """``items`` with their short history: since when an oversold level is oversold
    (before any backorder was placed), and each expected date of incoming stock with
    when it was set (a backordered SKU's date moved 0 to 2 times, the others' never).
    Drawn from a generator of its own, so the rest of the data set stays as it was."""
    r = random.Random(f"{draw.seed}:stock-history")
    oldest_backorder = max(UNSHIPPED["backorder"][2][1], 24.0)
    out = {}
    for sku, item in items.items():
        levels = []
        for level in item.levels:
            since = None
            if level.available < 0:
                since = draw.ago(oldest_backorder + r.uniform(12, 72))
            history: list[RestockExpectation] = []
            if level.incoming_expected_at is not None:
                backordered = (sku, level.location_id) in backorders
                moves = r.choice((0, 1, 1, 2)) if backordered else 0
                first_set = (since or draw.ago(r.uniform(24, 240))) + timedelta(
                    hours=r.uniform(1, 12)
                )
                span = (level.as_of - first_set).total_seconds()
                offsets = [0.0, *sorted(r.uniform(0.2, 0.9) * span for _ in range(moves))]
                expected = level.incoming_expected_at
                dates = [expected]
                for _ in range(moves):
                    dates.insert(0, dates[0] - timedelta(days=r.randint(2, 5)))
                history = [
                    RestockExpectation(
                        expected_at=day,
                        set_at=(first_set + timedelta(seconds=offset)).replace(microsecond=0),
                    )
                    for day, offset in zip(dates, offsets, strict=True)
                ]
            changed = msgspec.structs.replace(level, oversold_since=since, restock_history=history)
            levels.append(changed)
        out[sku] = InventoryItem(sku=sku, levels=levels)
    return out
