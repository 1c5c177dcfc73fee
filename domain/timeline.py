"""One order's history: every dated fact the sources hold, merged in time order.

Pure functions over ``sources.records``, table-tested in tests/unit/test_timeline.py.
Where the records hold no time for a fact, the choice is made here:

- PAID: the OMS keeps no payment time. A captured payment (PAID, PARTIALLY_REFUNDED,
  REFUNDED) is dated at placement, as checkout captures automatically, unless an
  AWAITING_PAYMENT hold shows the money came later, at an unknown time: then no event.
- RETURNED: the OMS keeps returned quantities, not return times. Returned lines are
  dated at ``order.updated_at``, the latest moment the OMS can have recorded them.
- TICKET_ANSWERED: ticketing keeps no reply status history; a PENDING ticket waits on
  the requester after an agent's reply, so it is dated at the ticket's ``updated_at``.
- TICKET_COMMENTED: every comment at its own time, internal notes included, but the
  description a ticket is opened with (dated with the ticket: TICKET_OPENED tells it).
- BACKORDERED and RESTOCK_EXPECTED: only for a line still waiting on stock (unshipped
  on a live fulfillment order whose location is oversold, the BACKORDERED exception's
  rule): the inventory source keeps its current state, not what earlier waits were.
  The line went backordered when the level became oversold (``oversold_since``), or at
  placement if that was later; no entry when the source does not say. Each expected
  restock date of its ``restock_history`` is an entry when it was set: the one already
  in force when the line went backordered is dated then.
- RELEASED, EDITED, ADDRESS_CHANGED and single-line cancellations are never emitted:
  no record dates them.

Times: an entry the gateway derives from a record's state (OMS, inventory, ticketing)
is dated in UTC, while a carrier checkpoint keeps the local offset the carrier scanned it
with.

Keys: each names its fact, never its place in a list or a status or time that moves
(a hold by its fulfillment order, reason and start; a ticket's last status change,
answered or solved, once per ticket). An event's ``position`` (time, then source, kind
and key) orders the timeline; a cursor holds it.

Visibility: fraud holds and every ticket event are INTERNAL. Tickets are agents'
working material (subjects written by agents, tags, requesters who may not be the
customer), and the requester already has the conversation by email or chat.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from domain.carrier_events import in_time_order
from domain.exception_rules import Thresholds, customer_day, short_lines
from domain.progress import OrderProgress
from domain.status import INTERNAL_HOLDS, latest_estimate
from domain.tickets import RESOLVED
from sources.records import (
    CancelReason,
    CheckpointLocation,
    FinancialStatus,
    FulfillmentHold,
    HoldReason,
    InventoryItem,
    InventoryLevel,
    Order,
    OrderLine,
    Shipment,
    ShipmentStatus,
    Ticket,
    TicketStatus,
    Tracking,
)


class EventSource(enum.Enum):
    OMS = "OMS"
    INVENTORY = "INVENTORY"
    CARRIER = "CARRIER"
    TICKETING = "TICKETING"


class EventKind(enum.Enum):
    """What happened; declared in lifecycle order, which breaks ties between one source's
    events at one instant (events of several sources there go by source first)."""

    PLACED = "PLACED"
    PAID = "PAID"  # the capture, dated at placement: no payment time is kept
    BACKORDERED = "BACKORDERED"  # a waiting line's location went oversold
    HELD = "HELD"
    RELEASED = "RELEASED"  # not emitted: no record dates it
    EDITED = "EDITED"  # not emitted: no record dates it
    ADDRESS_CHANGED = "ADDRESS_CHANGED"  # not emitted: no record dates it
    SHIPPED = "SHIPPED"
    TRACKING = "TRACKING"  # a carrier checkpoint other than an attempt or a delivery
    DELIVERY_ATTEMPTED = "DELIVERY_ATTEMPTED"
    DELIVERED = "DELIVERED"
    TICKET_OPENED = "TICKET_OPENED"
    TICKET_ANSWERED = "TICKET_ANSWERED"  # an agent replied: it waits on the requester
    TICKET_COMMENTED = "TICKET_COMMENTED"
    TICKET_SOLVED = "TICKET_SOLVED"  # solved or closed
    CANCELLED = "CANCELLED"
    RETURNED = "RETURNED"  # returned units received, dated at the order's last update
    RESTOCK_EXPECTED = "RESTOCK_EXPECTED"  # a waiting line's expected restock date, as set


class Visibility(enum.Enum):
    CUSTOMER = "CUSTOMER"  # everyone who may see the order
    INTERNAL = "INTERNAL"  # agents and staff keys only


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    source: EventSource
    kind: EventKind
    message: str  # customer-friendly when CUSTOMER, may be technical when INTERNAL
    visibility: Visibility
    subject_id: str | None  # the shipment, ticket, fulfillment order or line concerned
    key: str  # unique within the order; names the fact, not its place or its state
    date_only: bool = False  # the carrier gave a day only: ``at`` is its start (UTC)

    @property
    def position(self) -> Position:
        """Where the event stands in its timeline (``sort_position``)."""
        return sort_position(self.at, self.source, self.kind, self.key)


Position = tuple[datetime, int, int, str]


def sort_position(at: datetime, source: EventSource, kind: EventKind, key: str) -> Position:
    """Where an event with these fields stands in a timeline: by time, ties by source,
    then kind (lifecycle order), then key, so the order never depends on how a source
    listed its records."""
    return at, _SOURCE_RANK[source], _KIND_RANK[kind], key


_CAPTURED = frozenset(
    {FinancialStatus.PAID, FinancialStatus.PARTIALLY_REFUNDED, FinancialStatus.REFUNDED}
)
_HOLD_MESSAGES: dict[HoldReason, str] = {
    HoldReason.AWAITING_PAYMENT: "We are waiting for your payment",
    HoldReason.INCORRECT_ADDRESS: "We need to confirm your delivery address",
    HoldReason.INVENTORY_OUT_OF_STOCK: "An item is back-ordered: it ships when back in stock",
    HoldReason.UNKNOWN_DELIVERY_DATE: "We are confirming your delivery date",
    HoldReason.OTHER: "Your order is on hold: we will update you soon",
}
_CANCEL_MESSAGES: dict[CancelReason | None, str] = {
    CancelReason.CUSTOMER: "Order cancelled at your request",
    CancelReason.DECLINED: "Order cancelled: the payment was declined",
    CancelReason.FRAUD: "Order cancelled: we could not verify the payment",
    CancelReason.INVENTORY: "Order cancelled: the items are out of stock",
    CancelReason.STAFF: "Order cancelled by our team",
}
_CARRIER_KINDS = {
    ShipmentStatus.DELIVERY_ATTEMPTED: EventKind.DELIVERY_ATTEMPTED,
    ShipmentStatus.DELIVERED: EventKind.DELIVERED,
}
_LIMITS = Thresholds()  # the exception rules' defaults, as the resolvers use them
_SOURCE_RANK = {source: rank for rank, source in enumerate(EventSource)}
_KIND_RANK = {kind: rank for rank, kind in enumerate(EventKind)}


def build_timeline(
    order: Order,
    trackings: Mapping[str, Tracking | None],
    tickets: Sequence[Ticket] | None,
    stock: Mapping[str, InventoryItem | None] | None = None,
) -> list[TimelineEvent]:
    """Every event of ``order``, oldest first.

    ``trackings`` maps tracking numbers to carrier records, ``tickets`` are the
    order's tickets and ``stock`` maps SKUs to inventory items; a tracking or SKU that
    is absent or ``None``, ``tickets=None`` and ``stock=None`` simply contribute nothing.
    Ties at one instant go by source, then kind (lifecycle order), then key
    (``sort_position``).
    """
    events = [
        *_oms_events(order),
        *_inventory_events(order, stock or {}),
        *_carrier_events(order, trackings),
        *_ticket_events(tickets),
    ]
    events.sort(key=lambda e: e.position)
    return events


def visible_to(events: Iterable[TimelineEvent], *, internal: bool) -> list[TimelineEvent]:
    """The events a caller may see: app and partner keys (``internal=False``) see
    CUSTOMER events only."""
    return [e for e in events if internal or e.visibility is Visibility.CUSTOMER]


def previous_estimate(
    order: Order, trackings: Mapping[str, Tracking | None]
) -> tuple[datetime, datetime] | None:
    """The carrier's first estimated window for the shipment whose estimate
    ``latest_estimate`` shows, when it has moved since ("was Tuesday, now Thursday").

    ``None`` when no undelivered shipment has an estimate, or it never moved.
    """
    shown = latest_estimate(order, trackings)
    if shown is None:
        return None
    for shipment in order.shipments:
        number = shipment.tracking_number or ""
        tracking = trackings.get(number)
        # Restricting the mapping to this one tracking reuses latest_estimate's own
        # rule (undelivered, has an estimate); the first match is the one it picked.
        if tracking is None or latest_estimate(order, {number: tracking}) != shown:
            continue
        first = tracking.first_estimated_delivery
        if first is None or (first.earliest, first.latest) == shown:
            return None
        return first.earliest, first.latest
    return None


def _oms_events(order: Order) -> Iterator[TimelineEvent]:
    def event(
        at: datetime,
        kind: EventKind,
        message: str,
        key: str,
        subject_id: str | None = None,
        visibility: Visibility = Visibility.CUSTOMER,
    ) -> TimelineEvent:
        return TimelineEvent(
            at.astimezone(UTC), EventSource.OMS, kind, message, visibility, subject_id, f"oms:{key}"
        )

    yield event(order.placed_at, EventKind.PLACED, f"Order #{order.number} placed", "placed")
    # A hold has no id of its own: its fulfillment order, reason and start name it (the
    # same three twice are one hold listed twice), not its place in the list, which a
    # release of an earlier hold would shift.
    holds: dict[str, tuple[str, FulfillmentHold]] = {}
    for fo in order.fulfillment_orders:
        for hold in fo.holds:
            since = hold.held_at.astimezone(UTC).isoformat()
            holds.setdefault(f"hold:{fo.id}:{hold.reason.value}:{since}", (fo.id, hold))
    if order.financial_status in _CAPTURED and not any(
        hold.reason is HoldReason.AWAITING_PAYMENT for _, hold in holds.values()
    ):
        yield event(order.placed_at, EventKind.PAID, "Payment received", "paid")
    for key, (fo_id, hold) in holds.items():
        visibility = Visibility.INTERNAL if hold.reason in INTERNAL_HOLDS else Visibility.CUSTOMER
        if hold.reason is HoldReason.HIGH_RISK_OF_FRAUD:
            note = f": {hold.note}" if hold.note else ""
            message = f"Fulfillment order {fo_id} held for fraud review{note}"
        else:
            message = _HOLD_MESSAGES[hold.reason]
        yield event(hold.held_at, EventKind.HELD, message, key, fo_id, visibility)
    for shipment in order.shipments:
        yield event(
            shipment.shipped_at,
            EventKind.SHIPPED,
            _shipped_message(shipment),
            f"shipment:{shipment.id}",
            shipment.id,
        )
    if order.cancelled_at is not None:
        message = _CANCEL_MESSAGES.get(order.cancel_reason, "Order cancelled")
        yield event(order.cancelled_at, EventKind.CANCELLED, message, "cancelled")
    for line in order.lines:
        if line.quantities.returned > 0:
            message = (
                f"We received your return of {line.name} (quantity {line.quantities.returned})"
            )
            yield event(
                order.updated_at, EventKind.RETURNED, message, f"returned:{line.id}", line.id
            )


def _shipped_message(shipment: Shipment) -> str:
    if shipment.tracking_number:
        return f"Your package is on its way (tracking number {shipment.tracking_number})"
    return "Your package is on its way"


def _waiting_lines(
    order: Order, stock: Mapping[str, InventoryItem | None]
) -> Iterator[tuple[str, OrderLine, InventoryLevel]]:
    """(fulfillment order id, line, level) of every line with unshipped units on a live
    fulfillment order whose location is oversold (the BACKORDERED exception's rule)."""
    progress = OrderProgress.of(order)
    for fo in progress.unfinished:
        for line, level in short_lines(order, fo, progress.unshipped[fo.id], stock, _LIMITS):
            yield fo.id, line, level


def _inventory_events(
    order: Order, stock: Mapping[str, InventoryItem | None]
) -> Iterator[TimelineEvent]:
    """When each waiting line went backordered and each expected restock date since."""

    def event(at: datetime, kind: EventKind, message: str, key: str, line_id: str) -> TimelineEvent:
        return TimelineEvent(
            at.astimezone(UTC),
            EventSource.INVENTORY,
            kind,
            message,
            Visibility.CUSTOMER,
            line_id,
            f"inventory:{key}",
        )

    for fo_id, line, level in _waiting_lines(order, stock):
        since = order.placed_at
        if level.oversold_since is not None:
            since = max(since, level.oversold_since)
            message = f"{line.name} is out of stock: we will send it when it is back"
            yield event(since, EventKind.BACKORDERED, message, f"{fo_id}:{line.id}", line.id)
        history = level.restock_history
        # the expectation in force when the wait began, and every later one
        in_force = max((n for n, e in enumerate(history) if e.set_at <= since), default=0)
        for n in range(in_force, len(history)):
            expected = history[n]
            day = customer_day(expected.expected_at)
            if n == in_force:
                message = f"{line.name} should be back in stock around {day}"
            else:
                was = customer_day(history[n - 1].expected_at)
                message = f"{line.name}: the restock moved from {was} to {day}"
            key = f"{fo_id}:{line.id}:restock:{expected.set_at.isoformat()}"
            yield event(
                max(expected.set_at, since), EventKind.RESTOCK_EXPECTED, message, key, line.id
            )


def _carrier_events(
    order: Order, trackings: Mapping[str, Tracking | None]
) -> Iterator[TimelineEvent]:
    """Each tracking's checkpoints once, even when several shipments share its number."""
    subjects: dict[str, str] = {}
    for shipment in order.shipments:
        if shipment.tracking_number:
            subjects.setdefault(shipment.tracking_number, shipment.id)
    for number, shipment_id in subjects.items():
        tracking = trackings.get(number)
        if tracking is None:
            continue
        for timed in in_time_order(tracking.checkpoints):
            checkpoint = timed.checkpoint
            # Content, not position, names a checkpoint: a late, earlier event must not
            # renumber the ones a client has already paged past. Its place and subtag
            # too: the same message on one day at two hubs is two scans.
            identity = repr(checkpoint)
            yield TimelineEvent(
                at=timed.occurred_at,
                source=EventSource.CARRIER,
                kind=_CARRIER_KINDS.get(checkpoint.status, EventKind.TRACKING),
                message=_with_place(checkpoint.message, checkpoint.location),
                visibility=Visibility.CUSTOMER,
                subject_id=shipment_id,
                key=f"carrier:{number}:{_digest(identity)}",
                date_only=timed.date_only,
            )


def _with_place(message: str, location: CheckpointLocation | None) -> str:
    if location is None or not location.city:
        return message
    area = location.region or location.country_code
    return f"{message} ({location.city}, {area})" if area else f"{message} ({location.city})"


def _digest(text: str) -> str:
    return hashlib.blake2s(text.encode(), digest_size=8).hexdigest()


def _ticket_events(tickets: Sequence[Ticket] | None) -> Iterator[TimelineEvent]:
    for ticket in tickets or ():
        # (when, kind, key suffix): the last status change, answered or solved, is one
        # fact whose kind and time move with the ticket, so its key names neither.
        facts = [(ticket.created_at, EventKind.TICKET_OPENED, "opened")]
        if ticket.status is TicketStatus.PENDING:
            facts.append((ticket.updated_at, EventKind.TICKET_ANSWERED, "status"))
        elif ticket.status in RESOLVED:
            facts.append((ticket.updated_at, EventKind.TICKET_SOLVED, "status"))
        told = []  # (when, kind, what follows "Ticket #id" in the message, key suffix)
        for at, kind, key in facts:
            verb = kind.value.removeprefix("TICKET_").lower()
            told.append((at, kind, f"{verb} ({ticket.status.value}): {ticket.subject}", key))
        told += [
            (
                comment.created_at,
                EventKind.TICKET_COMMENTED,
                f"{'comment' if comment.public else 'internal note'} by {comment.author}",
                f"comment:{comment.id}",
            )
            for comment in ticket.comments or ()  # not read: none told
            if comment.created_at > ticket.created_at  # not the description that opened it
        ]
        for at, kind, message, key in told:
            yield TimelineEvent(
                at=at.astimezone(UTC),
                source=EventSource.TICKETING,
                kind=kind,
                message=f"Ticket #{ticket.id} {message}",
                visibility=Visibility.INTERNAL,
                subject_id=ticket.id,
                key=f"ticket:{ticket.id}:{key}",
            )
