"""API key text, records and hashing.

A key reads ``og_<env>_<keyid>_<secret>``: a recognisable prefix (secret scanners and
people spot it), the environment, a public key id to look the record up by (safe to
log), and a secret of 256 random bits in base62, so the text splits on ``_``
unambiguously. Only ``HMAC-SHA256(pepper, key_id + ":" + secret)`` is stored: a
leaked store alone cannot be used, nor brute-forced without the pepper.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import msgspec

from gateway.auth.principal import CLIENT_CLASSES, EVERY_ACCOUNT, SCOPES, TIERS

PREFIX = "og"
KEY_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32, lower case
KEY_ID_LENGTH = 12  # 60 bits: ids are for lookup, not secrecy
SECRET_ALPHABET = string.digits + string.ascii_letters  # base62: no "_"
SECRET_LENGTH = 43  # 43 base62 digits: 256 bits

_BODY = (
    rf"([a-z0-9]{{2,10}})_([{KEY_ID_ALPHABET}]{{{KEY_ID_LENGTH}}})"
    rf"_([0-9A-Za-z]{{{SECRET_LENGTH}}})"
)
_KEY = re.compile(rf"{PREFIX}_{_BODY}")
# A key inside longer text, e.g. JSON variables in a query string.
_KEY_IN_TEXT = re.compile(rf"(?<![0-9A-Za-z_]){PREFIX}_{_BODY}(?![0-9A-Za-z])")
_ENV = re.compile(r"[a-z0-9]{2,10}")
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")

KeyStatus = Literal["active", "expired", "revoked"]


@dataclass(frozen=True, slots=True)
class ParsedKey:
    env: str
    key_id: str
    secret: str = field(repr=False)


class KeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What the store keeps about one key: never the secret, only its keyed hash."""

    key_id: str
    env: str
    tenant: str  # an account id, or "*" for internal use
    scopes: list[str]
    client_class: str
    tier: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    secret_hash: str
    label: str | None = None
    rotated_to: str | None = None  # the key that replaced this one, during its grace

    def __post_init__(self) -> None:
        # Also runs when a record is decoded: a hand-edited store fails loudly here.
        check_attributes(
            env=self.env,
            tenant=self.tenant,
            scopes=self.scopes,
            client_class=self.client_class,
            tier=self.tier,
        )
        for name in ("created_at", "expires_at", "revoked_at"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware")

    def status(self, now: datetime) -> KeyStatus:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def check_attributes(
    *, env: str, tenant: str, scopes: list[str], client_class: str, tier: str
) -> None:
    """Raise ``ValueError`` naming the first attribute a key cannot have."""
    if not _ENV.fullmatch(env):
        raise ValueError(f"env {env!r}: use 2 to 10 lower-case letters or digits")
    if tenant != EVERY_ACCOUNT and not _TENANT.fullmatch(tenant):
        raise ValueError(
            f"tenant {tenant!r}: use an account id (letters, digits, _.:-) or {EVERY_ACCOUNT!r}"
        )
    if not scopes:
        raise ValueError("scopes: give at least one")
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    if client_class not in CLIENT_CLASSES:
        raise ValueError(f"client class {client_class!r}: use one of {', '.join(CLIENT_CLASSES)}")
    if tier not in TIERS:
        raise ValueError(f"tier {tier!r}: use one of {', '.join(TIERS)}")


def check_pepper(pepper: str) -> None:
    if not pepper:
        raise ValueError("the API key pepper is empty: configure a long random secret")


def hash_secret(pepper: str, key_id: str, secret: str) -> str:
    message = f"{key_id}:{secret}".encode()
    return hmac.new(pepper.encode(), message, hashlib.sha256).hexdigest()


def generate_key(
    *,
    pepper: str,
    env: str,
    tenant: str,
    scopes: list[str],
    client_class: str,
    tier: str,
    expires_at: datetime | None = None,
    label: str | None = None,
) -> tuple[str, KeyRecord]:
    """A new key's text (show it once, store it nowhere) and the record to store."""
    check_pepper(pepper)
    check_attributes(env=env, tenant=tenant, scopes=scopes, client_class=client_class, tier=tier)
    now = datetime.now(UTC)
    if expires_at is not None:
        if expires_at.utcoffset() is None:
            raise ValueError("expires_at must be timezone-aware")
        if expires_at <= now:
            raise ValueError(f"expires_at {expires_at.isoformat()} is not in the future")
    key_id = "".join(secrets.choice(KEY_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))
    secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    record = KeyRecord(
        key_id=key_id,
        env=env,
        tenant=tenant,
        scopes=list(dict.fromkeys(scopes)),  # without duplicates, in the given order
        client_class=client_class,
        tier=tier,
        created_at=now,
        expires_at=expires_at,
        secret_hash=hash_secret(pepper, key_id, secret),
        label=label,
    )
    return f"{PREFIX}_{env}_{key_id}_{secret}", record


def parse_key(text: str) -> ParsedKey:
    """Split a key's text; ``ValueError`` (never quoting the text) if it is not one."""
    match = _KEY.fullmatch(text)
    if match is None:
        raise ValueError(
            f"not an API key: expected {PREFIX}_<env>_<key id>_<secret>, "
            f"{KEY_ID_LENGTH} + {SECRET_LENGTH} characters"
        )
    env, key_id, secret = match.groups()
    return ParsedKey(env, key_id, secret)


def key_id_in(text: str) -> str | None:
    """The key id of something shaped like a key anywhere in ``text``, else None."""
    match = _KEY_IN_TEXT.search(text) if f"{PREFIX}_" in text else None
    return None if match is None else match.group(2)


def key_id_anywhere(text: str) -> str | None:
    """The key id of a key's text anywhere in ``text``, even glued to other
    characters (a URL, where any key at all is a leak), else None."""
    match = _KEY.search(text) if f"{PREFIX}_" in text else None
    return None if match is None else match.group(2)


def is_key_id(text: str) -> bool:
    return len(text) == KEY_ID_LENGTH and all(char in KEY_ID_ALPHABET for char in text)
