"""Deterministic, seeded data set behind the four simulated sources.

``generate(seed=7, now=...)`` draws everything from one ``random.Random(seed)`` and
places every time relative to ``now``, so the same seed and ``now`` give byte-identical
encoded data. Each order is built from a *scenario* (healthy delivered, backorder,
lost parcel, ...) recorded in ``Dataset.scenarios`` so tests can pick an order of a
given kind. Quantities, fulfillment orders, shipments, carrier trackings, inventory and
tickets are derived from one draft per order, which keeps them mutually consistent.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

import msgspec

from domain.progress import UNFINISHED, fulfillment_status
from sim import catalog as cat
from sim.catalog import Place
from sources.records import (
    AddressChangeRequest,
    CancelReason,
    Checkpoint,
    Customer,
    DeliveryMethod,
    DeliveryMethodType,
    DeliveryWindow,
    FinancialStatus,
    FulfillmentHold,
    FulfillmentOrder,
    FulfillmentOrderStatus,
    FulfillmentStatus,
    HoldReason,
    InventoryItem,
    InventoryLevel,
    LineQuantities,
    LineQuantity,
    Location,
    MailingAddress,
    Money,
    Order,
    OrderLine,
    RestockExpectation,
    ReturnStatus,
    Shipment,
    Ticket,
    TicketChannel,
    TicketPriority,
    TicketStatus,
    TicketType,
    Tracking,
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
_UNSHIPPED: dict[str, tuple[FulfillmentOrderStatus, HoldReason | None, tuple[float, float]]] = {
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
# hours before now of a story's last carrier event
_ANCHOR_HOURS: dict[str, tuple[float, float]] = {
    "delivered": (8, 1000),
    "delivered_old": (16 * 24, 50 * 24),
    "delivered_recent": (8, 200),  # old enough to have been returned since
    "in_transit": (1, 20),
    "out_for_delivery": (0.3, 5),
    "ready_for_pickup": (2, 72),
    "picked_up": (24, 700),
    "label_created": (50, 140),
    "customs": (2, 40),
    "weather": (2, 20),
    "failed_then_delivered": (24, 480),
    "address_issue": (3, 72),
    "return_to_sender": (24, 240),
    "lost": (24, 120),
    "uncollected": (216, 384),
    "uncollected_returning": (24, 96),
    "stalled": (170, 290),
    "no_record": (1, 30),
}
_DELIVERED_STEPS = frozenset({"delivered", "signed", "picked_up"})
_DELAY_STORIES = frozenset(
    {"customs", "weather", "stalled", "lost", "failed_then_delivered", "return_to_sender"}
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OMS_DELIVERY_LAG = timedelta(hours=6)  # the OMS may not know deliveries younger than this


@dataclass
class Dataset:
    """The whole simulated world: what each source serves, plus test helpers."""

    seed: int
    now: datetime
    orders: dict[str, Order]  # id -> order, in order-number order
    orders_by_number: dict[str, Order]  # "1001" -> order
    inventory: dict[str, InventoryItem]  # sku -> item
    trackings: dict[str, Tracking]  # tracking number -> tracking
    tickets: dict[str, list[Ticket]]  # order id -> tickets (only orders that have some)
    scenarios: dict[str, str]  # order id -> scenario name
    locations: dict[str, Location] = field(default_factory=lambda: dict(cat.LOCATIONS))
    backorders: dict[tuple[str, str], datetime] = field(
        default_factory=dict
    )  # (sku, loc) -> restock
    # request id -> address change a warehouse must decide (POST /orders/{id}/shipping-address)
    address_requests: dict[str, AddressChangeRequest] = field(default_factory=dict)

    def order_ids(self, scenario: str) -> list[str]:
        """Ids of the orders built from ``scenario``, in order-number order."""
        return [oid for oid, name in self.scenarios.items() if name == scenario]

    def encode(self) -> bytes:
        """Everything the sources serve as one JSON document (for determinism checks)."""
        return msgspec.json.encode(
            {
                "orders": list(self.orders.values()),
                "inventory": list(self.inventory.values()),
                "trackings": list(self.trackings.values()),
                "tickets": self.tickets,
                "scenarios": self.scenarios,
            }
        )


# --- drafts: mutable working state, turned into frozen records at the end -------------


@dataclass(slots=True)
class _Cust:
    customer: Customer
    account_id: str
    group: str  # "US", "EU" or "INTL"
    place: Place
    address: MailingAddress
    weight: int
    home: str  # location id that normally ships to this customer


@dataclass(slots=True)
class _Line:
    id: str
    sku: str
    name: str
    cents: int
    ordered: int
    cancelled: int = 0
    shipped: int = 0
    delivered: int = 0
    returned: int = 0


@dataclass(slots=True)
class _Parcel:
    id: str
    carrier: str
    number: str
    lines: dict[str, int]
    story: str
    origin: Place
    dest: Place
    events: list[tuple[str, Place | None, datetime]]  # chronological
    eta: datetime  # when the carrier first expected to deliver
    fmt: dict[str, str]
    shipped_at: datetime = _EPOCH
    oms_delivered_at: datetime | None = None


@dataclass(slots=True)
class _Fo:
    id: str
    location_id: str
    method: DeliveryMethodType
    service: tuple[str, int, int]
    status: FulfillmentOrderStatus
    lines: dict[str, int]
    hold: HoldReason | None = None
    hold_note: str | None = None
    parcels: list[_Parcel] = field(default_factory=list)
    held_at: datetime | None = None
    min_at: datetime | None = None  # promised delivery window
    max_at: datetime | None = None


# Delivered orders with nothing back yet: the share whose return is under way or failed.
_OPEN_RETURNS = (
    (ReturnStatus.RETURN_REQUESTED, 0.05),
    (ReturnStatus.IN_PROGRESS, 0.03),
    (ReturnStatus.RETURN_FAILED, 0.01),
)


@dataclass(slots=True)
class _Draft:
    scenario: str
    cust: _Cust
    currency: str
    lines: list[_Line]
    fos: list[_Fo]
    placed_at: datetime = _EPOCH
    financial: FinancialStatus = FinancialStatus.PAID
    cancelled_at: datetime | None = None
    cancel_reason: CancelReason | None = None
    times: list[datetime] = field(default_factory=list)  # other OMS events (for updated_at)
    bad_address: bool = False


def generate(*, seed: int = 7, now: datetime, orders: int = 1200, customers: int = 360) -> Dataset:
    """Build the data set for ``seed`` with every time relative to ``now`` (tz-aware)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if orders < 1 or customers < 1:
        raise ValueError("orders and customers must be positive")
    return _Generator(seed, now.astimezone(UTC).replace(microsecond=0)).run(orders, customers)


