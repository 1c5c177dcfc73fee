"""Help-desk tickets: how likely an order of each scenario is to have some, on which
topic, and whether the conversation is still going."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import msgspec

from sim import catalog as cat
from sim.seed.drafts import OrderDraft
from sim.seed.draw import Draw
from sources.records import Ticket, TicketChannel, TicketPriority, TicketStatus, TicketType


def draft_tickets(draw: Draw, order_id: str, number: str, draft: OrderDraft) -> list[Ticket]:
    """The tickets about one order, not numbered yet (see :func:`number_tickets`)."""
    r = draw.r
    prob, max_n, topic, ongoing = _TICKET_PROFILES[draft.scenario]
    if r.random() >= prob:
        return []
    subjects, ticket_type, tags, priority = _TOPICS[topic]
    n = r.randint(1, max_n)
    parcels = [p.shipped_at for fo in draft.fos for p in fo.parcels]
    start = draft.placed_at + timedelta(minutes=10)
    if parcels and topic not in ("question", "change"):
        start = max(start, min(parcels) + timedelta(hours=12))
    end = draw.ago(0.05)
    start = min(start, end)
    created = sorted((start + (end - start) * r.random()).replace(microsecond=0) for _ in range(n))
    out = []
    for i, at in enumerate(created):
        age = draw.now - at
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
            id="",  # numbered in creation order by number_tickets
            order_id=order_id,
            status=status,
            priority=prio,
            type=ticket_type,
            channel=channel,
            subject=subject,
            tags=tags_out,
            created_at=at,
            updated_at=min(updated, draw.now).replace(microsecond=0),
            url="",
        )
        out.append(ticket)
    return out


def number_tickets(drafts: list[Ticket]) -> dict[str, list[Ticket]]:
    """Number tickets in creation order and group them by order."""
    out: dict[str, list[Ticket]] = defaultdict(list)
    for i, draft in enumerate(sorted(drafts, key=lambda t: (t.created_at, t.order_id))):
        ticket_id = str(cat.FIRST_TICKET_ID + i)
        out[draft.order_id].append(
            msgspec.structs.replace(draft, id=ticket_id, url=cat.ticket_url(ticket_id))
        )
    return dict(out)


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
