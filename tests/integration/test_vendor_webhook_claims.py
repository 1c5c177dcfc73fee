"""Vendor webhooks through the gateway's ``POST /webhooks/{source}`` over the simulated
vendor APIs and a real redis-server: a delivery is claimed by what its signature
covers, so a captured Shopify body or Zendesk delivery replayed under another delivery
id is refused as the replay it is, while one change Shopify sends under two topics
applies under both; and a signature header that is not ASCII is a bad signature (401),
at a vendor's source and at a native one, never a 500."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import msgspec
import pytest
from msgspec.structs import replace

from gateway.cli import vendor_source_settings
from sim.cluster import SOURCES, SimCluster
from sources.adapters.zendesk.adapter import sign as zendesk_sign
from sources.events import ChangeEvent, EventType
from sources.webhooks import generate_secret, hmac_signature, sign, signature_timestamp
from tests.support.deliveries import post_webhook
from tests.support.gateways import FIXED_NOW, RunningGateway, in_process_gateway, settings_for
from tests.support.redis_server import RedisServer

RATE = 1000  # the vendor APIs' calls a second (the `vendors` fixture)
SECRET = generate_secret()
APPLIED = (200, "applied")
REPLAYED = (200, "duplicate")
BAD_SIGNATURE = (401, "WEBHOOK_SIGNATURE_INVALID")
NOT_ASCII = b"\xe9" + b"A" * 43  # as a client may send it; Starlette reads it as latin-1


@pytest.fixture(scope="module")
async def over_vendors(
    vendors: SimCluster, redis_server: RedisServer
) -> AsyncIterator[RunningGateway]:
    """A gateway reading every source through its vendor, claims in the real Redis."""
    urls = {source: vendors.urls[source] for source in SOURCES}
    native = settings_for(urls, cache_url=redis_server.url, webhook_secrets=[SECRET])
    settings = replace(native, sources=native.sources | vendor_source_settings(vendors, SECRET))
    async with in_process_gateway(settings) as gateway:
        yield gateway


async def outcome(
    gateway: RunningGateway, source: str, body: bytes, headers: Mapping[str, Any]
) -> tuple[int, str]:
    """The status and the ``status`` (taken) or ``code`` (refused) of one delivery;
    a header's value may be bytes, sent as they are."""
    status, answer = await post_webhook(gateway, source, body, headers)
    return status, answer.get("status") or answer["code"]


def shopify_order() -> bytes:
    """An ``orders/*`` body no other test sends (its note)."""
    payload = {"id": 1001, "updated_at": FIXED_NOW.isoformat(), "note": uuid.uuid4().hex}
    return msgspec.json.encode(payload)


def shopify_headers(body: bytes, topic: str, webhook_id: str | None) -> dict[str, str]:
    headers = {"X-Shopify-Hmac-Sha256": hmac_signature(SECRET, body), "X-Shopify-Topic": topic}
    if webhook_id is not None:
        headers["X-Shopify-Webhook-Id"] = webhook_id
    return headers


async def test_a_shopify_body_replayed_under_any_webhook_id_is_refused(over_vendors):
    body = shopify_order()
    sent = [
        await outcome(over_vendors, "oms", body, shopify_headers(body, "orders/updated", wid))
        for wid in ("aaaa", "aaaa", "bbbb", "AAAA", " aaaa", None)
    ]
    # Shopify's own retry (its id again) is a duplicate as before; so is every other id
    assert sent == [APPLIED] + [REPLAYED] * 5


async def test_one_shopify_body_under_two_topics_applies_under_both(over_vendors):
    """Shopify announces a cancel as orders/cancelled and orders/updated, one body."""
    body = shopify_order()
    sent = [
        await outcome(over_vendors, "oms", body, shopify_headers(body, topic, str(uuid.uuid4())))
        for topic in ("orders/cancelled", "orders/updated", "orders/updated")
    ]
    assert sent == [APPLIED, APPLIED, REPLAYED]


async def test_a_zendesk_delivery_replayed_under_another_invocation_id_is_refused(
    over_vendors,
):
    body = msgspec.json.encode({"ticket_id": uuid.uuid4().hex, "order_id": "ord_replayed"})
    stamp = signature_timestamp()
    signed = {
        "X-Zendesk-Webhook-Signature": zendesk_sign(SECRET, stamp, body),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }
    sent = [
        await outcome(
            over_vendors,
            "ticketing",
            body,
            signed | ({"X-Zendesk-Webhook-Invocation-Id": iid} if iid else {}),
        )
        for iid in ("8350205582", "8350205582", "8350205583", None)
    ]
    assert sent == [APPLIED] + [REPLAYED] * 3


def _standard_webhook() -> tuple[bytes, dict[str, str]]:
    event = ChangeEvent(
        type=EventType.TRACKING_UPDATED, occurred_at=FIXED_NOW, tracking_number="1Z"
    )
    body = msgspec.json.encode(event)
    return body, sign(SECRET, body)


async def test_a_signature_header_that_is_not_ascii_is_a_bad_signature(
    over_vendors, sim, redis_server
):
    body = shopify_order()
    shopify = shopify_headers(body, "orders/updated", None)
    zendesk = {"X-Zendesk-Webhook-Signature-Timestamp": signature_timestamp()}
    native_body, native = _standard_webhook()
    settings = settings_for(sim.urls, cache_url=redis_server.url, webhook_secrets=[SECRET])
    async with in_process_gateway(settings) as over_native:
        sent = [
            await outcome(
                over_vendors, "oms", body, shopify | {"X-Shopify-Hmac-Sha256": NOT_ASCII}
            ),
            await outcome(over_vendors, "carrier", body, {"aftership-hmac-sha256": NOT_ASCII}),
            await outcome(
                over_vendors,
                "ticketing",
                body,
                zendesk | {"X-Zendesk-Webhook-Signature": NOT_ASCII},
            ),
            await outcome(
                over_native, "carrier", native_body, native | {"webhook-signature": NOT_ASCII}
            ),
        ]
    assert sent == [BAD_SIGNATURE] * 4