class _Generator:
    def __init__(self, seed: int, now: datetime) -> None:
        self.seed = seed
        self.now = now
        self.r = random.Random(seed)
        self._used_ids: set[str] = set()
        self._used_numbers: set[str] = set()
        self.backorders: dict[tuple[str, str], datetime] = {}

    # --- small helpers --------------------------------------------------------------

    def _id(self, prefix: str, digits: int) -> str:
        while True:
            value = f"{prefix}_{self.r.randrange(10 ** (digits - 1), 10**digits)}"
            if value not in self._used_ids:
                self._used_ids.add(value)
                return value

    def _ago(self, hours: float) -> datetime:
        return (self.now - timedelta(hours=hours)).replace(microsecond=0)

    def _pick(self, weighted: dict[str, int]) -> str:
        return self.r.choices(list(weighted), weights=list(weighted.values()))[0]

    # --- pipeline -------------------------------------------------------------------

    def run(self, n_orders: int, n_customers: int) -> Dataset:
        custs = self._customers(n_customers)
        self._choose_backorders()
        drafts = [self._draft(scen, cust) for scen, cust in self._slots(n_orders, custs)]
        drafts.sort(key=lambda d: d.placed_at)  # stable: ties keep draft order
        orders: dict[str, Order] = {}
        scenarios: dict[str, str] = {}
        trackings: dict[str, Tracking] = {}
        ticket_drafts: list[Ticket] = []
        for i, draft in enumerate(drafts):
            order_id = self._id("ord", 6)
            number = str(1001 + i)
            for fo in draft.fos:
                for parcel in fo.parcels:
                    if parcel.story != "no_record":
                        trackings[parcel.number] = self._tracking(parcel, fo)
            orders[order_id] = self._order(order_id, number, draft)
            scenarios[order_id] = draft.scenario
            ticket_drafts.extend(self._tickets(order_id, number, draft))
        return Dataset(
            seed=self.seed,
            now=self.now,
            orders=orders,
            orders_by_number={o.number: o for o in orders.values()},
            inventory=self._inventory(drafts),
            trackings=dict(sorted(trackings.items())),
            tickets=self._finish_tickets(ticket_drafts),
            scenarios=scenarios,
            backorders=dict(self.backorders),
        )

    def _customers(self, n: int) -> list[_Cust]:
        r = self.r
        accounts = dict(cat.ACCOUNTS)
        out = []
        for i in range(n):
            group = r.choices(("US", "EU", "INTL"), weights=(80, 12, 8))[0]
            if group == "US":
                place, street = r.choice(cat.US_PLACES), r.choice(cat.STREETS)
                home = cat.LOC_US_WEST if place.utc_offset <= -7 else cat.LOC_US_EAST
                line1 = f"{r.randint(1, 9899)} {street}"
            elif group == "EU":
                place = r.choice(cat.EU_PLACES)
                street = r.choice(cat.EU_STREETS[place.country_code])
                home, line1 = cat.LOC_EU, f"{street} {r.randint(1, 180)}"
            else:
                place, street = r.choice(cat.INTL_PLACES), r.choice(cat.STREETS)
                home, line1 = cat.LOC_US_EAST, f"{r.randint(1, 999)} {street}"
            first, last = r.choice(cat.FIRST_NAMES), r.choice(cat.LAST_NAMES)
            name = f"{first} {last}"
            calling = cat.CALLING_CODES[place.country_code]
            phone = f"{calling} 555-{r.randint(100, 999)}-{r.randint(1000, 9999)}"
            email_local = f"{first}.{last}".lower().replace(" ", "")
            customer = Customer(
                id=self._id("cus", 5),
                name=name,
                email=f"{email_local}.{i + 1}@example.com",
                phone=phone if r.random() < 0.8 else None,
            )
            address = MailingAddress(
                name=name,
                line1=line1,
                line2=f"Apt {r.randint(1, 30)}{r.choice('ABCD')}" if r.random() < 0.25 else None,
                city=place.city,
                region=place.region,
                postal_code=place.postal_code,
                country_code=place.country_code,
                phone=customer.phone,
            )
            out.append(
                _Cust(
                    customer=customer,
                    account_id=self._pick(accounts),
                    group=group,
                    place=place,
                    address=address,
                    weight=r.choice((1, 1, 1, 2, 2, 3, 5, 8)),
                    home=home,
                )
            )
        return out

    def _choose_backorders(self) -> None:
        skus = self.r.sample([s[0] for s in cat.SKUS[:-1]], 4)
        locs = (cat.LOC_US_EAST, cat.LOC_US_WEST, cat.LOC_EU, cat.LOC_US_EAST)
        for sku, loc in zip(skus, locs, strict=True):
            day = (self.now + timedelta(days=self.r.uniform(3, 14))).date()
            self.backorders[(sku, loc)] = datetime.combine(day, time(12), UTC)

    def _slots(self, n: int, custs: list[_Cust]) -> list[tuple[str, _Cust]]:
        """Scenario per order and a customer for it: every customer gets at least one."""
        r = self.r
        minimum = max(1, min(MIN_PER_SCENARIO, n // (4 * len(SCENARIOS))))
        names = [name for name in SCENARIOS for _ in range(minimum)][:n]
        names += r.choices(list(SCENARIOS), weights=list(SCENARIOS.values()), k=n - len(names))
        r.shuffle(names)
        pending = custs[:]
        r.shuffle(pending)
        by_group: dict[str | None, list[_Cust]] = defaultdict(list)
        for c in custs:
            by_group[c.group].append(c)
            by_group[None].append(c)
        out = []
        for name in names:
            group = _REQUIRED_GROUP.get(name)
            cust = next((c for c in pending if group is None or c.group == group), None)
            if cust is not None:
                pending.remove(cust)
            else:
                pool = by_group[group] or by_group[None]
                cust = r.choices(pool, weights=[c.weight for c in pool])[0]
            out.append((name, cust))
        return out

    # --- one order ------------------------------------------------------------------

    def _draft(self, scenario: str, cust: _Cust) -> _Draft:
        r = self.r
        currency = "EUR" if cust.group == "EU" else "USD"
        n_lines = r.choices((1, 2, 3, 4, 5), weights=(45, 25, 15, 10, 5))[0]
        n_locs = r.choice((2, 2, 3)) if scenario == "split_shipment" else 1
        if scenario in ("split_shipment", "partial_shipment", "partially_cancelled"):
            n_lines = max(n_lines, n_locs, 2)
        skus = r.sample(cat.SKUS, n_lines)
        if scenario == "backorder":
            bo_sku = r.choice([s for s, loc in self.backorders if loc == cust.home])
            if all(s[0] != bo_sku for s in skus):
                skus[0] = next(s for s in cat.SKUS if s[0] == bo_sku)
        lines = []
        for sku, name, cents in skus:
            if currency == "EUR":
                cents = max(99, round(cents * 0.93 / 100) * 100 - 1)
            qty = r.choices((1, 2, 3), weights=(70, 22, 8))[0]
            lines.append(_Line(self._id("li", 7), sku, name, cents, qty))
        draft = _Draft(scenario, cust, currency, lines, [])
        if scenario == "partially_cancelled":
            self._cancel_some(draft)
        draft.fos = self._plan_fos(draft, n_locs)
        self._place(draft)
        return draft

    def _cancel_some(self, draft: _Draft) -> None:
        line = self.r.choice(draft.lines)
        line.cancelled = line.ordered if self.r.random() < 0.6 or line.ordered == 1 else 1

    def _service(self, cust: _Cust, pickup: bool) -> tuple[str, int, int]:
        if pickup:
            return cat.PICKUP_SERVICE
        pool = {"US": cat.US_SERVICES, "EU": cat.EU_SERVICES, "INTL": cat.INTL_SERVICES}
        return self.r.choices(pool[cust.group], weights=(70, 20, 10)[: len(pool[cust.group])])[0]

    def _plan_fos(self, draft: _Draft, n_locs: int) -> list[_Fo]:
        r, scen, cust = self.r, draft.scenario, draft.cust
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
            if line.ordered - line.cancelled > 0:
                groups[i % len(locs)][line.id] = line.ordered - line.cancelled
        method = DeliveryMethodType.PICK_UP if pickup else DeliveryMethodType.SHIPPING
        fos = [
            _Fo(self._id("fo", 7), loc, method, self._service(cust, pickup), _fo_status(scen), g)
            for loc, g in zip(locs, groups, strict=True)
        ]
        if scen in _UNSHIPPED:
            fo = fos[0]
            fo.hold = _UNSHIPPED[scen][1]
            fo.hold_note = _HOLD_NOTES.get(fo.hold) if fo.hold else None
            if fo.hold is HoldReason.INVENTORY_OUT_OF_STOCK:
                sku, restock = next(
                    (line.sku, self.backorders[(line.sku, fo.location_id)])
                    for line in draft.lines
                    if (line.sku, fo.location_id) in self.backorders
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
                self._ship(fo, story, cust)
            if r.random() < 0.3:  # the last location has not shipped yet
                fos[-1].parcels.clear()
                fos[-1].status = FulfillmentOrderStatus.IN_PROGRESS
            return fos
        fo = fos[0]
        if scen == "partial_shipment":
            fo.status = FulfillmentOrderStatus.IN_PROGRESS
            self._ship(fo, r.choice(("in_transit", "delivered_recent")), cust, partial=True)
            return fos
        story = _SHIPPED_STORY[scen]
        if pickup and scen == "delivered":
            story = "picked_up"
        if scen == "uncollected_pickup" and r.random() < 0.5:
            story = "uncollected_returning"
        draft.bad_address = scen == "address_issue"
        parcels = 2 if scen == "delivered" and len(fo.lines) > 1 and r.random() < 0.15 else 1
        self._ship(fo, story, cust, parcels=parcels)
        return fos

    def _ship(
        self, fo: _Fo, story: str, cust: _Cust, *, partial: bool = False, parcels: int = 1
    ) -> None:
        """Create the FO's shipment(s) with a carrier story each."""
        r = self.r
        items = list(fo.lines.items())
        if partial and len(items) > 1:
            cut = r.randint(1, len(items) - 1)
            chunks = [dict(items[:cut])]
            if r.random() < 0.4 and items[cut][1] > 1:  # and part of the next line
                chunks[0][items[cut][0]] = items[cut][1] - 1
        elif parcels > 1:
            cut = r.randint(1, len(items) - 1)
            chunks = [dict(items[:cut]), dict(items[cut:])]
        else:
            chunks = [dict(items)]
        pickup = fo.method is DeliveryMethodType.PICK_UP
        origin = cat.LOCATION_PLACES[cat.LOC_US_EAST if pickup else fo.location_id]
        dest = cat.LOCATION_PLACES[cat.LOC_STORE] if pickup else cust.place
        if pickup:
            carrier = self._pick({"ups": 60, "fedex": 40})
        elif origin.country_code == "NL":
            carrier = self._pick({"dhl": 80, "ups": 20})
        elif dest.country_code != "US":
            carrier = self._pick({"dhl": 60, "fedex": 25, "ups": 15})
        else:
            carrier = self._pick({"ups": 40, "usps": 35, "fedex": 25})
        for chunk in chunks:
            fo.parcels.append(self._parcel(carrier, fo, chunk, story, origin, dest, pickup))

    def _parcel(
        self,
        carrier: str,
        fo: _Fo,
        lines: dict[str, int],
        story: str,
        origin: Place,
        dest: Place,
        to_store: bool,
    ) -> _Parcel:
        r = self.r
        carrier_name = cat.CARRIER_NAMES[carrier]
        if to_store:
            point = "SOHO STORE NEW YORK"
        else:
            point = {
                "ups": "UPS ACCESS POINT",
                "fedex": "FEDEX ONSITE LOCATION",
                "usps": "POST OFFICE",
                "dhl": "DHL SERVICEPOINT",
            }[carrier]
        reason = (
            "NOT COLLECTED FROM PICKUP POINT"
            if story.startswith("uncollected")
            else "RECEIVER NOT AVAILABLE AFTER FINAL DELIVERY ATTEMPT"
        )
        fmt = {"carrier": carrier_name, "signer": r.choice(cat.SIGNERS), "point": point}
        fmt["reason"] = reason
        steps, full_hours = self._story(story, carrier, origin, dest)
        lo, hi = _ANCHOR_HOURS[story]
        if story == "delivered" and r.random() < 0.1:
            lo, hi = 0.5, 8  # a few fresh deliveries the OMS may not know yet
        anchor = self._ago(r.uniform(lo, hi))
        total = sum(gap for _, _, gap in steps)
        label_at = anchor - timedelta(hours=total)
        events, t = [], label_at
        for step, place, gap in steps:
            t += timedelta(hours=gap)
            events.append((step, place, t.replace(microsecond=0)))
        if story == "no_record":
            events = []
        parcel = _Parcel(
            id=self._id("shp", 7),
            carrier=carrier,
            number=self._tracking_number(carrier, fo.location_id),
            lines=lines,
            story=story,
            origin=origin,
            dest=dest,
            events=events,
            eta=(label_at + timedelta(hours=full_hours)).replace(microsecond=0),
            fmt=fmt,
            shipped_at=label_at.replace(microsecond=0),
        )
        if events and events[-1][0] in _DELIVERED_STEPS:
            delivered_at = events[-1][2]
            lagging = self.now - delivered_at < OMS_DELIVERY_LAG and r.random() < 0.6
            known_at = delivered_at + timedelta(minutes=r.randint(1, 90))
            if not lagging and known_at <= self.now:
                parcel.oms_delivered_at = known_at
        return parcel

    def _route(
        self, carrier: str, origin: Place, dest: Place
    ) -> list[tuple[str, Place | None, float]]:
        """The normal path from label to out-for-delivery: (step, place, hours since previous)."""
        u = self.r.uniform
        path: list[tuple[str, Place | None, float]] = [
            ("label", None, 0.0),
            ("pickup", origin, u(2, 10)),
            ("depart", origin, u(1, 4)),
        ]
        intl = dest.country_code in cat.CUSTOMS_GATEWAYS and origin.country_code == "US"
        hub = (
            cat.EU_HUB if origin.country_code == "NL" else self.r.choice(cat.CARRIER_HUBS[carrier])
        )
        if intl or self.r.random() < 0.85:
            path += [("arrive", hub, u(8, 20)), ("depart", hub, u(2, 6))]
        if intl:
            gw = cat.CUSTOMS_GATEWAYS[dest.country_code]
            path += [
                ("arrive", gw, u(14, 30)),
                ("customs_in", gw, u(1, 3)),
                ("customs_cleared", gw, u(4, 30)),
                ("depart", gw, u(2, 8)),
            ]
        path += [("arrive", dest, u(6, 24)), ("ofd", dest, u(8, 14))]
        return path

    def _story(
        self, story: str, carrier: str, origin: Place, dest: Place
    ) -> tuple[list[tuple[str, Place | None, float]], float]:
        """The carrier events of ``story`` and the hours the normal path would take."""
        u, r = self.r.uniform, self.r
        path = self._route(carrier, origin, dest)
        full = sum(gap for _, _, gap in path) + 4
        steps = [s for s, _, _ in path]
        before_ofd = path[:-1]
        if story in ("label_created", "no_record"):
            return path[:1], full
        if story == "in_transit":
            return path[: r.randint(2, len(path) - 1)], full
        if story == "out_for_delivery":
            return path, full
        if story in ("delivered", "delivered_old", "delivered_recent"):
            return [*path, (r.choice(("delivered", "delivered", "signed")), dest, u(2, 8))], full
        if story in ("ready_for_pickup", "picked_up"):
            out = [*before_ofd, ("ready", dest, u(1, 3))]
            if story == "picked_up":
                out.append(("picked_up", dest, u(18, 96)))
            return out, full
        if story == "customs":
            i = steps.index("customs_in") if "customs_in" in steps else len(path) - 2
            out = [*path[: i + 1], ("customs_hold", path[i][1], u(6, 20))]
            out += [("customs_hold", path[i][1], u(20, 28)) for _ in range(r.randint(0, 2))]
            return out, full
        if story == "weather":
            i = steps.index("arrive")
            out = [*path[: i + 1], ("weather", path[i][1], u(4, 12))]
            if r.random() < 0.4:
                out.append(("weather", path[i][1], u(20, 28)))
            return out, full
        attempt = r.choice(("attempt", "attempt", "attempt_closed"))
        if story == "failed_then_delivered":
            tail = [(attempt, dest, u(2, 8)), ("ofd", dest, u(14, 24))]
            return path + tail + [(r.choice(("delivered", "signed")), dest, u(2, 8))], full
        if story == "address_issue":
            out = path if r.random() < 0.5 else before_ofd
            return [*out, ("address", dest, u(2, 16))], full
        if story == "return_to_sender":
            out = [*path, (attempt, dest, u(2, 8))]
            for _ in range(r.randint(1, 2)):
                out += [("ofd", dest, u(14, 24)), ("attempt", dest, u(2, 8))]
            out.append(("returning", dest, u(12, 30)))
            if r.random() < 0.35:
                out += [("depart", dest, u(4, 12)), ("returned", origin, u(30, 72))]
            return out, full
        if story == "lost":
            i = steps.index("arrive")
            return [*path[: i + 1], ("lost", path[i][1], u(150, 250))], full
        if story in ("uncollected", "uncollected_returning"):
            out = [*path, ("attempt", dest, u(2, 8)), ("ready", dest, u(2, 6))]
            if story == "uncollected_returning":
                out += [("not_collected", dest, u(168, 240)), ("returning", dest, u(2, 12))]
            return out, full
        if story == "stalled":
            i = steps.index("arrive") if r.random() < 0.5 else steps.index("pickup")
            return path[: i + 1], full
        raise ValueError(f"unknown story {story!r}")

    def _tracking_number(self, carrier: str, location_id: str) -> str:
        r = self.r

        def digits(n: int) -> str:
            return str(r.randrange(10 ** (n - 1), 10**n))

        while True:
            if carrier == "ups":
                service = r.choice(("01", "02", "03", "12"))
                number = f"1Z{cat.UPS_SHIPPER_IDS[location_id]}{service}{digits(8)}"
            elif carrier == "usps":
                number = r.choice(("9400", "9205", "9361", "9374")) + digits(18)
            elif carrier == "fedex":
                number = digits(12 if r.random() < 0.8 else 15)
            else:
                number = digits(10)
            if number not in self._used_numbers:
                self._used_numbers.add(number)
                return number

    def _place(self, draft: _Draft) -> None:
        """Fix placed_at, FO state and line quantities from the shipments."""
        r, scen = self.r, draft.scenario
        parcels = [p for fo in draft.fos for p in fo.parcels]
        if parcels:
            first = min(p.shipped_at for p in parcels)
            draft.placed_at = first - timedelta(hours=r.uniform(3, 40))
        else:
            draft.placed_at = self._ago(r.uniform(*_UNSHIPPED[scen][2]))
        draft.placed_at = draft.placed_at.replace(microsecond=0)
        day = draft.placed_at.date()
        for fo in draft.fos:
            if fo.hold is not None:
                fo.held_at = min(draft.placed_at + timedelta(minutes=r.randint(1, 30)), self.now)
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
                draft.placed_at + timedelta(hours=r.uniform(0.2, 48)), self._ago(0.1)
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
            draft.times.append(min(last + timedelta(days=r.uniform(4, 12)), self._ago(1)))

    # --- records --------------------------------------------------------------------

    def _fo_updated(self, fo: _Fo, draft: _Draft) -> datetime:
        if fo.parcels:
            return max(p.oms_delivered_at or p.shipped_at for p in fo.parcels)
        if fo.held_at is not None:
            return fo.held_at
        if draft.cancelled_at is not None:
            return draft.cancelled_at
        age = (self.now - draft.placed_at).total_seconds()
        offset = min(age * 0.5, self.r.uniform(60, 3600))
        return (draft.placed_at + timedelta(seconds=offset)).replace(microsecond=0)

    def _order(self, order_id: str, number: str, draft: _Draft) -> Order:
        cust = draft.cust
        lines = [
            OrderLine(
                id=line.id,
                sku=line.sku,
                name=line.name,
                unit_price=Money(amount=_amount(line.cents), currency_code=draft.currency),
                quantities=LineQuantities(
                    ordered=line.ordered,
                    cancelled=line.cancelled,
                    shipped=line.shipped,
                    delivered=line.delivered,
                    returned=line.returned,
                ),
            )
            for line in draft.lines
        ]
        fos, shipments, times = [], [], [draft.placed_at, *draft.times]
        for fo in draft.fos:
            updated = self._fo_updated(fo, draft)
            times.append(updated)
            holds = []
            if fo.hold is not None and fo.held_at is not None:
                holds.append(FulfillmentHold(reason=fo.hold, note=fo.hold_note, held_at=fo.held_at))
            method = DeliveryMethod(
                method_type=fo.method,
                service_name=fo.service[0],
                min_delivery_at=fo.min_at,
                max_delivery_at=fo.max_at,
            )
            fos.append(
                FulfillmentOrder(
                    id=fo.id,
                    location=cat.LOCATIONS[fo.location_id],
                    status=fo.status,
                    holds=holds,
                    delivery_method=method,
                    lines=[LineQuantity(line_id=k, quantity=v) for k, v in fo.lines.items()],
                    updated_at=updated,
                )
            )
            for p in fo.parcels:
                shipments.append(
                    Shipment(
                        id=p.id,
                        fulfillment_order_id=fo.id,
                        carrier_code=p.carrier,
                        tracking_number=p.number,
                        lines=[LineQuantity(line_id=k, quantity=v) for k, v in p.lines.items()],
                        shipped_at=p.shipped_at,
                    )
                )
        if draft.cancelled_at is not None:
            times.append(draft.cancelled_at)
        address = cust.address
        if draft.bad_address:  # drop the street number
            number_first = cust.group != "EU"
            street = (
                address.line1.split(" ", 1)[1] if number_first else address.line1.rsplit(" ", 1)[0]
            )
            address = msgspec.structs.replace(address, line1=street, line2=None)
        pickup_only = all(fo.method is DeliveryMethodType.PICK_UP for fo in draft.fos)
        return Order(
            id=order_id,
            number=number,
            account_id=cust.account_id,
            customer=cust.customer,
            shipping_address=None if pickup_only else address,
            financial_status=draft.financial,
            fulfillment_status=_fulfillment_status(draft),
            currency_code=draft.currency,
            placed_at=draft.placed_at,
            updated_at=max(times),
            lines=lines,
            fulfillment_orders=fos,
            shipments=shipments,
            cancelled_at=draft.cancelled_at,
            cancel_reason=draft.cancel_reason,
            return_status=self._return_status(order_id, draft),
        )

    def _return_status(self, order_id: str, draft: _Draft) -> ReturnStatus:
        """RETURNED once units came back; a few delivered orders have a return under way
        or failed. Drawn from the order's own generator, so the main sequence (and every
        other record) is the same with or without it."""
        if any(line.returned > 0 for line in draft.lines):
            return ReturnStatus.RETURNED
        if not any(line.delivered > 0 for line in draft.lines):
            return ReturnStatus.NO_RETURN
        draw = random.Random(f"{self.seed}/{order_id}/return").random()
        for status, share in _OPEN_RETURNS:
            if draw < share:
                return status
            draw -= share
        return ReturnStatus.NO_RETURN

    def _tracking(self, parcel: _Parcel, fo: _Fo) -> Tracking:
        r = self.r
        messages = cat.CARRIER_MESSAGES[parcel.carrier]
        cps = []
        for step, place, at in parcel.events:
            status, tag, subtag = cat.STEPS[step]
            tz = (place or parcel.origin).tz
            cps.append(
                Checkpoint(
                    time=at.astimezone(tz).isoformat(),
                    status=status,
                    tag=tag,
                    subtag=subtag,
                    message=messages[step].format(**parcel.fmt),
                    location=place.checkpoint_location() if place else None,
                )
            )
        last, last_at = cps[-1], parcel.events[-1][2]
        attempts = [at for step, _, at in parcel.events if step in cat.ATTEMPT_STEPS]
        signed = any(step == "signed" for step, _, _ in parcel.events)
        first_est, latest_est = self._estimates(parcel)
        return Tracking(
            tracking_number=parcel.number,
            carrier_code=parcel.carrier,
            status=last.status,
            tag=last.tag,
            subtag=last.subtag,
            message=last.message,
            checkpoints=self._mess(cps),
            first_estimated_delivery=first_est,
            latest_estimated_delivery=latest_est,
            promised_delivery_date=fo.max_at if r.random() < 0.7 else None,
            first_attempted_at=attempts[0] if attempts else None,
            signed_by=parcel.fmt["signer"] if signed else None,
            updated_at=min(last_at + timedelta(minutes=r.randint(1, 30)), self.now),
        )

    def _estimates(self, parcel: _Parcel) -> tuple[DeliveryWindow | None, DeliveryWindow | None]:
        """First and latest estimated delivery; they differ when the estimate moved."""
        r = self.r
        if r.random() < 0.1:
            return None, None
        tz = parcel.dest.tz
        day = parcel.eta.astimezone(tz).date()
        if parcel.story in _DELAY_STORIES:
            shift = r.randint(1, 3)
        else:
            shift = r.choice((-1, 1, 2)) if r.random() < 0.25 else 0

        def window(offset: int) -> DeliveryWindow:
            d = day + timedelta(days=offset)
            return DeliveryWindow(
                earliest=datetime.combine(d, time(9), tz), latest=datetime.combine(d, time(20), tz)
            )

        return window(0), window(shift)

    def _mess(self, cps: list[Checkpoint]) -> list[Checkpoint]:
        """Make a share of feeds messy: duplicates, swapped events, date-only times."""
        r = self.r
        if len(cps) >= 2 and r.random() < 0.35:
            kinds = ("dup", "swap", "date")
            ops = [op for op in kinds if r.random() < 0.45] or [r.choice(kinds)]
            if "date" in ops:
                i = r.randrange(len(cps))
                cps[i] = msgspec.structs.replace(cps[i], time=cps[i].time[:10])
            if "swap" in ops and len(cps) >= 3:
                i = r.randrange(1, len(cps) - 1)
                cps[i], cps[i + 1] = cps[i + 1], cps[i]
            if "dup" in ops:
                i = r.randrange(len(cps))
                cps.insert(r.randint(i + 1, len(cps)), cps[i])
        if r.random() < 0.08:
            cps.reverse()  # some carriers send newest first
        return cps

    # --- tickets --------------------------------------------------------------------

    def _tickets(self, order_id: str, number: str, draft: _Draft) -> list[Ticket]:
        r = self.r
        prob, max_n, topic, ongoing = _TICKET_PROFILES[draft.scenario]
        if r.random() >= prob:
            return []
        subjects, ticket_type, tags, priority = _TOPICS[topic]
        n = r.randint(1, max_n)
        parcels = [p.shipped_at for fo in draft.fos for p in fo.parcels]
        start = draft.placed_at + timedelta(minutes=10)
        if parcels and topic not in ("question", "change"):
            start = max(start, min(parcels) + timedelta(hours=12))
        end = self._ago(0.05)
        start = min(start, end)
        created = sorted(
            (start + (end - start) * r.random()).replace(microsecond=0) for _ in range(n)
        )
        out = []
        for i, at in enumerate(created):
            age = self.now - at
            if ongoing and i == n - 1:
                status = r.choices(
                    (
                        TicketStatus.NEW,
                        TicketStatus.OPEN,
                        TicketStatus.PENDING,
                        TicketStatus.ON_HOLD,
                    ),
                    weights=(20, 40, 25, 15),
                )[0]
            elif age > timedelta(days=4):
                status = r.choices((TicketStatus.CLOSED, TicketStatus.SOLVED), weights=(7, 3))[0]
            else:
                status = TicketStatus.SOLVED
            if status is TicketStatus.NEW:
                updated = at
            else:
                updated = at + min(age, timedelta(hours=48)) * r.uniform(0.05, 1)
            prio = _PRIORITIES[min(_PRIORITIES.index(priority) + min(i, 2), len(_PRIORITIES) - 1)]
            subject = r.choice(subjects).format(n=number)
            if i > 0 and ongoing:
                subject = f"Still waiting: {subject}"
            channel = (
                TicketChannel.WEB
                if ticket_type is TicketType.TASK
                else r.choices(list(TicketChannel), weights=(45, 25, 10, 20))[0]
            )
            tags_out = [*tags, f"order_{number}"] if r.random() < 0.7 else list(tags)
            ticket = Ticket(
                id="",  # numbered in creation order by _finish_tickets
                order_id=order_id,
                status=status,
                priority=prio,
                type=ticket_type,
                channel=channel,
                subject=subject,
                tags=tags_out,
                created_at=at,
                updated_at=min(updated, self.now).replace(microsecond=0),
                url="",
            )
            out.append(ticket)
        return out

    def _finish_tickets(self, drafts: list[Ticket]) -> dict[str, list[Ticket]]:
        """Number tickets in creation order and group them by order."""
        out: dict[str, list[Ticket]] = defaultdict(list)
        for i, draft in enumerate(sorted(drafts, key=lambda t: (t.created_at, t.order_id))):
            ticket_id = str(cat.FIRST_TICKET_ID + i)
            out[draft.order_id].append(
                msgspec.structs.replace(draft, id=ticket_id, url=cat.ticket_url(ticket_id))
            )
        return dict(out)

    # --- inventory ------------------------------------------------------------------

    def _inventory(self, drafts: list[_Draft]) -> dict[str, InventoryItem]:
        r = self.r
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
            as_of = self._ago(r.uniform(0.01, 0.2))
            levels = []
            for loc in cat.LOCATIONS:
                c = committed[(sku, loc)]
                restock = self.backorders.get((sku, loc))
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
                        day = (self.now + timedelta(days=r.uniform(2, 30))).date()
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
        return self._stock_history(out)

    def _stock_history(self, items: dict[str, InventoryItem]) -> dict[str, InventoryItem]:
        """``items`` with their short history: since when an oversold level is oversold
        (before any backorder was placed), and each expected date of incoming stock with
        when it was set (a backordered SKU's date moved 0 to 2 times, the others' never).
        Drawn from a generator of its own, so the rest of the data set stays as it was."""
        r = random.Random(f"{self.seed}:stock-history")
        oldest_backorder = max(_UNSHIPPED["backorder"][2][1], 24.0)
        out = {}
        for sku, item in items.items():
            levels = []
            for level in item.levels:
                since = None
                if level.available < 0:
                    since = self._ago(oldest_backorder + r.uniform(12, 72))
                history: list[RestockExpectation] = []
                if level.incoming_expected_at is not None:
                    backordered = (sku, level.location_id) in self.backorders
                    moves = r.choice((0, 1, 1, 2)) if backordered else 0
                    first_set = (since or self._ago(r.uniform(24, 240))) + timedelta(
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
                changed = msgspec.structs.replace(
                    level, oversold_since=since, restock_history=history
                )
                levels.append(changed)
            out[sku] = InventoryItem(sku=sku, levels=levels)
        return out


def _amount(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _fo_status(scenario: str) -> FulfillmentOrderStatus:
    unshipped = _UNSHIPPED.get(scenario)
    return unshipped[0] if unshipped else FulfillmentOrderStatus.OPEN


def _fulfillment_status(draft: _Draft) -> FulfillmentStatus:
    """The order's fulfillment status, derived from its line quantities and FOs by the
    same rule the simulated OMS applies after a change (domain/progress.py)."""
    if draft.cancelled_at is not None:
        return FulfillmentStatus.UNFULFILLED
    return fulfillment_status(
        sum(line.ordered - line.cancelled for line in draft.lines),
        sum(line.shipped for line in draft.lines),
        (fo.status for fo in draft.fos),
    )


_PRIORITIES = [
    TicketPriority.LOW,
    TicketPriority.NORMAL,
    TicketPriority.HIGH,
    TicketPriority.URGENT,
]
# topic -> (subjects, type, tags, base priority)
_TOPICS: dict[str, tuple[tuple[str, ...], TicketType, tuple[str, ...], TicketPriority]] = {
    "question": (
        ("Question about order #{n}", "Invoice request for order #{n}", "Gift receipt for #{n}"),
        TicketType.QUESTION, ("question",), TicketPriority.LOW,
    ),
    "change": (
        ("Change shipping address on order #{n}", "Can I add an item to order #{n}?"),
        TicketType.QUESTION, ("order-change",), TicketPriority.NORMAL,
    ),
    "wismo": (
        ("Where is my order #{n}?", "Order #{n} not delivered yet", "No tracking update, #{n}"),
        TicketType.QUESTION, ("wismo",), TicketPriority.NORMAL,
    ),
    "backorder": (
        ("When will order #{n} ship?", "Backordered item on order #{n}"),
        TicketType.QUESTION, ("backorder",), TicketPriority.NORMAL,
    ),
    "payment": (
        ("Payment for order #{n} pending", "Bank transfer details for order #{n}"),
        TicketType.QUESTION, ("payment",), TicketPriority.NORMAL,
    ),
    "fraud": (
        ("Fraud review: order #{n}", "Verify customer identity for order #{n}"),
        TicketType.TASK, ("fraud-review",), TicketPriority.HIGH,
    ),
    "address": (
        ("Wrong address on order #{n}", "Please correct the delivery address for order #{n}"),
        TicketType.INCIDENT, ("address",), TicketPriority.NORMAL,
    ),
    "cancel": (
        ("Refund for cancelled order #{n}", "Why was my order #{n} cancelled?"),
        TicketType.QUESTION, ("cancellation", "refund"), TicketPriority.NORMAL,
    ),
    "item_cancelled": (
        ("Item removed from order #{n}", "Missing item in order #{n}"),
        TicketType.QUESTION, ("item-cancelled",), TicketPriority.NORMAL,
    ),
    "customs": (
        ("Order #{n} stuck in customs", "Import duties for order #{n}?"),
        TicketType.INCIDENT, ("customs", "carrier-delay"), TicketPriority.NORMAL,
    ),
    "delay": (
        ("Order #{n} is delayed", "Delivery date for order #{n} keeps moving"),
        TicketType.INCIDENT, ("carrier-delay",), TicketPriority.NORMAL,
    ),
    "missed": (
        ("Missed delivery for order #{n}", "Can you redeliver order #{n}?"),
        TicketType.QUESTION, ("missed-delivery",), TicketPriority.NORMAL,
    ),
    "carrier_address": (
        ("Carrier says my address is wrong (order #{n})", "Delivery exception on order #{n}"),
        TicketType.INCIDENT, ("address", "carrier-exception"), TicketPriority.HIGH,
    ),
    "rts": (
        ("Order #{n} is going back to the sender?", "Please reship order #{n}"),
        TicketType.INCIDENT, ("return-to-sender",), TicketPriority.HIGH,
    ),
    "lost": (
        ("Order #{n} lost in transit", "Package for #{n} never arrived", "Lost package claim #{n}"),
        TicketType.INCIDENT, ("lost-package", "claim"), TicketPriority.HIGH,
    ),
    "pickup": (
        ("Pickup for order #{n}", "Can't collect order #{n} in time"),
        TicketType.QUESTION, ("pickup",), TicketPriority.NORMAL,
    ),
    "not_scanned": (
        ("Tracking for order #{n} hasn't moved", "Has order #{n} actually shipped?"),
        TicketType.QUESTION, ("wismo", "label-not-scanned"), TicketPriority.NORMAL,
    ),
    "return": (
        ("Return for order #{n}", "Refund status for returned items (order #{n})"),
        TicketType.QUESTION, ("return", "refund"), TicketPriority.NORMAL,
    ),
    "partial": (
        ("Only part of order #{n} arrived", "Where is the rest of order #{n}?"),
        TicketType.QUESTION, ("split-shipment",), TicketPriority.NORMAL,
    ),
}  # fmt: skip
# scenario -> (probability of any ticket, max tickets, topic, still ongoing)
_TICKET_PROFILES: dict[str, tuple[float, int, str, bool]] = {
    "delivered": (0.03, 1, "question", False),
    "in_transit": (0.05, 1, "wismo", True),
    "out_for_delivery": (0.02, 1, "wismo", True),
    "ready_for_pickup": (0.05, 1, "pickup", True),
    "just_placed": (0.08, 1, "change", True),
    "processing": (0.05, 1, "wismo", True),
    "split_shipment": (0.15, 1, "partial", True),
    "partial_shipment": (0.4, 2, "partial", True),
    "backorder": (0.6, 2, "backorder", True),
    "payment_hold": (0.3, 1, "payment", True),
    "fraud_hold": (0.5, 1, "fraud", True),
    "address_hold": (0.6, 2, "address", True),
    "cancelled": (0.4, 2, "cancel", False),
    "partially_cancelled": (0.5, 1, "item_cancelled", False),
    "returned": (0.9, 2, "return", False),
    "customs_delay": (0.8, 3, "customs", True),
    "weather_delay": (0.5, 2, "delay", True),
    "failed_attempt_delivered": (0.4, 1, "missed", False),
    "address_issue": (0.8, 2, "carrier_address", True),
    "return_to_sender": (0.9, 3, "rts", True),
    "lost": (1.0, 4, "lost", True),
    "uncollected_pickup": (0.5, 2, "pickup", True),
    "label_not_scanned": (0.6, 2, "not_scanned", True),
    "no_carrier_record": (0.3, 1, "not_scanned", True),
    "stalled_in_transit": (0.8, 3, "wismo", True),
}
