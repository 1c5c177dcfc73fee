"""Signing and verifying change events as Standard Webhooks.

A source POSTs one :class:`~sources.events.ChangeEvent` per change, signed with HMAC
SHA-256 over ``id.timestamp.body`` (headers ``webhook-id``, ``webhook-timestamp``,
``webhook-signature``). The HMAC, the constant-time compare and the 5-minute timestamp
tolerance are the ``standardwebhooks`` reference library's; this module adds secret
rotation (any of several secrets), error codes a receiver can answer with, and decoding
of the body into a ``ChangeEvent`` only after the signature holds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import secrets as random_secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
from standardwebhooks import Webhook, WebhookVerificationError
from standardwebhooks.webhooks import EmptyWebhookSecretError

from sources.events import EVENTS_BY_SOURCE, ChangeEvent

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
HEADERS = (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)

SIGNATURE_INVALID = "WEBHOOK_SIGNATURE_INVALID"
TIMESTAMP_EXPIRED = "WEBHOOK_TIMESTAMP_EXPIRED"
BODY_INVALID = "WEBHOOK_BODY_INVALID"
EVENT_NOT_ALLOWED = "WEBHOOK_EVENT_NOT_ALLOWED"
SOURCE_UNKNOWN = "WEBHOOK_SOURCE_UNKNOWN"
NOT_CONFIGURED = "WEBHOOKS_NOT_CONFIGURED"

# The library reports every failure as WebhookVerificationError; only its message tells
# a stale or future timestamp apart (pinned by tests/unit/test_webhooks.py).
_TIMESTAMP_MESSAGES = frozenset({"Message timestamp too old", "Message timestamp too new"})
_DECODER = msgspec.json.Decoder(ChangeEvent)


class WebhookError(Exception):
    """A rejected delivery: ``status`` and ``code`` are what the receiver answers."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class VerifiedEvent:
    """A delivery taken: its id and its event, which carries that id (``event.id``,
    set here for every adapter), so what follows the event (the exception queue's
    claim) tells this delivery from another that says the same."""

    # What the receiver claims the delivery by: the same on every retry of one event,
    # and covered by its signature, so a replay cannot make a new one.
    msg_id: str
    event: ChangeEvent

    def __post_init__(self) -> None:
        if self.event.id != self.msg_id:
            object.__setattr__(self, "event", msgspec.structs.replace(self.event, id=self.msg_id))


TOLERANCE_S = 5 * 60  # Standard Webhooks' timestamp tolerance, used for vendors' too


def within_tolerance(at: datetime) -> bool:
    """Whether a delivery signed at ``at`` is within :data:`TOLERANCE_S` of now (the
    wall clock: the sender signs with its real time)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return abs(datetime.now(UTC).timestamp() - at.timestamp()) <= TOLERANCE_S


def hmac_signature(secret: str, message: bytes) -> str:
    """Base64 of the HMAC-SHA256 of ``message`` under ``secret``: how AfterShip,
    Shopify and Zendesk sign their webhooks (each over its own ``message``)."""
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def signed_with_any(sent: str, message: bytes, secrets: Sequence[str]) -> bool:
    """Whether ``sent`` is :func:`hmac_signature` of ``message`` under any of
    ``secrets`` (two during a rotation), compared in constant time.

    A header that is not ASCII (Starlette decodes header bytes as latin-1) is no
    base64 and matches nothing; ``compare_digest`` would raise on it."""
    if not sent.isascii():
        return False
    return any(hmac.compare_digest(sent, hmac_signature(s, message)) for s in secrets)


def signed_content_id(prefix: str, signed: bytes) -> str:
    """A delivery's id for a vendor whose delivery id is an unsigned header:
    ``prefix`` and the SHA-256 of the bytes its signature covers, so a replay cannot
    make a new id by changing a header (a retry of one event sends the same bytes)."""
    return f"{prefix}:{hashlib.sha256(signed).hexdigest()}"


def signature_timestamp() -> str:
    """Now on the wall clock, as a vendor's signature carries it (ISO 8601, UTC)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def generate_secret() -> str:
    """A new signing secret: ``whsec_`` and base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(random_secrets.token_bytes(32)).decode()


def new_msg_id() -> str:
    """A random delivery id, ``msg_<hex>``."""
    return f"msg_{random_secrets.token_hex(16)}"


SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24  # the Standard Webhooks spec: keys of 24 to 64 bytes


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` is no usable Standard Webhooks secret (``whsec_`` and base64 of
    at least 24 bytes), never echoing it; None when it is one.

    It must pass the library's own parsing (the one ``verify`` uses on every delivery),
    and, since that parsing skips characters outside base64, also a strict decoding:
    a typo must not quietly become another key that no sender signs with."""
    if not secret.startswith(SECRET_PREFIX):
        return f"does not start with {SECRET_PREFIX}"
    try:
        _webhook(secret)
    except ValueError:
        return "is refused by the Standard Webhooks library (not base64, or empty)"
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        return "is not strict base64 after whsec_ (a typo, a space or a cut-off copy?)"
    if len(key) < MIN_SECRET_BYTES:
        return f"has a {len(key)}-byte key; at least {MIN_SECRET_BYTES} bytes are needed"
    return None


