"""Order exceptions: what is going wrong with an order, how bad it is, what to do about it.

Pure rules over the sources' records (no I/O, no clock: ``now`` is a parameter),
table-tested in tests/unit/test_exceptions.py. Every exception carries the raw facts that
raised it (``evidence``) and the moment the condition became true (``detected_at``),
taken from the facts themselves: a hold's ``held_at``, a scan time plus a threshold, the
end of the promised day. Times the gateway itself produces (``detected_at`` here, the
timeline's derived entries, freshness, the queue's ``evaluated_at``) are UTC, while
times a source gives with a local offset (delivery windows, carrier scans) keep it: a
``detected_at`` taken from a carrier scan is the same instant, told in UTC.

Sources that could not be read are absent from their mapping (or ``tickets`` is None):
the rules that need them are skipped, never guessed. ``trackings[number] = None`` is
different: the carrier answered and has no record of that number.

Decisions worth knowing:

- A cancelled order (or one whose every line is cancelled) raises nothing: a voided or
  refunded payment is the normal end of a cancellation, not a delivery problem.
- ``customer_message`` is None exactly when the exception is ``internal``: FRAUD_REVIEW
  (never tell a customer they are under review) and UNANSWERED_TICKET (our own support
  SLA, nothing the customer can act on). ``order_health`` ignores internal exceptions
  unless asked, so they never change what a customer channel shows.
- SOURCES_DISAGREE covers two disagreements: the OMS counts a shipment delivered while
  the carrier's milestone is not DELIVERED, and the carrier still has no record of a
  shipment's tracking number ``carrier_record_grace`` after it shipped. The carrier being
  ahead of the OMS (delivered per carrier, not yet per OMS) is normal lag, not a
  disagreement; "delivered per carrier but never shipped per OMS" cannot be seen, since
  trackings are only looked up for the OMS's own shipments.
- WAREHOUSE_DELAY uses a single ship-by rule (``warehouse_ship_within`` after placement)
  for OPEN, IN_PROGRESS or INCOMPLETE work; held fulfillment orders are explained by
  their hold's exception, and a missed delivery promise is LATE.
- A parcel waiting at a pickup point has met the delivery promise (no LATE, no
  PREDICTED_LATE); leaving it there too long is PICKUP_NOT_COLLECTED. Whether an order
  has arrived is decided from its units (delivered, or in a parcel at a pickup point),
  not from its status: one parcel delivered and one waiting for collection has arrived.
- LATE begins once the promise's latest time has passed: the OMS gives it as an instant
  (the sim a UTC day's end, Shopify the end of the promised day in the shop's zone).
  PREDICTED_LATE compares days at the destination: the carrier's estimate is in its
  local time, and the promise is read there too, so an estimate for the evening of the
  promised day is on time, and one for the next day is late, whatever zone the OMS
  wrote the promise in.
- STALLED_IN_TRANSIT is skipped while the carrier's current sub-status already explains
  the silence (customs, weather, lost...): that exception is raised instead.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal

from domain.carrier_events import ShipmentSubStatus, TimedCheckpoint, in_time_order, sub_status
from domain.progress import AWAITING_SHIPMENT, OrderProgress
from domain.status import (
    REVERSALS,
    CustomerOrderStatus,
    derive_customer_status,
    promised_window,
    shipment_milestone,
)
from domain.tickets import AWAITING_OUR_REPLY, UNRESOLVED
from sources.records import (
    FinancialStatus,
    FulfillmentHold,
    FulfillmentOrder,
    HoldReason,
    InventoryItem,
    InventoryLevel,
    Order,
    OrderLine,
    Shipment,
    ShipmentStatus,
    Ticket,
    Tracking,
)


class ExceptionCode(enum.Enum):
    PAYMENT_ISSUE = "PAYMENT_ISSUE"  # a payment hold, or a pending, voided or expired payment
    FRAUD_REVIEW = "FRAUD_REVIEW"  # a HIGH_RISK_OF_FRAUD hold; internal
    ADDRESS_ISSUE = "ADDRESS_ISSUE"  # an INCORRECT_ADDRESS hold or carrier sub-status
    BACKORDERED = "BACKORDERED"  # an out-of-stock hold, or an unshipped line short of stock
    WAREHOUSE_DELAY = "WAREHOUSE_DELAY"  # released work unshipped past the ship-by time
    NOT_PICKED_UP_BY_CARRIER = "NOT_PICKED_UP_BY_CARRIER"  # a label left unscanned for days
    PREDICTED_LATE = "PREDICTED_LATE"  # the carrier's estimate ends after the promised day
    LATE = "LATE"  # the promised day is over and the order has not arrived
    CARRIER_DELAY = "CARRIER_DELAY"  # the carrier reports a customs, weather or unforeseen delay
    STALLED_IN_TRANSIT = "STALLED_IN_TRANSIT"  # in transit with no scan for several business days
    DELIVERY_ATTEMPTED = "DELIVERY_ATTEMPTED"
    PICKUP_NOT_COLLECTED = "PICKUP_NOT_COLLECTED"
    RETURNING_TO_SENDER = "RETURNING_TO_SENDER"
    LOST_OR_DAMAGED = "LOST_OR_DAMAGED"
    PARTIAL_SHIPMENT = "PARTIAL_SHIPMENT"
    SOURCES_DISAGREE = "SOURCES_DISAGREE"  # delivered per the OMS only, or unknown to the carrier
    UNANSWERED_TICKET = "UNANSWERED_TICKET"  # a critical one with no live ticket, or a late reply


class Severity(enum.Enum):
    """Least to most severe."""

    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


class Health(enum.Enum):
    """Best to worst."""

    ON_TRACK = "ON_TRACK"  # no exception, or none that threatens delivery
    AT_RISK = "AT_RISK"  # delivery may be affected
    DELAYED = "DELAYED"  # delivery is late or will be
    ACTION_REQUIRED = "ACTION_REQUIRED"
    FAILED = "FAILED"  # delivery failed: lost, damaged or returning to sender


SEVERITY_RANK = {severity: rank for rank, severity in enumerate(Severity)}  # INFO lowest
_HEALTH_RANK = {health: rank for rank, health in enumerate(Health)}

SubjectKind = Literal["order", "line", "fulfillment_order", "shipment"]


@dataclass(frozen=True, slots=True)
class Subject:
    """What an exception is about: ``id`` is that record's id (the order id for "order")."""

    kind: SubjectKind
    id: str


