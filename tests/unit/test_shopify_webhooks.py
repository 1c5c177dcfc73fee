"""Shopify's webhooks through the Shopify adapters (sources/adapters/shopify/
webhooks.py): the signature over the raw body under any live secret, the event id
taken from what it signs (never the unsigned webhook id), the topics each source
takes, the SKU of an inventory level, and the simulated Shopify's deliveries read
back."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import msgspec
import pytest

from sim.seed import Dataset
from sim.vendors.shopify import webhook
from sources.adapters.shopify.adapter import ShopifyInventory, ShopifyOrders
from sources.adapters.shopify.gid import item_gid
from sources.adapters.shopify.webhooks import ItemSkus
from sources.events import ChangeEvent, EventType
from sources.options import SourceConfig
from sources.webhooks import new_msg_id
from tests.support.deliveries import as_sent, refusal

SECRET, OLD_SECRET = "shopify-app-client-secret", "the-one-before"
WEBHOOK_ID = "b54557e4-8a5f-4bf7-8d70-bcd043b54557"
# Payloads as Shopify's webhook reference shows them (fields the adapter skips too).
ORDER = {
    "id": 820982911946154508,
    "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
    "app_id": None,
    "cancelled_at": None,
    "cancel_reason": None,
    "currency": "USD",
    "name": "#9999",
    "updated_at": "2021-12-31T19:00:00-05:00",
    "line_items": [{"id": 866550311766439020, "quantity": 1, "sku": "IPOD2008PINK"}],
}
FULFILLMENT = {
    "id": 123456,
    "order_id": 820982911946154508,
    "status": "pending",
    "created_at": "2021-12-31T19:00:00-05:00",
    "updated_at": "2021-12-31T19:00:00-05:00",
    "tracking_company": "UPS",
    "admin_graphql_api_id": "gid://shopify/Fulfillment/123456",
}
LEVEL = {
    "inventory_item_id": 271878346596884015,
    "location_id": 24826418,
    "available": 6,
    "updated_at": "2021-12-31T19:00:00-05:00",
    "admin_graphql_api_id": (
        "gid://shopify/InventoryLevel/24826418?inventory_item_id=271878346596884015"
    ),
}
AT = datetime.fromisoformat("2021-12-31T19:00:00-05:00")


def signature(secret: str, body: bytes) -> str:
    """Computed the way Shopify's "Verify webhooks" shows it, not with the adapter's."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signed(topic: str, payload: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict]:
    body = msgspec.json.encode(payload)
    return body, {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signature(secret, body),
        "X-Shopify-Webhook-Id": WEBHOOK_ID,
        "X-Shopify-Shop-Domain": "example.myshopify.com",
    }


def config(*secrets: str) -> SourceConfig:
    return SourceConfig(base_url="http://127.0.0.1:9", credential="token", webhook_secrets=secrets)


@pytest.fixture
async def orders() -> AsyncIterator[ShopifyOrders]:
    adapter = ShopifyOrders(config(SECRET, OLD_SECRET))
    yield adapter
    await adapter.close()


@pytest.fixture
async def inventory(skus: ItemSkus) -> AsyncIterator[ShopifyInventory]:
    """Knowing the items of ``skus``; any other it would ask a Shopify that is not
    there (tests/integration/test_shopify_adapter.py asks a simulated one)."""
    adapter = ShopifyInventory(config(SECRET, OLD_SECRET), skus)
    yield adapter
    await adapter.close()


@pytest.fixture
def skus() -> ItemSkus:
    return ItemSkus()


@pytest.mark.parametrize(
    ("topic", "payload", "kind"),
    [
        ("orders/updated", ORDER, EventType.ORDER_UPDATED),
        ("orders/cancelled", ORDER, EventType.ORDER_CANCELLED),
        ("fulfillments/create", FULFILLMENT, EventType.ORDER_UPDATED),
        ("fulfillments/update", FULFILLMENT, EventType.ORDER_UPDATED),
    ],
)
@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET])
async def test_a_signed_order_webhook_is_an_order_event(orders, topic, payload, kind, secret):
    verified = await orders.verify_webhook(*signed(topic, payload, secret))
    assert as_sent(verified) == ChangeEvent(
        type=kind, occurred_at=AT, order_id="ord_820982911946154508"
    )


async def test_a_webhook_that_is_not_signed_right_is_refused(orders):
    body, headers = signed("orders/updated", ORDER)
    tampered = body.replace(b"#9999", b"#9998")
    assert await refusal(orders, tampered, headers) == (401, "WEBHOOK_SIGNATURE_INVALID")
    unsigned = {k: v for k, v in headers.items() if k != "X-Shopify-Hmac-Sha256"}
    assert await refusal(orders, body, unsigned) == (401, "WEBHOOK_SIGNATURE_INVALID")
    _, other = signed("orders/updated", ORDER, "another-app")
    assert await refusal(orders, body, other) == (401, "WEBHOOK_SIGNATURE_INVALID")


@pytest.mark.parametrize("first", ["\u00e9", "\u2603"])
async def test_a_signature_header_that_is_not_ascii_is_refused_as_a_bad_signature(orders, first):
    """Starlette decodes header bytes as latin-1: such a header is text, not base64."""
    body, headers = signed("orders/updated", ORDER)
    sent = headers["X-Shopify-Hmac-Sha256"]
    headers["X-Shopify-Hmac-Sha256"] = first + sent[1:]
    assert await refusal(orders, body, headers) == (401, "WEBHOOK_SIGNATURE_INVALID")


