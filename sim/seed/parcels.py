"""Parcels: a fulfillment order's shipments, each with a carrier *story* (delivered,
customs hold, lost, ...) played out as dated carrier events, and the carrier's tracking
record of it, messy feeds included."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import msgspec

from sim import catalog as cat
from sim.catalog import Place
from sim.seed.drafts import CustomerDraft, FoDraft, ParcelDraft
from sim.seed.draw import Draw
from sources.records import Checkpoint, DeliveryMethodType, DeliveryWindow, Tracking

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
OMS_DELIVERY_LAG = timedelta(hours=6)  # the OMS may not know deliveries younger than this

Step = tuple[str, Place | None, float]  # (catalog step, place, hours since the previous)


def ship(
    draw: Draw,
    fo: FoDraft,
    story: str,
    cust: CustomerDraft,
    *,
    partial: bool = False,
    parcels: int = 1,
) -> None:
    """Create the FO's shipment(s) with a carrier story each."""
    r = draw.r
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
        carrier = draw.pick({"ups": 60, "fedex": 40})
    elif origin.country_code == "NL":
        carrier = draw.pick({"dhl": 80, "ups": 20})
    elif dest.country_code != "US":
        carrier = draw.pick({"dhl": 60, "fedex": 25, "ups": 15})
    else:
        carrier = draw.pick({"ups": 40, "usps": 35, "fedex": 25})
    for chunk in chunks:
        fo.parcels.append(_parcel(draw, carrier, fo, chunk, story, origin, dest, pickup))


def _parcel(
    draw: Draw,
    carrier: str,
    fo: FoDraft,
    lines: dict[str, int],
    story: str,
    origin: Place,
    dest: Place,
    to_store: bool,
) -> ParcelDraft:
    r = draw.r
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
    steps, full_hours = _story(draw, story, carrier, origin, dest)
    lo, hi = _ANCHOR_HOURS[story]
    if story == "delivered" and r.random() < 0.1:
        lo, hi = 0.5, 8  # a few fresh deliveries the OMS may not know yet
    anchor = draw.ago(r.uniform(lo, hi))
    total = sum(gap for _, _, gap in steps)
    label_at = anchor - timedelta(hours=total)
    events, t = [], label_at
    for step, place, gap in steps:
        t += timedelta(hours=gap)
        events.append((step, place, t.replace(microsecond=0)))
    if story == "no_record":
        events = []
    parcel = ParcelDraft(
        id=draw.id("shp", 7),
        carrier=carrier,
        number=_tracking_number(draw, carrier, fo.location_id),
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
        lagging = draw.now - delivered_at < OMS_DELIVERY_LAG and r.random() < 0.6
        known_at = delivered_at + timedelta(minutes=r.randint(1, 90))
        if not lagging and known_at <= draw.now:
            parcel.oms_delivered_at = known_at
    return parcel


def _route(draw: Draw, carrier: str, origin: Place, dest: Place) -> list[Step]:
    """The normal path from label to out-for-delivery."""
    u = draw.r.uniform
    path: list[Step] = [
        ("label", None, 0.0),
        ("pickup", origin, u(2, 10)),
        ("depart", origin, u(1, 4)),
    ]
    intl = dest.country_code in cat.CUSTOMS_GATEWAYS and origin.country_code == "US"
    hub = cat.EU_HUB if origin.country_code == "NL" else draw.r.choice(cat.CARRIER_HUBS[carrier])
    if intl or draw.r.random() < 0.85:
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
    draw: Draw, story: str, carrier: str, origin: Place, dest: Place
) -> tuple[list[Step], float]:
    """The carrier events of ``story`` and the hours the normal path would take."""
    u, r = draw.r.uniform, draw.r
    path = _route(draw, carrier, origin, dest)
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


def _tracking_number(draw: Draw, carrier: str, location_id: str) -> str:
    r = draw.r

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
        if number not in draw.used_numbers:
            draw.used_numbers.add(number)
            return number


def tracking(draw: Draw, parcel: ParcelDraft, fo: FoDraft) -> Tracking:
    """The carrier's record of ``parcel``: its events as checkpoints in local time."""
    r = draw.r
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
    first_est, latest_est = _estimates(draw, parcel)
    return Tracking(
        tracking_number=parcel.number,
        carrier_code=parcel.carrier,
        status=last.status,
        tag=last.tag,
        subtag=last.subtag,
        message=last.message,
        checkpoints=_mess(draw, cps),
        first_estimated_delivery=first_est,
        latest_estimated_delivery=latest_est,
        promised_delivery_date=fo.max_at if r.random() < 0.7 else None,
        first_attempted_at=attempts[0] if attempts else None,
        signed_by=parcel.fmt["signer"] if signed else None,
        updated_at=min(last_at + timedelta(minutes=r.randint(1, 30)), draw.now),
    )


def _estimates(
    draw: Draw, parcel: ParcelDraft
) -> tuple[DeliveryWindow | None, DeliveryWindow | None]:
    """First and latest estimated delivery; they differ when the estimate moved."""
    r = draw.r
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


def _mess(draw: Draw, cps: list[Checkpoint]) -> list[Checkpoint]:
    """Make a share of feeds messy: duplicates, swapped events, date-only times."""
    r = draw.r
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
