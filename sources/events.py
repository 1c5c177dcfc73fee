"""Change events: what a source tells the gateway when its data changed.

Delivered as Standard Webhooks (``POST /webhooks/{source}``, signed over
``id.timestamp.body``); the body is one ``ChangeEvent``. ``tags`` names the cache
entries the change makes stale. ``id`` tells one delivery of a change from another
that says the same (two within one second: senders stamp whole seconds).
"""

from __future__ import annotations

import enum

from sources.records import Instant, Record


class EventType(enum.Enum):
    ORDER_UPDATED = "order.updated"
    ORDER_CANCELLED = "order.cancelled"
    TRACKING_UPDATED = "tracking.updated"
    INVENTORY_CHANGED = "inventory.changed"
    TICKET_UPDATED = "ticket.updated"


# Which source may send which events.
EVENTS_BY_SOURCE: dict[str, frozenset[EventType]] = {
    "oms": frozenset({EventType.ORDER_UPDATED, EventType.ORDER_CANCELLED}),
    "carrier": frozenset({EventType.TRACKING_UPDATED}),
    "inventory": frozenset({EventType.INVENTORY_CHANGED}),
    "ticketing": frozenset({EventType.TICKET_UPDATED}),
}


class ChangeEvent(Record, frozen=True, kw_only=True):
    type: EventType
    occurred_at: Instant
    order_id: str | None = None  # order.*, ticket.* (the ticket's order)
    tracking_number: str | None = None  # tracking.*, in the sender's letter case
    sku: str | None = None  # inventory.*
    ticket_id: str | None = None  # ticket.*
    # Which delivery this is: the webhook delivery's id, the one its receiver
    # de-duplicates by (``sources.webhooks.VerifiedEvent`` sets it, whatever the body
    # says), or a fresh one (``sources.webhooks.new_msg_id``) for a change the gateway
    # makes itself. None only in a notice from an instance that predates ids.
    id: str | None = None

    def tags(self) -> list[str]:
        """Cache tags this change invalidates; empty when the event names nothing."""
        if self.type in (EventType.ORDER_UPDATED, EventType.ORDER_CANCELLED):
            # A new or changed order may enter, leave or move in any list of orders.
            return [order_tag(self.order_id), ORDER_LISTS_TAG] if self.order_id else []
        if self.type is EventType.TRACKING_UPDATED:
            return [tracking_tag(self.tracking_number)] if self.tracking_number else []
        if self.type is EventType.INVENTORY_CHANGED:
            return [sku_tag(self.sku)] if self.sku else []
        return [tickets_tag(self.order_id)] if self.order_id else []


# Every answer read from a list of orders (any tenant's, any filter) is under this tag.
ORDER_LISTS_TAG = "order-lists"


def order_tag(order_id: str) -> str:
    return f"order:{order_id}"


def tracking_key(number: str) -> str:
    """The one form of a tracking number to compare or key by. Tracking numbers are
    case-insensitive (carriers match them in any case; an OMS and a carrier may spell
    one differently), so ``1za…`` and ``1ZA…`` must name the same parcel. Upper case,
    as carriers print them: a number in upper case keeps the tags and keys it had."""
    return number.upper()


def tracking_tag(number: str) -> str:
    return f"tracking:{tracking_key(number)}"


def sku_tag(sku: str) -> str:
    return f"sku:{sku}"


def tickets_tag(order_id: str) -> str:
    return f"tickets:{order_id}"