async def test_headers_are_read_in_any_case(orders):
    body, headers = signed("orders/updated", ORDER)
    lowered = {name.lower(): value for name, value in headers.items()}
    verified = await orders.verify_webhook(body, lowered)
    assert verified == await orders.verify_webhook(body, headers)


@pytest.mark.parametrize("webhook_id", ["another", WEBHOOK_ID.upper(), f" {WEBHOOK_ID}", None])
async def test_a_signed_body_is_one_event_whatever_webhook_id_comes_with_it(orders, webhook_id):
    """The signature covers the body alone: a replay may send any X-Shopify-Webhook-Id
    (or none), and must still be the event already claimed."""
    body, headers = signed("orders/updated", ORDER)
    first = await orders.verify_webhook(body, headers)
    replayed = {k: v for k, v in headers.items() if k != "X-Shopify-Webhook-Id"}
    if webhook_id is not None:
        replayed["X-Shopify-Webhook-Id"] = webhook_id
    assert (await orders.verify_webhook(body, replayed)).msg_id == first.msg_id


async def test_another_body_or_topic_is_another_event(orders):
    """Shopify sends one change under two topics with the same body (orders/cancelled
    and orders/updated): both apply. A changed order is another body."""
    updated = await orders.verify_webhook(*signed("orders/updated", ORDER))
    cancelled = await orders.verify_webhook(*signed("orders/cancelled", ORDER))
    later = {**ORDER, "updated_at": "2021-12-31T19:00:01-05:00"}
    changed = await orders.verify_webhook(*signed("orders/updated", later))
    assert len({updated.msg_id, cancelled.msg_id, changed.msg_id}) == 3


@pytest.mark.parametrize(
    ("topic", "payload"),
    [("inventory_levels/update", LEVEL), ("products/update", ORDER), ("", ORDER)],
)
async def test_a_topic_the_oms_does_not_send_is_refused(orders, topic, payload):
    assert await refusal(orders, *signed(topic, payload)) == (400, "WEBHOOK_EVENT_NOT_ALLOWED")


@pytest.mark.parametrize("topic", ["orders/updated", "orders/cancelled", "fulfillments/create"])
async def test_an_order_topic_at_inventory_is_refused(inventory, topic):
    assert await refusal(inventory, *signed(topic, ORDER)) == (400, "WEBHOOK_EVENT_NOT_ALLOWED")


async def test_a_signed_webhook_that_is_no_such_payload_is_refused(orders):
    body = b'{"id": "not a number"}'
    headers = {
        **signed("orders/updated", ORDER)[1],
        "X-Shopify-Hmac-Sha256": signature(SECRET, body),
    }
    assert await refusal(orders, body, headers) == (400, "WEBHOOK_BODY_INVALID")


async def test_an_adapter_without_a_webhook_secret_refuses_every_webhook():
    adapter = ShopifyOrders(config())
    try:
        assert await refusal(adapter, *signed("orders/updated", ORDER)) == (
            503,
            "WEBHOOKS_NOT_CONFIGURED",
        )
    finally:
        await adapter.close()


def level_of(item_id: int) -> tuple[bytes, dict[str, str]]:
    """A signed ``inventory_levels/update`` of the item ``item_id``."""
    return signed("inventory_levels/update", {**LEVEL, "inventory_item_id": item_id})


async def test_a_level_of_an_item_read_names_its_sku(inventory, skus):
    skus.remember("gid://shopify/InventoryItem/271878346596884015", "IPOD2008PINK")
    verified = await inventory.verify_webhook(*level_of(271878346596884015))
    assert as_sent(verified) == ChangeEvent(
        type=EventType.INVENTORY_CHANGED, occurred_at=AT, sku="IPOD2008PINK"
    )


def test_the_item_memory_forgets_the_least_recently_read_first():
    skus = ItemSkus(limit=2)
    for n in (1, 2, 1, 3):  # 2 is now the least recently read
        skus.remember(f"gid://shopify/InventoryItem/{n}", f"SKU-{n}")
    known = [skus.sku(f"gid://shopify/InventoryItem/{n}") for n in (1, 2, 3)]
    assert known == ["SKU-1", None, "SKU-3"]


@pytest.fixture(scope="module")
def data(make_dataset: Any) -> Dataset:
    return make_dataset(orders=20)


@pytest.mark.parametrize("kind", [EventType.ORDER_UPDATED, EventType.ORDER_CANCELLED])
async def test_the_simulated_shopify_s_order_webhooks_read_back(orders, data, kind):
    order = next(iter(data.orders.values()))
    event = ChangeEvent(type=kind, occurred_at=order.updated_at, order_id=order.id)
    verified = await orders.verify_webhook(*webhook(data, "oms")(event, new_msg_id(), OLD_SECRET))
    assert as_sent(verified) == event


async def test_the_simulated_shopify_s_level_webhooks_read_back(inventory, skus, data):
    sku, item = next(iter(data.inventory.items()))
    skus.remember(item_gid(sku), sku)
    at = max(level.as_of for level in item.levels)
    event = ChangeEvent(type=EventType.INVENTORY_CHANGED, occurred_at=at, sku=sku)
    body, headers = webhook(data, "inventory")(event, new_msg_id(), SECRET)
    assert headers["X-Shopify-Topic"] == "inventory_levels/update"
    assert as_sent(await inventory.verify_webhook(body, headers)) == event
