"""Change events through the adapter seam: each adapter checks its own deliveries (the
native ones Standard Webhooks, AfterShip its ``aftership-hmac-sha256``, Zendesk its
``X-Zendesk-Webhook-Signature`` over timestamp and body) and turns them into our change
event, with an id the signature covers, or refuses them with the status and code the
receiver answers (a header that is not ASCII as any bad signature)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from sources.adapters.aftership.adapter import AfterShipTracking
from sources.adapters.zendesk.adapter import ZendeskTickets
from sources.clients.carrier import CarrierClient
from sources.events import ChangeEvent, EventType
from sources.options import SourceConfig
from sources.webhooks import generate_secret, sign, signature_timestamp
from tests.support.deliveries import as_sent, refusal

SECRET, OLD_SECRET = "aftership-webhook-secret", "the-one-before"
DELIVERY = {
    "event": "tracking_update",
    "event_id": "3f645f5e-530b-4062-8695-db6a64420af8",
    "is_tracking_first_tag": True,
    "ts": 1795000000,
    "msg": {
        "id": "grhrexm6t3hiwkjwq37jd003",
        "tracking_number": "9361289676091361892011",
        "slug": "usps",
        "tag": "OutForDelivery",
        "checkpoints": [],
        "updated_at": "2026-11-19T14:20:01Z",
        "title": "9361289676091361892011",
    },
}
BODY = msgspec.json.encode(DELIVERY)


def signature(secret: str, body: bytes) -> str:
    """Computed here the way AfterShip's documentation shows it, not with the adapter's."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
async def aftership() -> AsyncIterator[AfterShipTracking]:
    config = SourceConfig(
        base_url="http://127.0.0.1:9", credential="key", webhook_secrets=(SECRET, OLD_SECRET)
    )
    adapter = AfterShipTracking(config)
    yield adapter
    await adapter.close()


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET])
async def test_an_aftership_delivery_signed_with_a_live_secret_is_a_tracking_change(
    aftership, secret
):
    verified = await aftership.verify_webhook(
        BODY, {"Aftership-Hmac-Sha256": signature(secret, BODY)}
    )
    assert as_sent(verified) == ChangeEvent(
        type=EventType.TRACKING_UPDATED,
        occurred_at=datetime.fromtimestamp(1795000000, UTC),
        tracking_number="9361289676091361892011",
    )
    assert verified.msg_id == "aftership:3f645f5e-530b-4062-8695-db6a64420af8"


async def test_an_aftership_delivery_that_is_not_signed_right_is_refused(aftership):
    tampered = BODY.replace(b"OutForDelivery", b"Delivered")
    good = signature(SECRET, BODY)
    assert await refusal(aftership, tampered, {"aftership-hmac-sha256": good}) == (
        401,
        "WEBHOOK_SIGNATURE_INVALID",
    )
    assert await refusal(aftership, BODY, {}) == (401, "WEBHOOK_SIGNATURE_INVALID")
    wrong = signature("another-account", BODY)
    assert await refusal(aftership, BODY, {"aftership-hmac-sha256": wrong}) == (
        401,
        "WEBHOOK_SIGNATURE_INVALID",
    )


@pytest.mark.parametrize(
    "body",
    [b"not json", msgspec.json.encode({**DELIVERY, "event": "tracking_created"})],
)
async def test_a_signed_aftership_delivery_that_is_no_tracking_update_is_refused(aftership, body):
    headers = {"aftership-hmac-sha256": signature(SECRET, body)}
    assert await refusal(aftership, body, headers) == (400, "WEBHOOK_BODY_INVALID")


# Starlette decodes header bytes as latin-1, so a header may hold any of these; the
# compare of a text signature raised on them (a 500 before the delivery was checked).
NOT_ASCII = ["\u00e9" + "A" * 43, "v1,\u00e9" + "A" * 43, "\u2603"]


@pytest.mark.parametrize("sent", NOT_ASCII)
async def test_an_aftership_signature_that_is_not_ascii_is_refused_as_a_bad_one(aftership, sent):
    assert await refusal(aftership, BODY, {"aftership-hmac-sha256": sent}) == (
        401,
        "WEBHOOK_SIGNATURE_INVALID",
    )


async def test_an_adapter_without_a_webhook_secret_refuses_every_delivery():
    adapter = AfterShipTracking(SourceConfig(base_url="http://127.0.0.1:9", credential="key"))
    try:
        headers = {"aftership-hmac-sha256": signature(SECRET, BODY)}
        assert await refusal(adapter, BODY, headers) == (503, "WEBHOOKS_NOT_CONFIGURED")
    finally:
        await adapter.close()


TRACKING_EVENT = ChangeEvent(
    type=EventType.TRACKING_UPDATED,
    occurred_at=datetime(2026, 11, 20, tzinfo=UTC),
    tracking_number="1Z1",
)


async def test_the_native_carrier_takes_standard_webhooks_only():
    secret = generate_secret()
    native = CarrierClient(SourceConfig(base_url="http://127.0.0.1:9", webhook_secrets=(secret,)))
    try:
        body = msgspec.json.encode(TRACKING_EVENT)
        verified = await native.verify_webhook(body, sign(secret, body))
        assert as_sent(verified) == TRACKING_EVENT
        aftership_style = {"aftership-hmac-sha256": signature(secret, BODY)}
        assert await refusal(native, BODY, aftership_style) == (401, "WEBHOOK_SIGNATURE_INVALID")
    finally:
        await native.close()