@dataclass(frozen=True, slots=True)
class OrderException:
    code: ExceptionCode
    severity: Severity
    detected_at: datetime  # when the condition became true, from the source facts
    subject: Subject
    customer_message: str | None  # None exactly when internal
    recommended_action: str  # for agents
    evidence: tuple[tuple[str, str], ...]  # raw source facts, e.g. ("carrier.subtag", "...")
    internal: bool  # consoles only: never shown to, or counted for, the customer
    health: Health  # what this exception means for the order


@dataclass(frozen=True, slots=True)
class CodeSpec:
    """The fixed part of one exception code: default severity, health and agent action."""

    severity: Severity
    health: Health
    action: str
    internal: bool = False
    critical_health: Health | None = None  # the health once a rule escalates it to CRITICAL


_E, _S, _H = ExceptionCode, Severity, Health

# The one table from code to severity, health and action. Health judgement calls:
# FRAUD_REVIEW is AT_RISK (the order may be cancelled) but internal; SOURCES_DISAGREE is
# AT_RISK (we cannot vouch for the status shown); PARTIAL_SHIPMENT is ON_TRACK (normal
# for split orders; a late remainder raises its own exception); a label unscanned past
# the critical threshold needs someone to find the parcel, hence ACTION_REQUIRED.
CODE_SPECS: Mapping[ExceptionCode, CodeSpec] = {
    _E.PAYMENT_ISSUE: CodeSpec(
        _S.WARNING,
        _H.ACTION_REQUIRED,
        "Check the payment with the customer or the payment provider; release the hold "
        "once it is paid.",
    ),
    _E.FRAUD_REVIEW: CodeSpec(
        _S.WARNING,
        _H.AT_RISK,
        "Finish the fraud review: verify the customer, then release the hold or cancel the order.",
        internal=True,
    ),
    _E.ADDRESS_ISSUE: CodeSpec(
        _S.WARNING,
        _H.ACTION_REQUIRED,
        "Confirm the address with the customer, then correct it on the order or with the carrier.",
    ),
    _E.BACKORDERED: CodeSpec(
        _S.WARNING,
        _H.DELAYED,
        "Give the customer the restock date; offer a substitute, a split shipment or a "
        "cancellation.",
    ),
    _E.WAREHOUSE_DELAY: CodeSpec(
        _S.WARNING,
        _H.DELAYED,
        "Ask the warehouse why the fulfillment order has not shipped.",
    ),
    _E.NOT_PICKED_UP_BY_CARRIER: CodeSpec(
        _S.WARNING,
        _H.DELAYED,
        "Ask the warehouse whether the parcel was handed to the carrier; reship if it "
        "cannot be found.",
        critical_health=_H.ACTION_REQUIRED,
    ),
    _E.PREDICTED_LATE: CodeSpec(
        _S.WARNING,
        _H.AT_RISK,
        "Tell the customer about the new delivery estimate before they ask.",
    ),
    _E.LATE: CodeSpec(
        _S.CRITICAL,
        _H.DELAYED,
        "Contact the customer with the latest estimate; consider compensation or a reshipment.",
    ),
    _E.CARRIER_DELAY: CodeSpec(
        _S.WARNING,
        _H.DELAYED,
        "Monitor the shipment; contact the carrier if the delay persists.",
    ),
    _E.STALLED_IN_TRANSIT: CodeSpec(
        _S.WARNING,
        _H.DELAYED,
        "Open a trace with the carrier.",
    ),
    _E.DELIVERY_ATTEMPTED: CodeSpec(
        _S.WARNING,
        _H.ACTION_REQUIRED,
        "Help the customer reschedule the delivery or redirect the parcel to a pickup point.",
    ),
    _E.PICKUP_NOT_COLLECTED: CodeSpec(
        _S.WARNING,
        _H.ACTION_REQUIRED,
        "Remind the customer to collect the parcel, or arrange a redelivery if it is "
        "being returned.",
    ),
    _E.RETURNING_TO_SENDER: CodeSpec(
        _S.CRITICAL,
        _H.FAILED,
        "Contact the customer: reship to a confirmed address or refund once the parcel is back.",
    ),
    _E.LOST_OR_DAMAGED: CodeSpec(
        _S.CRITICAL,
        _H.FAILED,
        "File a claim with the carrier and reship or refund.",
    ),
    _E.PARTIAL_SHIPMENT: CodeSpec(
        _S.INFO,
        _H.ON_TRACK,
        "None unless the remaining items are delayed.",
    ),
    _E.SOURCES_DISAGREE: CodeSpec(
        _S.WARNING,
        _H.AT_RISK,
        "Check the shipment with the carrier and correct the OMS record.",
    ),
    _E.UNANSWERED_TICKET: CodeSpec(
        _S.WARNING,
        _H.ACTION_REQUIRED,
        "Open or answer a support ticket for this order.",
        internal=True,
    ),
}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a condition becomes an exception.

    Label scans follow the 2- and 5-day triggers of tracking products (docs/vocabulary.md).
    Stalls count business days (Mon-Fri, UTC), longer abroad where customs and line
    hauls go quiet for days. An unshipped line is backordered when its location's
    ``available`` is at or below ``backorder_available_at_most``. ``available`` already
    excludes committed units, the order's own included, so 0 means "sold out, but every
    committed unit is on hand"; only a negative value (oversold) leaves a committed unit
    without stock. Hence -1; set 0 to also flag lines that merely sold out.
    """

    label_warning: timedelta = timedelta(days=2)
    label_critical: timedelta = timedelta(days=5)
    stalled_domestic_business_days: int = 3
    stalled_international_business_days: int = 7
    warehouse_ship_within: timedelta = timedelta(hours=48)
    pickup_uncollected_after: timedelta = timedelta(days=5)
    attempts_critical: int = 2  # this many failed delivery attempts make it CRITICAL
    carrier_record_grace: timedelta = timedelta(hours=24)
    ticket_response_sla: timedelta = timedelta(hours=24)
    backorder_available_at_most: int = -1


# --- business days ----------------------------------------------------------------------


def add_business_days(start: datetime, days: int) -> datetime:
    """``start`` moved ``days`` business days on: Saturdays and Sundays (UTC) do not count.

    A weekend start counts from the following Monday 00:00 UTC.
    """
    moment = start.astimezone(UTC)
    if moment.weekday() >= 5:
        monday = moment.date() + timedelta(days=7 - moment.weekday())
        moment = datetime.combine(monday, time(0), UTC)
    weeks, rest = divmod(days, 5)
    moment += timedelta(weeks=weeks)
    for _ in range(rest):
        moment += timedelta(days=1)
        if moment.weekday() == 5:
            moment += timedelta(days=2)
    return moment


# --- facts shared by the rules ------------------------------------------------------------

_MOVING = frozenset({ShipmentStatus.IN_TRANSIT, ShipmentStatus.OUT_FOR_DELIVERY})
# Where a parcel has met the delivery promise: delivered, or waiting at a pickup point.
_ARRIVED = frozenset({ShipmentStatus.DELIVERED, ShipmentStatus.READY_FOR_PICKUP})


@dataclass(frozen=True, slots=True)
class _Parcel:
    """A shipment the carrier answered for with a record."""

    shipment: Shipment
    tracking: Tracking
    milestone: ShipmentStatus
    checkpoints: list[TimedCheckpoint]  # in time order (carrier_events.in_time_order)
    fulfillment_order: FulfillmentOrder | None


@dataclass(frozen=True, slots=True)
class _Facts:
    order: Order
    trackings: Mapping[str, Tracking | None]
    stock: Mapping[str, InventoryItem | None]
    tickets: Sequence[Ticket] | None
    now: datetime
    limits: Thresholds
    progress: OrderProgress  # the OMS's own figures (shipments count, carrier not asked)
    live_fos: tuple[FulfillmentOrder, ...]  # neither closed nor cancelled
    unshipped: Mapping[str, Mapping[str, int]]  # live FO id -> line id -> quantity left
    parcels: tuple[_Parcel, ...]
    promise: tuple[datetime, datetime] | None


def _facts(
    progress: OrderProgress,
    trackings: Mapping[str, Tracking | None],
    stock: Mapping[str, InventoryItem | None],
    tickets: Sequence[Ticket] | None,
    now: datetime,
    limits: Thresholds,
) -> _Facts:
    order = progress.order
    by_id = {fo.id: fo for fo in order.fulfillment_orders}
    parcels = []
    for shipment in order.shipments:
        tracking = trackings.get(shipment.tracking_number or "")
        if tracking is not None:
            parcels.append(
                _Parcel(
                    shipment,
                    tracking,
                    shipment_milestone(tracking),
                    in_time_order(tracking.checkpoints),
                    by_id.get(shipment.fulfillment_order_id),
                )
            )
    return _Facts(
        order=order,
        trackings=trackings,
        stock=stock,
        tickets=tickets,
        now=now,
        limits=limits,
        progress=progress,
        live_fos=progress.unfinished,
        unshipped=progress.unshipped,
        parcels=tuple(parcels),
        promise=promised_window(order),
    )


def _live_facts(
    order: Order,
    trackings: Mapping[str, Tracking | None],
    stock: Mapping[str, InventoryItem | None],
    tickets: Sequence[Ticket] | None,
    now: datetime,
    limits: Thresholds,
) -> _Facts | None:
    """The rules' facts, ``None`` for a cancelled order (it raises nothing)."""
    progress = OrderProgress.of(order)
    if progress.is_cancelled:
        return None
    return _facts(progress, trackings, stock, tickets, now, limits)


