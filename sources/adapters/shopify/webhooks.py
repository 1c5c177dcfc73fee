"""Shopify's webhooks as our change events ("About webhooks", "Verify webhooks";
payloads of the REST resources, as Shopify sends them).

A delivery is signed with ``X-Shopify-Hmac-Sha256``: base64 of the HMAC-SHA256 of the
raw body under the app's client secret (any of the configured secrets, for a
rotation), checked before the body is read. ``X-Shopify-Topic`` names what happened.

The signature covers the body alone, so no header can name the delivery: a replay of a
captured body could send any ``X-Shopify-Webhook-Id``. Our event id is
``shopify:<topic>:<SHA-256 of the body>`` instead: a retry (the original payload again)
and a replay under any id are refused within the receiver's ten minutes, and a later
one only drops cache entries again (Shopify signs no timestamp to refuse it by). The
topic is unsigned too, but is in the id: Shopify sends one change under two topics
with the same body (``orders/cancelled`` and ``orders/updated``), and both must apply;
a replay gains at most one application per topic the endpoint takes.

The OMS takes ``orders/updated``, ``fulfillments/create`` and ``fulfillments/update``
(order.updated) and ``orders/cancelled`` (order.cancelled); inventory takes
``inventory_levels/update`` (inventory.changed). Any other topic, at either, is
refused: 400 WEBHOOK_EVENT_NOT_ALLOWED.

An inventory level names its item by id, not by SKU: the inventory adapter remembers
the SKU of every item it read (:class:`ItemSkus`) and asks Shopify for any other
(another instance may have cached it); an item Shopify does not know is refused with
400 WEBHOOK_ITEM_UNKNOWN, and a Shopify that cannot answer with 503 (retried).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import msgspec

from sources.adapters.shopify.gid import gid, our_id
from sources.events import ChangeEvent, EventType
from sources.webhooks import (
    BODY_INVALID,
    EVENT_NOT_ALLOWED,
    NOT_CONFIGURED,
    SIGNATURE_INVALID,
    WebhookError,
    signed_content_id,
    signed_with_any,
)

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
TRIGGERED_AT_HEADER = "X-Shopify-Triggered-At"
API_VERSION_HEADER = "X-Shopify-API-Version"
SHOP_DOMAIN_HEADER = "X-Shopify-Shop-Domain"
ITEM_UNKNOWN = "WEBHOOK_ITEM_UNKNOWN"

ORDER_TOPICS: dict[str, EventType] = {
    "orders/updated": EventType.ORDER_UPDATED,
    "orders/cancelled": EventType.ORDER_CANCELLED,
    "fulfillments/create": EventType.ORDER_UPDATED,
    "fulfillments/update": EventType.ORDER_UPDATED,
}
INVENTORY_TOPICS: dict[str, EventType] = {"inventory_levels/update": EventType.INVENTORY_CHANGED}


class Payload(msgspec.Struct, frozen=True, kw_only=True):
    """Base of the payloads: snake_case, as the REST resources are. Declared: what the
    adapters read and the simulated Shopify writes; msgspec skips the rest."""

    admin_graphql_api_id: str | None = None
    updated_at: datetime


class OrderPayload(Payload, frozen=True, kw_only=True):
    """``orders/*``: the order."""

    id: int
    name: str | None = None  # "#1001"
    cancelled_at: datetime | None = None


class FulfillmentPayload(Payload, frozen=True, kw_only=True):
    """``fulfillments/*``: the fulfillment, with its order's id."""

    order_id: int


class InventoryLevelPayload(Payload, frozen=True, kw_only=True):
    """``inventory_levels/update``: one location's level of one item."""

    inventory_item_id: int
    location_id: int | str  # a number at Shopify; the simulated one's are the seed's names
    available: int | None = None


P = TypeVar("P", bound=Payload)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery whose signature holds: its topic, our event id (module docstring),
    its body."""

    topic: str
    msg_id: str
    body: bytes

    def payload(self, kind: type[P]) -> P:
        try:
            return msgspec.json.decode(self.body, type=kind)
        except msgspec.DecodeError as exc:
            raise WebhookError(400, BODY_INVALID, f"not a {self.topic} payload: {exc}") from None


def delivery(
    body: bytes, headers: Mapping[str, str], secrets: Sequence[str], topics: Mapping[str, object]
) -> Delivery:
    """Check a delivery's signature under any of ``secrets``, then that its topic is one
    of ``topics``; raise :class:`WebhookError` with what to answer."""
    if not secrets:
        raise WebhookError(503, NOT_CONFIGURED, "no Shopify webhook secret is configured")
    lowered = {name.lower(): value for name, value in headers.items()}
    sent = lowered.get(HMAC_HEADER.lower())
    if not sent:
        raise WebhookError(401, SIGNATURE_INVALID, f"missing header {HMAC_HEADER}")
    if not signed_with_any(sent, body, secrets):
        raise WebhookError(401, SIGNATURE_INVALID, "no matching signature")
    topic = lowered.get(TOPIC_HEADER.lower(), "")
    if topic not in topics:
        raise WebhookError(400, EVENT_NOT_ALLOWED, f"this source takes no {topic!r} webhooks")
    return Delivery(topic=topic, msg_id=signed_content_id(f"shopify:{topic}", body), body=body)


def order_event(sent: Delivery) -> ChangeEvent:
    """The order event of an ``orders/*`` or ``fulfillments/*`` delivery."""
    if sent.topic.startswith("fulfillments/"):
        fulfillment = sent.payload(FulfillmentPayload)
        legacy_id, at = fulfillment.order_id, fulfillment.updated_at
    else:
        order = sent.payload(OrderPayload)
        legacy_id, at = order.id, order.updated_at
    return ChangeEvent(
        type=ORDER_TOPICS[sent.topic], occurred_at=at, order_id=our_id(gid("Order", str(legacy_id)))
    )


class ItemSkus:
    """The SKU of each inventory item read, by its gid: the most recently read
    ``limit`` items (a catalogue's worth; older ones are forgotten first)."""

    def __init__(self, limit: int = 100_000) -> None:
        self._limit = limit
        self._skus: OrderedDict[str, str] = OrderedDict()

    def remember(self, item_gid: str, sku: str) -> None:
        self._skus[item_gid] = sku
        self._skus.move_to_end(item_gid)
        if len(self._skus) > self._limit:
            self._skus.popitem(last=False)

    def sku(self, item_gid: str) -> str | None:
        """The SKU of the item ``item_gid``, if it was read here."""
        return self._skus.get(item_gid)