@pytest.mark.parametrize("sent", NOT_ASCII)
@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
async def test_a_standard_webhook_header_that_is_not_ascii_is_refused_as_a_bad_signature(
    header, sent
):
    secret = generate_secret()
    native = CarrierClient(SourceConfig(base_url="http://127.0.0.1:9", webhook_secrets=(secret,)))
    try:
        body = msgspec.json.encode(TRACKING_EVENT)
        headers = sign(secret, body) | {header: sent}
        assert await refusal(native, body, headers) == (401, "WEBHOOK_SIGNATURE_INVALID")
    finally:
        await native.close()


async def test_the_aftership_adapter_needs_its_api_key():
    with pytest.raises(ValueError, match="OG_CARRIER_CREDENTIAL"):
        AfterShipTracking(SourceConfig(base_url="http://127.0.0.1:9"))


ZENDESK_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="  # Zendesk's docs' example
TRIGGER = b'{"ticket_id": "35436", "order_id": "ord_811127"}'


def zendesk_signature(secret: str, stamp: str, body: bytes) -> str:
    """As Zendesk's documentation computes it: base64(HMAC-SHA256(TIMESTAMP + BODY))."""
    digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@pytest.fixture
async def zendesk() -> AsyncIterator[ZendeskTickets]:
    config = SourceConfig(
        base_url="http://127.0.0.1:9",
        credential="agent@example.com/token:abc",
        options={"order_field": "360000123456"},
        webhook_secrets=(ZENDESK_SECRET,),
    )
    adapter = ZendeskTickets(config)
    yield adapter
    await adapter.close()


def zendesk_headers(stamp: str, body: bytes = TRIGGER, secret: str = ZENDESK_SECRET):
    return {
        "X-Zendesk-Webhook-Signature": zendesk_signature(secret, stamp, body),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        "X-Zendesk-Webhook-Invocation-Id": "8350205582",
    }


async def test_a_zendesk_trigger_delivery_is_a_ticket_change(zendesk):
    stamp = signature_timestamp()
    verified = await zendesk.verify_webhook(TRIGGER, zendesk_headers(stamp))
    assert as_sent(verified) == ChangeEvent(
        type=EventType.TICKET_UPDATED,
        occurred_at=datetime.fromisoformat(stamp),
        order_id="ord_811127",
        ticket_id="35436",
    )


async def test_a_zendesk_delivery_is_one_event_whatever_invocation_id_comes_with_it(zendesk):
    """The invocation id is unsigned: a replay within the five minutes may send any (or
    none) and must still be the event already claimed; only Zendesk can sign another
    timestamp or body."""
    stamp = signature_timestamp()
    headers = zendesk_headers(stamp)
    first = await zendesk.verify_webhook(TRIGGER, headers)
    for replayed in (
        headers | {"X-Zendesk-Webhook-Invocation-Id": "8350205583"},
        {k: v for k, v in headers.items() if k != "X-Zendesk-Webhook-Invocation-Id"},
    ):
        assert (await zendesk.verify_webhook(TRIGGER, replayed)).msg_id == first.msg_id
    earlier = (datetime.now(UTC) - timedelta(seconds=30)).replace(microsecond=0).isoformat()
    other_body = TRIGGER.replace(b"35436", b"35437")
    others = {
        (await zendesk.verify_webhook(TRIGGER, zendesk_headers(earlier))).msg_id,
        (await zendesk.verify_webhook(other_body, zendesk_headers(stamp, other_body))).msg_id,
    }
    assert len(others | {first.msg_id}) == 3


@pytest.mark.parametrize("sent", NOT_ASCII)
@pytest.mark.parametrize(
    "header", ["X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp"]
)
async def test_a_zendesk_header_that_is_not_ascii_is_refused_as_a_bad_signature(
    zendesk, header, sent
):
    headers = zendesk_headers(signature_timestamp()) | {header: sent}
    assert await refusal(zendesk, TRIGGER, headers) == (401, "WEBHOOK_SIGNATURE_INVALID")


async def test_a_zendesk_delivery_signed_wrong_or_long_ago_is_refused(zendesk):
    stamp = signature_timestamp()
    forged = zendesk_headers(stamp, secret="another-secret")
    assert await refusal(zendesk, TRIGGER, forged) == (401, "WEBHOOK_SIGNATURE_INVALID")
    moved = zendesk_headers(stamp) | {
        "X-Zendesk-Webhook-Signature-Timestamp": "2026-01-01T00:00:00Z"
    }
    assert await refusal(zendesk, TRIGGER, moved) == (401, "WEBHOOK_SIGNATURE_INVALID")
    old = (datetime.now(UTC) - timedelta(minutes=6)).replace(microsecond=0).isoformat()
    assert await refusal(zendesk, TRIGGER, zendesk_headers(old)) == (
        401,
        "WEBHOOK_TIMESTAMP_EXPIRED",
    )
    assert await refusal(zendesk, b"{}", zendesk_headers(stamp, b"{}")) == (
        400,
        "WEBHOOK_BODY_INVALID",
    )