def _exception(
    code: ExceptionCode,
    subject: Subject,
    detected_at: datetime,
    evidence: Iterable[tuple[str, str | None]],
    message: str | None,
    severity: Severity | None = None,
) -> OrderException:
    """Build an exception from its code's spec; evidence entries without a value are dropped."""
    spec = CODE_SPECS[code]
    severity = severity or spec.severity
    return OrderException(
        code=code,
        severity=severity,
        detected_at=detected_at.astimezone(UTC),
        subject=subject,
        customer_message=None if spec.internal else message,
        recommended_action=spec.action,
        evidence=tuple((key, value) for key, value in evidence if value is not None),
        internal=spec.internal,
        health=(spec.critical_health or spec.health)
        if severity is Severity.CRITICAL
        else spec.health,
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def customer_day(moment: datetime) -> str:
    """A date for customers, e.g. "4 Dec": the calendar day where the source put
    ``moment`` (a carrier's window is the day at the destination), not the UTC day."""
    return f"{moment.day} {moment:%b}"


def _order_subject(f: _Facts) -> Subject:
    return Subject("order", f.order.id)


def _shipment_subject(p: _Parcel) -> Subject:
    return Subject("shipment", p.shipment.id)


def _carrier_evidence(p: _Parcel) -> list[tuple[str, str | None]]:
    t = p.tracking
    return [
        ("carrier.tracking_number", t.tracking_number),
        ("carrier.status", t.status.value),
        ("carrier.milestone", p.milestone.value),
        ("carrier.tag", t.tag),
        ("carrier.subtag", t.subtag),
        ("carrier.message", t.message),
    ]


def _first_at(p: _Parcel, statuses: Iterable[ShipmentStatus]) -> datetime | None:
    wanted = frozenset(statuses)
    return next((i.occurred_at for i in p.checkpoints if i.checkpoint.status in wanted), None)


def _checkpoint_sub_status(item: TimedCheckpoint) -> ShipmentSubStatus | None:
    return sub_status(item.checkpoint.subtag, item.checkpoint.message)


# --- order rules ----------------------------------------------------------------------------

_PAYMENT_MESSAGE = (
    "We're waiting for your payment to go through. We'll prepare your order as soon as it does."
)
# Holds that are exceptions by themselves (out of stock is BACKORDERED, with an estimate).
_HOLD_CODES: dict[HoldReason, tuple[ExceptionCode, str | None]] = {
    HoldReason.AWAITING_PAYMENT: (ExceptionCode.PAYMENT_ISSUE, _PAYMENT_MESSAGE),
    HoldReason.HIGH_RISK_OF_FRAUD: (ExceptionCode.FRAUD_REVIEW, None),
    HoldReason.INCORRECT_ADDRESS: (
        ExceptionCode.ADDRESS_ISSUE,
        "We couldn't confirm your shipping address. Please check it so we can send your order.",
    ),
}
_UNPAID = frozenset({FinancialStatus.PENDING, FinancialStatus.EXPIRED, FinancialStatus.VOIDED})


def _holds(f: _Facts) -> Iterator[OrderException]:
    for fo in f.live_fos:
        for hold in fo.holds:
            if hold.reason not in _HOLD_CODES:
                continue
            code, message = _HOLD_CODES[hold.reason]
            payment = code is ExceptionCode.PAYMENT_ISSUE
            evidence = [
                *_hold_evidence(fo, hold),
                ("oms.financial_status", f.order.financial_status.value if payment else None),
            ]
            yield _exception(
                code, Subject("fulfillment_order", fo.id), hold.held_at, evidence, message
            )


def _hold_evidence(fo: FulfillmentOrder, hold: FulfillmentHold) -> list[tuple[str, str | None]]:
    return [
        ("oms.fulfillment_order.status", fo.status.value),
        ("oms.hold.reason", hold.reason.value),
        ("oms.hold.held_at", _iso(hold.held_at)),
        ("oms.hold.note", hold.note),
    ]


def _unpaid(f: _Facts) -> Iterator[OrderException]:
    """An unpaid live order without a payment hold (the hold's exception says it already)."""
    status = f.order.financial_status
    held = any(h.reason is HoldReason.AWAITING_PAYMENT for fo in f.live_fos for h in fo.holds)
    if status not in _UNPAID or held:
        return
    # Pending since checkout; an expired or voided authorisation since the last OMS change.
    since = f.order.placed_at if status is FinancialStatus.PENDING else f.order.updated_at
    yield _exception(
        ExceptionCode.PAYMENT_ISSUE,
        _order_subject(f),
        since,
        [
            ("oms.financial_status", status.value),
            ("oms.placed_at", _iso(f.order.placed_at)),
            ("oms.updated_at", _iso(f.order.updated_at)),
        ],
        _PAYMENT_MESSAGE,
    )


_Short = list[tuple[OrderLine, InventoryLevel]]  # lines short of stock, each at its level


def short_lines(
    order: Order,
    fo: FulfillmentOrder,
    unshipped: Mapping[str, int],
    stock: Mapping[str, InventoryItem | None],
    limits: Thresholds,
) -> _Short:
    """(line, level) of ``fo``'s lines with units still to ship (``unshipped``: line id
    -> units) whose stock at its location is at or below
    ``limits.backorder_available_at_most``: the lines the BACKORDERED exception names
    and the timeline's backorder entries tell of."""
    lines = {line.id: line for line in order.lines}
    short = []
    for line_id in unshipped:
        line = lines.get(line_id)
        item = stock.get(line.sku) if line else None
        levels = item.levels if item else []
        level = next((lv for lv in levels if lv.location_id == fo.location.id), None)
        if line and level and level.available <= limits.backorder_available_at_most:
            short.append((line, level))
    return short


def _backordered(f: _Facts) -> Iterator[OrderException]:
    for subject, detected_at, evidence, short in _backorders(f):
        yield _backorder(f.now, subject, detected_at, evidence, short)


def _backorders(
    f: _Facts,
) -> Iterator[tuple[Subject, datetime, list[tuple[str, str | None]], _Short]]:
    """An out-of-stock hold (per FO) or, without one, each unshipped line with no
    stock: what each BACKORDERED is about, since when, its evidence and its lines."""
    for fo in f.live_fos:
        short = short_lines(f.order, fo, f.unshipped.get(fo.id, {}), f.stock, f.limits)
        hold = next((h for h in fo.holds if h.reason is HoldReason.INVENTORY_OUT_OF_STOCK), None)
        if hold is not None:
            yield Subject("fulfillment_order", fo.id), hold.held_at, _hold_evidence(fo, hold), short
        else:
            for line, level in short:
                yield Subject("line", line.id), level.as_of, [], [(line, level)]


def _restock_at(short: _Short) -> datetime | None:
    """The latest expected restock among ``short``'s lines that give one."""
    return max(
        (lv.incoming_expected_at for *_, lv in short if lv.incoming_expected_at), default=None
    )


def _backorder(
    now: datetime,
    subject: Subject,
    detected_at: datetime,
    evidence: list[tuple[str, str | None]],
    short: _Short,
) -> OrderException:
    facts = [*evidence]
    for line, level in short:
        facts += [
            ("inventory.sku", line.sku),
            ("inventory.location_id", level.location_id),
            ("inventory.available", str(level.available)),
            ("inventory.incoming", str(level.incoming)),
            ("inventory.incoming_expected_at", _iso(level.incoming_expected_at)),
            ("inventory.as_of", _iso(level.as_of)),
        ]
    restock = _restock_at(short)
    message = "An item in your order is temporarily out of stock. " + (
        f"It should be back in stock around {customer_day(restock)}, and we'll send it then."
        if restock and restock > now  # a date gone by is no promise to repeat
        else "We'll send it as soon as it's back."
    )
    return _exception(ExceptionCode.BACKORDERED, subject, detected_at, facts, message)


def _awaiting_warehouse(f: _Facts) -> list[FulfillmentOrder]:
    """Live fulfillment orders with units a warehouse has yet to ship."""
    return [fo for fo in f.live_fos if fo.status in AWAITING_SHIPMENT and f.unshipped.get(fo.id)]


def _warehouse_delay(f: _Facts) -> Iterator[OrderException]:
    due = f.order.placed_at + f.limits.warehouse_ship_within
    if f.now < due:
        return
    for fo in _awaiting_warehouse(f):
        yield _exception(
            ExceptionCode.WAREHOUSE_DELAY,
            Subject("fulfillment_order", fo.id),
            due,
            [
                ("oms.fulfillment_order.status", fo.status.value),
                ("oms.placed_at", _iso(f.order.placed_at)),
                ("oms.fulfillment_order.location_id", fo.location.id),
            ],
            "Your order is taking longer than usual to leave our warehouse. We're looking into it.",
        )


def _arrived(f: _Facts) -> bool:
    """Every unit still wanted has met the promise: delivered (per the OMS's counters or
    a parcel the carrier delivered) or in a parcel waiting at a pickup point. Decided
    from the units, not the status: one parcel delivered and one at a pickup point is
    PARTIALLY_DELIVERED, yet has arrived."""
    at_destination = [p.shipment.id for p in f.parcels if p.milestone in _ARRIVED]
    return OrderProgress.of(f.order, at_destination).delivered >= f.progress.active


def _unarrived_status(f: _Facts) -> CustomerOrderStatus | None:
    """The order's status while it may still be late: ``None`` once it arrived, or
    while a carrier we could not ask may know it has."""
    unknown = any(
        s.tracking_number and s.tracking_number not in f.trackings for s in f.order.shipments
    )
    return None if unknown or _arrived(f) else derive_customer_status(f.order, f.trackings)


def _late(f: _Facts) -> Iterator[OrderException]:
    if f.promise is None or f.now <= f.promise[1]:
        return
    status = _unarrived_status(f)
    if status is None:
        return
    yield _exception(
        ExceptionCode.LATE,
        _order_subject(f),
        f.promise[1],
        [("oms.promised_delivery.latest", _iso(f.promise[1])), ("order.status", status.value)],
        f"Your order hasn't arrived by {customer_day(f.promise[1])} as we promised. We're sorry, "
        "and we're looking into it.",
    )


def _partial_shipment(f: _Facts) -> Iterator[OrderException]:
    # Shipped counts what the shipments carry as well as the line counters, like the
    # status: a lagging counter must not hide a partial shipment the status shows.
    shipped, active = f.progress.shipped, f.progress.active
    if not 0 < shipped < active:
        return
    first = min((s.shipped_at for s in f.order.shipments), default=f.order.updated_at)
    yield _exception(
        ExceptionCode.PARTIAL_SHIPMENT,
        _order_subject(f),
        first,
        [("oms.lines.shipped", str(shipped)), ("oms.lines.active", str(active))],
        "Part of your order is on its way. The rest will follow in a separate parcel.",
    )


def _record_due(f: _Facts, shipment: Shipment) -> datetime | None:
    """When the carrier's missing record of ``shipment`` becomes a disagreement; ``None``
    without a number, when the carrier was not asked, or when it has a record."""
    number = shipment.tracking_number
    if not number or number not in f.trackings or f.trackings[number] is not None:
        return None
    return shipment.shipped_at + f.limits.carrier_record_grace


def _no_carrier_record(f: _Facts) -> Iterator[OrderException]:
    for shipment in f.order.shipments:
        due = _record_due(f, shipment)
        if due is not None and f.now >= due:
            yield _exception(
                ExceptionCode.SOURCES_DISAGREE,
                Subject("shipment", shipment.id),
                due,
                [
                    ("oms.shipment.tracking_number", shipment.tracking_number),
                    ("oms.shipment.shipped_at", _iso(shipment.shipped_at)),
                    ("carrier.record", "NOT_FOUND"),
                ],
                "Tracking for your parcel isn't available yet. We're checking with the carrier.",
            )


# --- parcel rules ---------------------------------------------------------------------------


def _label_at(p: _Parcel) -> datetime | None:
    """When the label of a parcel the carrier has not collected yet was made."""
    if p.milestone is not ShipmentStatus.LABEL_CREATED:
        return None
    labels = [i for i in p.checkpoints if i.checkpoint.status is ShipmentStatus.LABEL_CREATED]
    return labels[0].latest_at if labels else p.shipment.shipped_at


def _not_picked_up(f: _Facts, p: _Parcel) -> OrderException | None:
    label_at = _label_at(p)
    if label_at is None:
        return None
    age = f.now - label_at
    if age >= f.limits.label_critical:
        severity, after = Severity.CRITICAL, f.limits.label_critical
    elif age >= f.limits.label_warning:
        severity, after = Severity.WARNING, f.limits.label_warning
    else:
        return None
    return _exception(
        ExceptionCode.NOT_PICKED_UP_BY_CARRIER,
        _shipment_subject(p),
        label_at + after,
        [*_carrier_evidence(p), ("carrier.label_created_at", _iso(label_at))],
        "Your parcel is packed, but the carrier hasn't collected it yet. We're looking into it.",
        severity,
    )


def _international(f: _Facts, p: _Parcel) -> bool:
    """Checkpoints or the shipping address in another country than the shipping location."""
    countries = {
        i.checkpoint.location.country_code
        for i in p.checkpoints
        if i.checkpoint.location and i.checkpoint.location.country_code
    }
    if f.order.shipping_address is not None:
        countries.add(f.order.shipping_address.country_code)
    origin = p.fulfillment_order.location.country_code if p.fulfillment_order else None
    return any(c != origin for c in countries) if origin else len(countries) > 1


def _last_scan_at(p: _Parcel) -> datetime:
    """The latest any of the parcel's scans can have happened. A date-only scan counts
    from its day's end, also beside a timed scan of that day (which it sorts before),
    so a carrier that gives only dates never makes a parcel look stuck for longer."""
    return max(item.latest_at for item in p.checkpoints)


def _stalled_at(f: _Facts, p: _Parcel) -> datetime | None:
    """When a parcel in transit counts as stalled if the carrier stays silent; ``None``
    when it is not moving or the carrier already reported why (a delay, a loss)."""
    if p.milestone not in _MOVING or not p.checkpoints or _carrier_reported_reason(p) is not None:
        return None
    days = (
        f.limits.stalled_international_business_days
        if _international(f, p)
        else f.limits.stalled_domestic_business_days
    )
    return add_business_days(_last_scan_at(p), days)


def _stalled(f: _Facts, p: _Parcel) -> OrderException | None:
    """In transit and silent; skipped when the carrier already reported why (a delay, a loss)."""
    stalled_at = _stalled_at(f, p)
    if stalled_at is None or f.now < stalled_at:
        return None
    last_scan = _last_scan_at(p)
    international = _international(f, p)
    return _exception(
        ExceptionCode.STALLED_IN_TRANSIT,
        _shipment_subject(p),
        stalled_at,
        [
            *_carrier_evidence(p),
            ("carrier.last_scan_at", _iso(last_scan)),
            ("route", "international" if international else "domestic"),
        ],
        "Your parcel hasn't had a tracking update for a few days. We're checking with the carrier.",
    )


def _attempted(f: _Facts, p: _Parcel) -> OrderException | None:
    if p.milestone is not ShipmentStatus.DELIVERY_ATTEMPTED:
        return None
    attempts = [
        i.occurred_at
        for i in p.checkpoints
        if i.checkpoint.status is ShipmentStatus.DELIVERY_ATTEMPTED
    ] or [p.tracking.first_attempted_at or p.tracking.updated_at]
    n, critical_at = len(attempts), f.limits.attempts_critical
    if n >= critical_at:
        severity = Severity.CRITICAL
        message = (
            f"The carrier has tried {n} times to deliver your parcel without success. "
            "Please contact us or the carrier to arrange delivery."
        )
    else:
        severity = Severity.WARNING
        message = (
            "The carrier tried to deliver your parcel but couldn't. It will try again, or you "
            "can arrange a new delivery with the carrier."
        )
    return _exception(
        ExceptionCode.DELIVERY_ATTEMPTED,
        _shipment_subject(p),
        attempts[min(n, critical_at) - 1],  # when the attempt that set the severity happened
        [*_carrier_evidence(p), ("carrier.attempts", str(n))],
        message,
        severity,
    )


def _pickup_expired(p: _Parcel) -> TimedCheckpoint | None:
    """The carrier's scan saying the pickup hold expired, if any."""
    return next(
        (i for i in p.checkpoints if _checkpoint_sub_status(i) is ShipmentSubStatus.NOT_COLLECTED),
        None,
    )


def _uncollected_at(f: _Facts, p: _Parcel) -> datetime:
    """When a parcel waiting at a pickup point has waited too long: counted from the
    latest it can have arrived there. A date-only ready scan spans its day, so it counts
    from its day's end (as :func:`_label_at` and :func:`_last_scan_at` do); a timed
    ready scan that day, which it sorts before, counts from its own time."""
    ready = [
        i.latest_at for i in p.checkpoints if i.checkpoint.status is ShipmentStatus.READY_FOR_PICKUP
    ]
    ready_at = min(ready) if ready else p.tracking.updated_at
    return ready_at + f.limits.pickup_uncollected_after


def _waiting_for_pickup(p: _Parcel) -> bool:
    """Waiting at a pickup point, with no word from the carrier that the hold expired."""
    return p.milestone is ShipmentStatus.READY_FOR_PICKUP and _pickup_expired(p) is None


def _not_collected(f: _Facts, p: _Parcel) -> OrderException | None:
    """The carrier says the pickup hold expired, or the parcel has waited too long."""
    if p.milestone is ShipmentStatus.DELIVERED:
        return None
    expired = _pickup_expired(p)
    ready_at = _first_at(p, [ShipmentStatus.READY_FOR_PICKUP])
    if expired is not None:
        detected_at = expired.occurred_at
        message = (
            "Your parcel wasn't collected from the pickup point in time. Contact us and we'll "
            "help arrange a new delivery."
        )
    elif p.milestone is ShipmentStatus.READY_FOR_PICKUP:
        detected_at = _uncollected_at(f, p)
        if f.now < detected_at:
            return None
        message = (
            "Your parcel is waiting for you at the pickup point. Please collect it soon, or it "
            "will be sent back to us."
        )
    else:
        return None
    return _exception(
        ExceptionCode.PICKUP_NOT_COLLECTED,
        _shipment_subject(p),
        detected_at,
        [*_carrier_evidence(p), ("carrier.ready_for_pickup_at", _iso(ready_at))],
        message,
    )


def _returning(f: _Facts, p: _Parcel) -> OrderException | None:
    if p.milestone not in REVERSALS:
        return None
    since = _first_at(p, REVERSALS) or p.tracking.updated_at
    return _exception(
        ExceptionCode.RETURNING_TO_SENDER,
        _shipment_subject(p),
        since,
        _carrier_evidence(p),
        "Your parcel couldn't be delivered and is on its way back to us. We'll contact you "
        "about a new delivery or a refund.",
    )


# Carrier-reported reasons (the tracking's current sub-status) that are exceptions.
_CARRIER_REASONS: dict[ShipmentSubStatus, tuple[ExceptionCode, str]] = {
    ShipmentSubStatus.CUSTOMS_DELAY: (
        ExceptionCode.CARRIER_DELAY,
        "Your parcel is being held at customs. It will continue once it's cleared.",
    ),
    ShipmentSubStatus.WEATHER_DELAY: (
        ExceptionCode.CARRIER_DELAY,
        "Bad weather is slowing down your parcel. It will continue as soon as it's safe.",
    ),
    ShipmentSubStatus.UNFORESEEN_DELAY: (
        ExceptionCode.CARRIER_DELAY,
        "The carrier has reported a delay with your parcel. We're keeping an eye on it.",
    ),
    ShipmentSubStatus.INCORRECT_ADDRESS: (
        ExceptionCode.ADDRESS_ISSUE,
        "The carrier couldn't deliver your parcel to the address given. Please contact us so "
        "we can correct it.",
    ),
    ShipmentSubStatus.LOST: (
        ExceptionCode.LOST_OR_DAMAGED,
        "The carrier can't locate your parcel. We're sorry, and we'll contact you to put it right.",
    ),
    ShipmentSubStatus.DAMAGED: (
        ExceptionCode.LOST_OR_DAMAGED,
        "Your parcel was damaged in transit. We're sorry, and we'll contact you to put it right.",
    ),
}


def _carrier_reported_reason(p: _Parcel) -> ShipmentSubStatus | None:
    """The tracking's current sub-status when it is one of the exception reasons."""
    if p.milestone is ShipmentStatus.DELIVERED:
        return None
    reason = sub_status(p.tracking.subtag, p.tracking.message)
    return reason if reason in _CARRIER_REASONS else None


def _carrier_reported(f: _Facts, p: _Parcel) -> OrderException | None:
    reason = _carrier_reported_reason(p)
    if reason is None:
        return None
    code, message = _CARRIER_REASONS[reason]
    since = p.tracking.updated_at  # fallback when the feed's last event is out of order
    for item in reversed(p.checkpoints):  # the start of the latest run of this reason
        if _checkpoint_sub_status(item) is not reason:
            break
        since = item.occurred_at
    return _exception(
        code,
        _shipment_subject(p),
        since,
        [*_carrier_evidence(p), ("carrier.sub_status", reason.value)],
        message,
    )


def _estimated_after_promise(f: _Facts, p: _Parcel) -> bool:
    """The carrier's latest estimate for a parcel still on its way ends on a later day
    than the promised one, both days at the destination: the estimate is in its local
    time, and the promise's latest instant is read in the same offset."""
    window = p.tracking.latest_estimated_delivery
    settled = p.milestone in _ARRIVED or p.milestone in REVERSALS
    if f.promise is None or window is None or settled:
        return False
    promised_day = f.promise[1].astimezone(window.latest.tzinfo).date()
    return window.latest.date() > promised_day


def _predicted_late(f: _Facts, p: _Parcel) -> OrderException | None:
    """The carrier's latest estimate ends on a later day than the promised one; LATE
    takes over once the promise has passed."""
    window = p.tracking.latest_estimated_delivery
    if f.promise is None or window is None or not _estimated_after_promise(f, p):
        return None
    if f.now > f.promise[1]:
        return None
    return _exception(
        ExceptionCode.PREDICTED_LATE,
        _shipment_subject(p),
        p.tracking.updated_at,
        [
            *_carrier_evidence(p),
            ("carrier.latest_estimated_delivery.latest", _iso(window.latest)),
            ("oms.promised_delivery.latest", _iso(f.promise[1])),
        ],
        f"Your parcel is now expected around {customer_day(window.latest)}, later than we first "
        "promised. Sorry for the wait.",
    )


def _oms_delivered(order: Order, shipment: Shipment) -> bool:
    """Every line this shipment carries is fully delivered per the OMS quantities."""
    quantities = {line.id: line.quantities for line in order.lines}
    carried = [quantities.get(part.line_id) for part in shipment.lines]
    return bool(carried) and all(q is not None and 0 < q.shipped <= q.delivered for q in carried)


def _delivered_disagreement(f: _Facts, p: _Parcel) -> OrderException | None:
    if p.milestone is ShipmentStatus.DELIVERED or not _oms_delivered(f.order, p.shipment):
        return None
    fo = p.fulfillment_order
    return _exception(
        ExceptionCode.SOURCES_DISAGREE,
        _shipment_subject(p),
        fo.updated_at if fo else f.order.updated_at,  # when the OMS last changed it
        [*_carrier_evidence(p), ("oms.shipment.delivered", "true")],
        "We're confirming the delivery of your parcel with the carrier.",
    )


# --- tickets and the entry points ---------------------------------------------------------


def _reply_due(f: _Facts, ticket: Ticket) -> datetime | None:
    """When a ticket awaiting our reply misses the response SLA."""
    if ticket.status not in AWAITING_OUR_REPLY:
        return None
    return ticket.updated_at + f.limits.ticket_response_sla


def _unanswered(f: _Facts, found: Sequence[OrderException]) -> Iterator[OrderException]:
    """A critical exception nobody has a ticket open for, or a ticket left without reply."""
    if f.tickets is None:
        return
    critical = [e for e in found if e.severity is Severity.CRITICAL]
    if critical and not any(t.status in UNRESOLVED for t in f.tickets):
        first = min(critical, key=lambda e: e.detected_at)
        yield _exception(
            ExceptionCode.UNANSWERED_TICKET,
            _order_subject(f),
            first.detected_at,
            [*(("exception.code", e.code.value) for e in critical), ("tickets.open", "0")],
            None,
        )
    for ticket in f.tickets:
        due = _reply_due(f, ticket)
        if due is not None and f.now >= due:
            yield _exception(
                ExceptionCode.UNANSWERED_TICKET,
                _order_subject(f),
                due,
                [
                    ("ticket.id", ticket.id),
                    ("ticket.status", ticket.status.value),
                    ("ticket.updated_at", _iso(ticket.updated_at)),
                ],
                None,
            )


_ORDER_RULES: tuple[Callable[[_Facts], Iterable[OrderException]], ...] = (
    _holds,
    _unpaid,
    _backordered,
    _warehouse_delay,
    _late,
    _partial_shipment,
    _no_carrier_record,
)
_PARCEL_RULES: tuple[Callable[[_Facts, _Parcel], OrderException | None], ...] = (
    _not_picked_up,
    _stalled,
    _attempted,
    _not_collected,
    _returning,
    _carrier_reported,
    _predicted_late,
    _delivered_disagreement,
)


def _sort_key(e: OrderException) -> tuple[int, float, str, str]:
    return (-SEVERITY_RANK[e.severity], -e.detected_at.timestamp(), e.code.value, e.subject.id)


def detect_exceptions(
    order: Order,
    trackings: Mapping[str, Tracking | None],
    stock: Mapping[str, InventoryItem | None],
    tickets: Sequence[Ticket] | None,
    *,
    now: datetime,
    thresholds: Thresholds = Thresholds(),
) -> list[OrderException]:
    """Every exception of ``order`` at ``now``, most severe first, then newest first.

    ``trackings`` maps tracking numbers to the carrier's record (None: the carrier has
    none; absent: it could not be asked); ``stock`` maps SKUs to inventory items;
    ``tickets`` are the order's tickets (None: the ticketing source could not be read).
    """
    f = _live_facts(order, trackings, stock, tickets, now, thresholds)
    if f is None:
        return []
    found = [e for rule in _ORDER_RULES for e in rule(f)]
    found += [e for p in f.parcels for rule in _PARCEL_RULES if (e := rule(f, p)) is not None]
    found += _unanswered(f, found)
    return sorted(found, key=_sort_key)


# A rule that holds strictly after an instant (LATE once the promise has passed) first
# answers differently this much later: the clock's resolution.
_JUST_AFTER = timedelta(microseconds=1)


def next_change_at(
    order: Order,
    trackings: Mapping[str, Tracking | None],
    stock: Mapping[str, InventoryItem | None],
    tickets: Sequence[Ticket] | None,
    *,
    now: datetime,
    thresholds: Thresholds = Thresholds(),
) -> datetime | None:
    """The first instant after ``now`` at which :func:`detect_exceptions` may answer
    differently for the same records (UTC), or ``None`` if time alone changes nothing.

    Its answer only moves when a time-based rule crosses its threshold: a ship-by or
    delivery promise passes, a label waits past 2 or 5 days, a parcel stays silent
    past its stall, a pickup past its collection time, a missing carrier record past
    its grace, a ticket past its response SLA. Each threshold counts only while its
    rule's other conditions hold, so a cancelled order, and an arrived one without a
    ticket awaiting a reply, have none.
    """
    f = _live_facts(order, trackings, stock, tickets, now, thresholds)
    if f is None:
        return None
    upcoming = [moment for moment in _thresholds(f) if moment > now]
    return min(upcoming).astimezone(UTC) if upcoming else None


def _thresholds(f: _Facts) -> Iterator[datetime]:
    """Where each time-based rule's answer turns, given the records (past ones too)."""
    if _awaiting_warehouse(f):
        yield f.order.placed_at + f.limits.warehouse_ship_within
    if f.promise is not None and (
        _unarrived_status(f) is not None or any(_estimated_after_promise(f, p) for p in f.parcels)
    ):
        yield f.promise[1] + _JUST_AFTER  # LATE begins, PREDICTED_LATE ends
    for shipment in f.order.shipments:
        if (due := _record_due(f, shipment)) is not None:
            yield due
    for p in f.parcels:
        if (label_at := _label_at(p)) is not None:
            yield label_at + f.limits.label_warning
            yield label_at + f.limits.label_critical
        if (stalled_at := _stalled_at(f, p)) is not None:
            yield stalled_at
        if _waiting_for_pickup(p):
            yield _uncollected_at(f, p)
    for ticket in f.tickets or ():
        if (due := _reply_due(f, ticket)) is not None:
            yield due
    for *_, short in _backorders(f):
        if (restock := _restock_at(short)) is not None:
            yield restock  # a BACKORDERED message stops naming a day gone by


def order_health(exceptions: Iterable[OrderException], *, include_internal: bool = False) -> Health:
    """The worst health among ``exceptions`` (ON_TRACK without any).

    Internal exceptions count only with ``include_internal`` (agent consoles), so they
    never change what a customer channel shows.
    """
    return max(
        (e.health for e in exceptions if include_internal or not e.internal),
        key=_HEALTH_RANK.__getitem__,
        default=Health.ON_TRACK,
    )
