"""Help-desk tickets: how likely an order of each scenario is to have some, on which
topic, and whether the conversation is still going."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import NamedTuple

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
    about = _TOPICS[topic]
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
        prio = _PRIORITIES[min(_PRIORITIES.index(about.priority) + min(i, 2), len(_PRIORITIES) - 1)]
        subject = r.choice(about.subjects).format(n=number)
        if i > 0 and ongoing:
            subject = f"Still waiting: {subject}"
        channel = (
            TicketChannel.WEB
            if about.type is TicketType.TASK
            else r.choices(list(TicketChannel), weights=(45, 25, 10, 20))[0]
        )
        tags_out = [*about.tags, f"order_{number}"] if r.random() < 0.7 else list(about.tags)
        ticket = Ticket(
            id="",  # numbered in creation order by number_tickets
            order_id=order_id,
            status=status,
            priority=prio,
            type=about.type,
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


class _Topic(NamedTuple):
    """The tickets opened on one topic: the subjects they draw from (``{n}``: the order
    number), their tags, their type and the first one's priority (each follow-up is a step
    more urgent). Type and priority default to a new ticket's
    (:class:`~sources.records.CreateTicketRequest`)."""

    subjects: tuple[str, ...]
    tags: tuple[str, ...]
    type: TicketType = TicketType.QUESTION
    priority: TicketPriority = TicketPriority.NORMAL


_TOPICS: dict[str, _Topic] = {
    "question": _Topic(
        ("Question about order #{n}", "Invoice request for order #{n}", "Gift receipt for #{n}"),
        ("question",), priority=TicketPriority.LOW,
    ),
    "change": _Topic(
        ("Change shipping address on order #{n}", "Can I add an item to order #{n}?"),
        ("order-change",),
    ),
    "wismo": _Topic(
        ("Where is my order #{n}?", "Order #{n} not delivered yet", "No tracking update, #{n}"),
        ("wismo",),
    ),
    "backorder": _Topic(
        ("When will order #{n} ship?", "Backordered item on order #{n}"),
        ("backorder",),
    ),
    "payment": _Topic(
        ("Payment for order #{n} pending", "Bank transfer details for order #{n}"),
        ("payment",),
    ),
    "fraud": _Topic(
        ("Fraud review: order #{n}", "Verify customer identity for order #{n}"),
        ("fraud-review",), type=TicketType.TASK, priority=TicketPriority.HIGH,
    ),
    "address": _Topic(
        ("Wrong address on order #{n}", "Please correct the delivery address for order #{n}"),
        ("address",), type=TicketType.INCIDENT,
    ),
    "cancel": _Topic(
        ("Refund for cancelled order #{n}", "Why was my order #{n} cancelled?"),
        ("cancellation", "refund"),
    ),
    "item_cancelled": _Topic(
        ("Item removed from order #{n}", "Missing item in order #{n}"),
        ("item-cancelled",),
    ),
    "customs": _Topic(
        ("Order #{n} stuck in customs", "Import duties for order #{n}?"),
        ("customs", "carrier-delay"), type=TicketType.INCIDENT,
    ),
    "delay": _Topic(
        ("Order #{n} is delayed", "Delivery date for order #{n} keeps moving"),
        ("carrier-delay",), type=TicketType.INCIDENT,
    ),
    "missed": _Topic(
        ("Missed delivery for order #{n}", "Can you redeliver order #{n}?"),
        ("missed-delivery",),
    ),
    "carrier_address": _Topic(
        ("Carrier says my address is wrong (order #{n})", "Delivery exception on order #{n}"),
        ("address", "carrier-exception"), type=TicketType.INCIDENT, priority=TicketPriority.HIGH,
    ),
    "rts": _Topic(
        ("Order #{n} is going back to the sender?", "Please reship order #{n}"),
        ("return-to-sender",), type=TicketType.INCIDENT, priority=TicketPriority.HIGH,
    ),
    "lost": _Topic(
        ("Order #{n} lost in transit", "Package for #{n} never arrived", "Lost package claim #{n}"),
        ("lost-package", "claim"), type=TicketType.INCIDENT, priority=TicketPriority.HIGH,
    ),
    "pickup": _Topic(
        ("Pickup for order #{n}", "Can't collect order #{n} in time"),
        ("pickup",),
    ),
    "not_scanned": _Topic(
        ("Tracking for order #{n} hasn't moved", "Has order #{n} actually shipped?"),
        ("wismo", "label-not-scanned"),
    ),
    "return": _Topic(
        ("Return for order #{n}", "Refund status for returned items (order #{n})"),
        ("return", "refund"),
    ),
    "partial": _Topic(
        ("Only part of order #{n} arrived", "Where is the rest of order #{n}?"),
        ("split-shipment",),
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