def check_secret(secret: str) -> None:
    """Raise ``ValueError`` unless ``secret`` is a usable signing secret."""
    _webhook(secret)


def sign(
    secret: str,
    body: bytes,
    *,
    msg_id: str | None = None,
    timestamp: datetime | None = None,
) -> dict[str, str]:
    """The three Standard Webhooks headers for sending ``body`` (UTF-8) once.

    ``timestamp`` must be timezone-aware and defaults to now; ``msg_id`` defaults to a
    random ``msg_<hex>`` (retries of one event should reuse it).
    """
    if timestamp is None:
        timestamp = datetime.now(UTC)
    elif timestamp.utcoffset() is None:
        raise ValueError("timestamp must be timezone-aware")
    # The library replaces (not converts) the zone with UTC, so hand it UTC already.
    at = timestamp.astimezone(UTC)
    msg_id = msg_id or new_msg_id()
    signature = _webhook(secret).sign(msg_id, at, body.decode())
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(math.floor(at.timestamp())),
        SIGNATURE_HEADER: signature,
    }


def verify(
    source: str, body: bytes, headers: Mapping[str, str], secrets: Sequence[str]
) -> VerifiedEvent:
    """Check a delivery from ``source`` and decode its event, or raise :class:`WebhookError`.

    A signature valid under any of ``secrets`` is accepted, so the old and the new
    secret both work during a rotation. The signature is checked before the body is
    parsed. An empty or unusable ``secrets`` is a configuration error (``ValueError``).
    """
    allowed = EVENTS_BY_SOURCE.get(source)
    if allowed is None:
        raise WebhookError(404, SOURCE_UNKNOWN, f"unknown webhook source {source!r}")
    if not secrets:
        raise ValueError(f"no webhook secret configured for {source!r}")
    signers = [_webhook(secret) for secret in secrets]
    lowered = {name.lower(): value for name, value in headers.items()}
    for name in HEADERS:
        if not lowered.get(name):
            raise WebhookError(401, SIGNATURE_INVALID, f"missing header {name}")
    if not any(_signed_by(signer, body, lowered) for signer in signers):
        raise WebhookError(401, SIGNATURE_INVALID, "no matching signature")
    try:
        event = _DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise WebhookError(400, BODY_INVALID, f"body is not a change event: {exc}") from None
    if event.type not in allowed:
        raise WebhookError(
            400, EVENT_NOT_ALLOWED, f"{source} may not send {event.type.value} events"
        )
    if not event.tags():
        raise WebhookError(400, EVENT_NOT_ALLOWED, f"{event.type.value} event names nothing")
    return VerifiedEvent(msg_id=lowered[ID_HEADER], event=event)


def _signed_by(signer: Webhook, body: bytes, headers: dict[str, str]) -> bool:
    """Whether ``signer``'s secret signed this delivery.

    Timestamp and header-format failures do not depend on the secret, so they raise at
    once instead of letting the next secret try.
    """
    try:
        signer.verify(body, headers, json_parse=False)
    except WebhookVerificationError as exc:
        if str(exc) in _TIMESTAMP_MESSAGES:
            raise WebhookError(
                401, TIMESTAMP_EXPIRED, "timestamp outside the 5-minute tolerance"
            ) from None
        return False
    except UnicodeDecodeError:
        raise WebhookError(401, SIGNATURE_INVALID, "body is not UTF-8: nothing signed it") from None
    except ValueError:  # binascii.Error too: a malformed signature list or base64
        raise WebhookError(401, SIGNATURE_INVALID, "malformed signature header") from None
    return True


def _webhook(secret: str) -> Webhook:
    try:
        return Webhook(secret)
    except (EmptyWebhookSecretError, ValueError):  # never echo the secret
        raise ValueError("invalid webhook secret") from None
