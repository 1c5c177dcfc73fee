"""Standard Webhooks signing and verification of change events."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from msgspec.structs import replace

from sources.events import ChangeEvent, EventType
from sources.webhooks import (
    BODY_INVALID,
    EVENT_NOT_ALLOWED,
    HEADERS,
    SIGNATURE_INVALID,
    SOURCE_UNKNOWN,
    TIMESTAMP_EXPIRED,
    WebhookError,
    check_secret,
    generate_secret,
    sign,
    verify,
)
from tests.support.deliveries import as_sent

SECRET = generate_secret()
EVENT = ChangeEvent(
    type=EventType.TRACKING_UPDATED,
    occurred_at=datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
    tracking_number="1Z999AA10123456784",
)
BODY = msgspec.json.encode(EVENT)


def rejected(
    body: bytes,
    headers: dict[str, str],
    *,
    source: str = "carrier",
    secrets: list[str] | None = None,
) -> WebhookError:
    with pytest.raises(WebhookError) as caught:
        verify(source, body, headers, secrets or [SECRET])
    return caught.value


def signed(body: bytes, secret: str = SECRET, **kwargs: Any) -> dict[str, str]:
    return sign(secret, body, **kwargs)


def test_generate_secret() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert generate_secret() != secret
    check_secret(secret)


def test_sign_headers() -> None:
    at = datetime(2026, 11, 20, 16, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    headers = sign(SECRET, BODY, msg_id="msg_1", timestamp=at)
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == str(int(at.timestamp()))  # converted, not replaced
    version, signature = headers["webhook-signature"].split(",")
    assert version == "v1" and len(base64.b64decode(signature)) == 32
    assert sign(SECRET, BODY)["webhook-id"].startswith("msg_")
    assert sign(SECRET, BODY)["webhook-id"] != sign(SECRET, BODY)["webhook-id"]


def test_sign_rejects_naive_timestamp_and_bad_secret() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sign(SECRET, BODY, timestamp=datetime(2026, 11, 20))
    with pytest.raises(ValueError, match="invalid webhook secret") as caught:
        sign("whsec_", BODY)
    assert "whsec_" not in str(caught.value.__cause__ or "")


def test_valid_delivery() -> None:
    headers = signed(BODY, msg_id="msg_abc")
    verified = verify("carrier", BODY, headers, [SECRET])
    assert verified.msg_id == "msg_abc"
    assert verified.event == replace(EVENT, id="msg_abc")  # the delivery's id, told apart
    # header names are case-insensitive
    upper = {name.upper(): value for name, value in headers.items()}
    assert verify("carrier", BODY, upper, [SECRET]).event == replace(EVENT, id="msg_abc")


def test_rotation_accepts_old_and_new_secret_only() -> None:
    old, new, other = generate_secret(), generate_secret(), generate_secret()
    for secret in (old, new):
        assert as_sent(verify("carrier", BODY, signed(BODY, secret), [old, new])) == EVENT
        assert as_sent(verify("carrier", BODY, signed(BODY, secret), [new, old])) == EVENT
    error = rejected(BODY, signed(BODY, other), secrets=[old, new])
    assert (error.status, error.code) == (401, SIGNATURE_INVALID)


def test_forged_wrong_secret_and_tampered() -> None:
    forged = signed(BODY) | {"webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode()}
    wrong = signed(BODY, generate_secret())
    tampered = BODY.replace(b"1Z999AA10123456784", b"1Z999AA10123456785")
    for body, headers in ((BODY, forged), (BODY, wrong), (tampered, signed(BODY))):
        error = rejected(body, headers)
        assert (error.status, error.code) == (401, SIGNATURE_INVALID)
    # another message id or timestamp invalidates the signature too
    headers = signed(BODY)
    error = rejected(BODY, headers | {"webhook-id": "msg_other"})
    assert error.code == SIGNATURE_INVALID
    error = rejected(
        BODY, headers | {"webhook-timestamp": str(int(headers["webhook-timestamp"]) - 1)}
    )
    assert error.code == SIGNATURE_INVALID


def test_one_of_several_signatures_may_match() -> None:
    headers = signed(BODY)
    other = signed(BODY, generate_secret())["webhook-signature"]
    multi = headers | {"webhook-signature": f"{other} {headers['webhook-signature']}"}
    assert as_sent(verify("carrier", BODY, multi, [SECRET])) == EVENT


@pytest.mark.parametrize("delta", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_timestamp_outside_tolerance(delta: timedelta) -> None:
    headers = signed(BODY, timestamp=datetime.now(UTC) + delta)
    error = rejected(BODY, headers)
    assert (error.status, error.code) == (401, TIMESTAMP_EXPIRED)


def test_timestamp_inside_tolerance() -> None:
    headers = signed(BODY, timestamp=datetime.now(UTC) - timedelta(minutes=4))
    assert as_sent(verify("carrier", BODY, headers, [SECRET])) == EVENT


@pytest.mark.parametrize("missing", HEADERS)
def test_missing_header(missing: str) -> None:
    headers = signed(BODY)
    del headers[missing]
    error = rejected(BODY, headers)
    assert (error.status, error.code) == (401, SIGNATURE_INVALID)
    assert missing in error.message
    error = rejected(BODY, headers | {missing: ""})
    assert error.code == SIGNATURE_INVALID


@pytest.mark.parametrize(
    "value", ["v1", "garbage", "v1,@@@", "v1,abc", "v1,a,b", "v2,xyz", " ", "v1,=== v1,x"]
)
def test_malformed_signature_header(value: str) -> None:
    error = rejected(BODY, signed(BODY) | {"webhook-signature": value})
    assert (error.status, error.code) == (401, SIGNATURE_INVALID)


@pytest.mark.parametrize("value", ["soon", "nan", "inf", "1e400", ""])
def test_malformed_timestamp_header(value: str) -> None:
    error = rejected(BODY, signed(BODY) | {"webhook-timestamp": value})
    assert error.status == 401 and error.code in (SIGNATURE_INVALID, TIMESTAMP_EXPIRED)


def test_body_not_utf8() -> None:
    error = rejected(b"\xff\xfe", signed(BODY))
    assert (error.status, error.code) == (401, SIGNATURE_INVALID)


def test_signature_is_checked_before_the_body() -> None:
    error = rejected(b"{not json", signed(BODY, generate_secret()))
    assert error.code == SIGNATURE_INVALID


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"[]",
        b'{"type": "tracking.updated"}',  # occurredAt missing
        b'{"type": "tracking.exploded", "occurredAt": "2026-11-20T15:00:00Z"}',
        b'{"type": "tracking.updated", "occurredAt": "yesterday", "trackingNumber": "X"}',
        b'{"type": "tracking.updated", "occurredAt": "2026-11-20T15:00:00Z", "trackingNumber": 7}',
    ],
)
def test_body_not_a_change_event(body: bytes) -> None:
    error = rejected(body, signed(body))
    assert (error.status, error.code) == (400, BODY_INVALID)


def test_event_not_allowed_for_source() -> None:
    event = ChangeEvent(type=EventType.ORDER_CANCELLED, occurred_at=EVENT.occurred_at, order_id="o")
    body = msgspec.json.encode(event)
    error = rejected(body, signed(body))
    assert (error.status, error.code) == (400, EVENT_NOT_ALLOWED)
    assert as_sent(verify("oms", body, signed(body), [SECRET])) == event


@pytest.mark.parametrize(
    ("source", "event"),
    [
        ("carrier", ChangeEvent(type=EventType.TRACKING_UPDATED, occurred_at=EVENT.occurred_at)),
        ("oms", ChangeEvent(type=EventType.ORDER_UPDATED, occurred_at=EVENT.occurred_at, sku="X")),
        ("inventory", ChangeEvent(type=EventType.INVENTORY_CHANGED, occurred_at=EVENT.occurred_at)),
        (
            "ticketing",
            ChangeEvent(
                type=EventType.TICKET_UPDATED, occurred_at=EVENT.occurred_at, ticket_id="t"
            ),
        ),
    ],
)
def test_event_with_empty_tags(source: str, event: ChangeEvent) -> None:
    body = msgspec.json.encode(event)
    error = rejected(body, signed(body), source=source)
    assert (error.status, error.code) == (400, EVENT_NOT_ALLOWED)


def test_unknown_source() -> None:
    error = rejected(BODY, signed(BODY), source="erp")
    assert (error.status, error.code) == (404, SOURCE_UNKNOWN)


def test_secrets_are_configuration() -> None:
    with pytest.raises(ValueError, match="no webhook secret"):
        verify("carrier", BODY, signed(BODY), [])
    with pytest.raises(ValueError, match="invalid webhook secret"):
        verify("carrier", BODY, signed(BODY), [SECRET, "whsec_"])


def test_errors_never_carry_the_secret() -> None:
    headers = signed(BODY, generate_secret())
    for body in (BODY, b"{}", b"\xff"):
        error = rejected(body, headers)
        assert SECRET not in str(error) and SECRET.removeprefix("whsec_") not in error.message
