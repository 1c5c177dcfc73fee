"""Scenarios: the kinds of order the data set holds (healthy delivered, backorder, lost
parcel, ...), how many of each, and how one scenario shapes an order's draft: its
lines, fulfillment orders, holds, shipments and payment."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta

from sim import catalog as cat
from sim.seed.drafts import CustomerDraft, FoDraft, LineDraft, OrderDraft
from sim.seed.draw import Draw
from sim.seed.parcels import ship
from sources.records import (
    CancelReason,
    DeliveryMethodType,
    FinancialStatus,
    FulfillmentOrderStatus,
    HoldReason,
)

# scenario name -> relative weight; every scenario also gets at least MIN_PER_SCENARIO orders
SCENARIOS: dict[str, int] = {
    "delivered": 420,
    "in_transit": 110,
    "out_for_delivery": 30,
    "ready_for_pickup": 20,
    "just_placed": 12,
    "processing": 25,
    "split_shipment": 50,
    "partial_shipment": 30,
    "backorder": 20,
    "payment_hold": 12,
    "fraud_hold": 10,
    "address_hold": 10,
    "cancelled": 25,
    "partially_cancelled": 20,
    "returned": 20,
    "customs_delay": 12,
    "weather_delay": 12,
    "failed_attempt_delivered": 20,
    "address_issue": 10,
    "return_to_sender": 12,
    "lost": 10,
    "uncollected_pickup": 12,
    "label_not_scanned": 15,
    "no_carrier_record": 8,
    "stalled_in_transit": 12,
}
MIN_PER_SCENARIO = 5

# scenarios whose single shipping FO is shipped with this carrier story
_SHIPPED_STORY = {
    "delivered": "delivered",
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "ready_for_pickup": "ready_for_pickup",
    "customs_delay": "customs",
    "weather_delay": "weather",
    "failed_attempt_delivered": "failed_then_delivered",
    "address_issue": "address_issue",
    "return_to_sender": "return_to_sender",
    "lost": "lost",
    "uncollected_pickup": "uncollected",
    "label_not_scanned": "label_created",
    "no_carrier_record": "no_record",
    "stalled_in_transit": "stalled",
    "returned": "delivered_old",
    "partially_cancelled": "delivered",
}
# scenarios that never ship: (FO status, hold reason, age range in hours)
UNSHIPPED: dict[str, tuple[FulfillmentOrderStatus, HoldReason | None, tuple[float, float]]] = {
    "just_placed": (FulfillmentOrderStatus.OPEN, None, (0.1, 12)),
    "processing": (FulfillmentOrderStatus.IN_PROGRESS, None, (4, 48)),
    "payment_hold": (FulfillmentOrderStatus.ON_HOLD, HoldReason.AWAITING_PAYMENT, (2, 72)),
    "fraud_hold": (FulfillmentOrderStatus.ON_HOLD, HoldReason.HIGH_RISK_OF_FRAUD, (1, 48)),
    "address_hold": (FulfillmentOrderStatus.ON_HOLD, HoldReason.INCORRECT_ADDRESS, (2, 60)),
    "backorder": (FulfillmentOrderStatus.ON_HOLD, HoldReason.INVENTORY_OUT_OF_STOCK, (24, 240)),
    "cancelled": (FulfillmentOrderStatus.CANCELLED, None, (24, 960)),
}
_HOLD_NOTES = {
    HoldReason.AWAITING_PAYMENT: "Awaiting bank transfer",
    HoldReason.HIGH_RISK_OF_FRAUD: "Flagged by fraud screening: billing and shipping mismatch",
    HoldReason.INCORRECT_ADDRESS: "Address could not be verified: street number missing",
}
_REQUIRED_GROUP = {"customs_delay": "INTL", "ready_for_pickup": "US", "split_shipment": "US"}

Backorders = dict[tuple[str, str], datetime]  # (sku, location id) -> expected restock


def slots(draw: Draw, n: int, custs: list[CustomerDraft]) -> list[tuple[str, CustomerDraft]]:
    """Scenario per order and a customer for it: every customer gets at least one."""
    r = draw.r
    minimum = max(1, min(MIN_PER_SCENARIO, n // (4 * len(SCENARIOS))))
    names = [name for name in SCENARIOS for _ in range(minimum)][:n]
    names += r.choices(list(SCENARIOS), weights=list(SCENARIOS.values()), k=n - len(names))
    r.shuffle(names)
    pending = custs[:]
    r.shuffle(pending)
    by_group: dict[str | None, list[CustomerDraft]] = defaultdict(list)
    for c in custs:
        by_group[c.group].append(c)
        by_group[None].append(c)
    # What r.choices(pool, weights=...) would add up on every call, once per pool.
    cum_weights = {
        g: list(itertools.accumulate(c.weight for c in pool)) for g, pool in by_group.items()
    }
    out = []
    for name in names:
        group = _REQUIRED_GROUP.get(name)
        cust = next((c for c in pending if group is None or c.group == group), None)
        if cust is not None:
            pending.remove(cust)
        else:
            key = group if by_group[group] else None
            cust = r.choices(by_group[key], cum_weights=cum_weights[key])[0]
        out.append((name, cust))
    return out


def draft_order(
    draw: Draw, scenario: str, cust: CustomerDraft, backorders: Backorders
) -> OrderDraft:
    """One order of ``scenario`` for ``cust``, shipped (or held) as the scenario says."""
    r = draw.r
    currency = "EUR" if cust.group == "EU" else "USD"
    n_lines = r.choices((1, 2, 3, 4, 5), weights=(45, 25, 15, 10, 5))[0]
    n_locs = r.choice((2, 2, 3)) if scenario == "split_shipment" else 1
    if scenario in ("split_shipment", "partial_shipment", "partially_cancelled"):
        n_lines = max(n_lines, n_locs, 2)
    skus = r.sample(cat.SKUS, n_lines)
    if scenario == "backorder":
        bo_sku = r.choice([s for s, loc in backorders if loc == cust.home])
        if all(s[0] != bo_sku for s in skus):
            skus[0] = next(s for s in cat.SKUS if s[0] == bo_sku)
    lines = []
    for sku, name, cents in skus:
        if currency == "EUR":
            cents = max(99, round(cents * 0.93 / 100) * 100 - 1)
        qty = r.choices((1, 2, 3), weights=(70, 22, 8))[0]
        lines.append(LineDraft(draw.id("li", 7), sku, name, cents, qty))
    draft = OrderDraft(scenario, cust, currency, lines, [])
    if scenario == "partially_cancelled":
        _cancel_some(draw, draft)
    draft.fos = _plan_fos(draw, draft, n_locs, backorders)
    _place(draw, draft)
    return draft


def _cancel_some(draw: Draw, draft: OrderDraft) -> None:
    line = draw.r.choice(draft.lines)
    line.cancelled = line.ordered if draw.r.random() < 0.6 or line.ordered == 1 else 1


def _service(draw: Draw, cust: CustomerDraft, pickup: bool) -> tuple[str, int, int]:
    if pickup:
        return cat.PICKUP_SERVICE
    pool = {"US": cat.US_SERVICES, "EU": cat.EU_SERVICES, "INTL": cat.INTL_SERVICES}
    return draw.r.choices(pool[cust.group], weights=(70, 20, 10)[: len(pool[cust.group])])[0]


def _fo_status(scenario: str) -> FulfillmentOrderStatus:
    unshipped = UNSHIPPED.get(scenario)
    return unshipped[0] if unshipped else FulfillmentOrderStatus.OPEN


def _plan_fos(draw: Draw, draft: OrderDraft, n_locs: int, backorders: Backorders) -> list[FoDraft]:
    r, scen, cust = draw.r, draft.scenario, draft.cust
    pickup = scen == "ready_for_pickup" or (
        scen == "delivered" and cust.group == "US" and r.random() < 0.08
    )
    if n_locs > 1:
        other = cat.LOC_US_WEST if cust.home == cat.LOC_US_EAST else cat.LOC_US_EAST
        locs = [cust.home, other, cat.LOC_STORE][:n_locs]
    else:
        locs = [cat.LOC_STORE if pickup else cust.home]
    groups: list[dict[str, int]] = [{} for _ in locs]
    for i, line in enumerate(draft.lines):
        if line.active > 0:
            groups[i % len(locs)][line.id] = line.active
    method = DeliveryMethodType.PICK_UP if pickup else DeliveryMethodType.SHIPPING
    fos = [
        FoDraft(draw.id("fo", 7), loc, method, _service(draw, cust, pickup), _fo_status(scen), g)
        for loc, g in zip(locs, groups, strict=True)
    ]
    if scen in UNSHIPPED:
        fo = fos[0]
        fo.hold = UNSHIPPED[scen][1]
        fo.hold_note = _HOLD_NOTES.get(fo.hold) if fo.hold else None
        if fo.hold is HoldReason.INVENTORY_OUT_OF_STOCK:
            sku, restock = next(
                (line.sku, backorders[(line.sku, fo.location_id)])
                for line in draft.lines
                if (line.sku, fo.location_id) in backorders
            )
            fo.hold_note = f"Backordered: {sku} out of stock, restock expected {restock.date()}"
        draft.bad_address = fo.hold is HoldReason.INCORRECT_ADDRESS
        return fos
    if scen == "split_shipment":
        stories = ["delivered_recent"] + [
            r.choice(("in_transit", "in_transit", "out_for_delivery", "delivered_recent"))
            for _ in fos[1:]
        ]
        for fo, story in zip(fos, stories, strict=True):
            ship(draw, fo, story, cust)
        if r.random() < 0.3:  # the last location has not shipped yet
            fos[-1].parcels.clear()
            fos[-1].status = FulfillmentOrderStatus.IN_PROGRESS
        return fos
    fo = fos[0]
    if scen == "partial_shipment":
        fo.status = FulfillmentOrderStatus.IN_PROGRESS
        ship(draw, fo, r.choice(("in_transit", "delivered_recent")), cust, partial=True)
        return fos
    story = _SHIPPED_STORY[scen]
    if pickup and scen == "delivered":
        story = "picked_up"
    if scen == "uncollected_pickup" and r.random() < 0.5:
        story = "uncollected_returning"
    draft.bad_address = scen == "address_issue"
    parcels = 2 if scen == "delivered" and len(fo.lines) > 1 and r.random() < 0.15 else 1
    ship(draw, fo, story, cust, parcels=parcels)
    return fos


def _place(draw: Draw, draft: OrderDraft) -> None:
    """Fix placed_at, FO state and line quantities from the shipments."""
    r, scen = draw.r, draft.scenario
    parcels = [p for fo in draft.fos for p in fo.parcels]
    if parcels:
        first = min(p.shipped_at for p in parcels)
        draft.placed_at = first - timedelta(hours=r.uniform(3, 40))
    else:
        draft.placed_at = draw.ago(r.uniform(*UNSHIPPED[scen][2]))
    draft.placed_at = draft.placed_at.replace(microsecond=0)
    day = draft.placed_at.date()
    for fo in draft.fos:
        if fo.hold is not None:
            fo.held_at = min(draft.placed_at + timedelta(minutes=r.randint(1, 30)), draw.now)
        if r.random() < 0.92:
            _, lo, hi = fo.service
            fo.min_at = datetime.combine(day + timedelta(days=lo), time(0), UTC)
            fo.max_at = datetime.combine(day + timedelta(days=hi), time(23, 59, 59), UTC)
    lines = {line.id: line for line in draft.lines}
    for parcel in parcels:
        for line_id, qty in parcel.lines.items():
            lines[line_id].shipped += qty
            if parcel.oms_delivered_at is not None:
                lines[line_id].delivered += qty
    for fo in draft.fos:
        if fo.parcels and fo.status is not FulfillmentOrderStatus.IN_PROGRESS:
            fo.status = FulfillmentOrderStatus.CLOSED
    if scen == "partially_cancelled":
        draft.financial = FinancialStatus.PARTIALLY_REFUNDED
        draft.times.append(draft.placed_at + timedelta(hours=r.uniform(0.5, 3)))
    elif scen == "cancelled":
        reason = r.choice(list(CancelReason))
        draft.cancel_reason = reason
        draft.cancelled_at = min(
            draft.placed_at + timedelta(hours=r.uniform(0.2, 48)), draw.ago(0.1)
        ).replace(microsecond=0)
        declined = reason in (CancelReason.DECLINED, CancelReason.FRAUD)
        draft.financial = FinancialStatus.VOIDED if declined else FinancialStatus.REFUNDED
        for line in draft.lines:
            line.cancelled = line.ordered
    elif scen == "payment_hold":
        draft.financial = FinancialStatus.PENDING
    elif scen == "fraud_hold" or (scen == "just_placed" and r.random() < 0.3):
        draft.financial = FinancialStatus.AUTHORIZED
    elif scen == "returned":
        delivered = [line for line in draft.lines if line.delivered > 0]
        returned = delivered if r.random() < 0.25 else [r.choice(delivered)]
        for line in returned:
            line.returned = line.delivered if r.random() < 0.7 else 1
        all_back = all(line.returned == line.ordered for line in draft.lines)
        draft.financial = (
            FinancialStatus.REFUNDED if all_back else FinancialStatus.PARTIALLY_REFUNDED
        )
        last = max(p.oms_delivered_at or p.shipped_at for p in parcels)
        draft.times.append(min(last + timedelta(days=r.uniform(4, 12)), draw.ago(1)))
