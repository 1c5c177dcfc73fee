"""Deterministic, seeded data set behind the four simulated sources.

``generate(seed=7, now=...)`` draws everything from one ``random.Random(seed)``
(:class:`~sim.seed.draw.Draw`) and places every time relative to ``now``, so the same
seed and ``now`` give byte-identical encoded data. Each order is built from a
*scenario* (:mod:`sim.seed.scenarios`: healthy delivered, backorder, lost parcel, ...)
recorded in ``Dataset.scenarios`` so tests can pick an order of a given kind.
Quantities, fulfillment orders, shipments, carrier trackings, inventory and tickets are
derived from one draft per order (:mod:`sim.seed.drafts`), which keeps them mutually
consistent. The parts draw in the fixed order :func:`generate` calls them in.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from datetime import UTC, datetime

from sim.seed.customers import draw_customers
from sim.seed.dataset import Dataset
from sim.seed.draw import Draw
from sim.seed.inventory import choose_backorders, inventory_items
from sim.seed.orders import order_record
from sim.seed.parcels import tracking
from sim.seed.scenarios import SCENARIOS, draft_order, slots
from sim.seed.tickets import draft_tickets, number_tickets
from sources.records import Order, Ticket, Tracking

__all__ = ["SCENARIOS", "Dataset", "generate"]


def generate(*, seed: int = 7, now: datetime, orders: int = 1200, customers: int = 360) -> Dataset:
    """Build the data set for ``seed`` with every time relative to ``now`` (tz-aware)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if orders < 1 or customers < 1:
        raise ValueError("orders and customers must be positive")
    with _without_cycle_collection():
        return _generate(seed, now, orders, customers)


@contextlib.contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """The records hold no reference cycles, but each full collection walks every one
    built so far: with it on, 100,000 orders took twice as long to build."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _generate(seed: int, now: datetime, orders: int, customers: int) -> Dataset:
    draw = Draw(seed, now.astimezone(UTC).replace(microsecond=0))
    custs = draw_customers(draw, customers)
    backorders = choose_backorders(draw)
    drafts = [
        draft_order(draw, scen, cust, backorders) for scen, cust in slots(draw, orders, custs)
    ]
    drafts.sort(key=lambda d: d.placed_at)  # stable: ties keep draft order
    records: dict[str, Order] = {}
    scenarios: dict[str, str] = {}
    trackings: dict[str, Tracking] = {}
    ticket_drafts: list[Ticket] = []
    for i, draft in enumerate(drafts):
        order_id = draw.id("ord", 6)
        number = str(1001 + i)
        for fo in draft.fos:
            for parcel in fo.parcels:
                if parcel.story != "no_record":
                    trackings[parcel.number] = tracking(draw, parcel, fo)
        records[order_id] = order_record(draw, order_id, number, draft)
        scenarios[order_id] = draft.scenario
        ticket_drafts.extend(draft_tickets(draw, order_id, number, draft))
    return Dataset(
        seed=seed,
        now=draw.now,
        orders=records,
        orders_by_number={o.number: o for o in records.values()},
        inventory=inventory_items(draw, drafts, backorders),
        trackings=dict(sorted(trackings.items())),
        tickets=number_tickets(ticket_drafts),
        scenarios=scenarios,
        backorders=dict(backorders),
    )
