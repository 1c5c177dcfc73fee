"""Authenticating a request by its API key.

The key comes in ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``, never in
the URL (URLs end up in access logs, browser history and ``Referer`` headers): a key
there is refused, even next to a good header, so the client notices and rotates it.

Successful verifications are cached in-process for ``cache_ttl_s`` (never past the
key's own expiry), keyed by a SHA-256 of the whole key text. So a revocation, or an
expiry brought forward by a rotation, takes effect on each gateway process within
``cache_ttl_s``. Failures are not cached: a key that starts working (created on
another process) works at once.

Only key ids are logged, never a key or a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from gateway.auth.keys import (
    PREFIX,
    KeyRecord,
    ParsedKey,
    check_pepper,
    hash_secret,
    key_id_anywhere,
    key_id_in,
    parse_key,
)
from gateway.auth.principal import INTERNAL_DEV, Principal
from gateway.auth.store import KeyStore, KeyStoreError
from gateway.refusal import RequestRefused

log = logging.getLogger("ordergraph.auth")

API_KEY_MISSING = "API_KEY_MISSING"
API_KEY_MALFORMED = "API_KEY_MALFORMED"
API_KEY_INVALID = "API_KEY_INVALID"
API_KEY_EXPIRED = "API_KEY_EXPIRED"
API_KEY_REVOKED = "API_KEY_REVOKED"
API_KEY_IN_URL = "API_KEY_IN_URL"
AUTH_UNAVAILABLE = "AUTH_UNAVAILABLE"  # 503: the key store cannot be read

# Query parameters where clients commonly put credentials.
URL_KEY_PARAMETERS = frozenset({"api_key", "apikey", "key", "token", "access_token"})
URL_DECODINGS = 3  # a key URL-encoded up to this many times over is still found
MAX_CACHED = 10_000  # verified keys kept; past it, stale entries are dropped


class AuthError(RequestRefused):
    """A request refused for its key (401; 503 when keys cannot be checked). The
    presented key's id (and tenant, once its record is read), when known, are for
    the audit trail."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 401,
        key_id: str | None = None,
        tenant: str | None = None,
    ) -> None:
        super().__init__(status, code, message, key_id=key_id, tenant=tenant)


class Authenticator:
    """Turns a request's API key into a :class:`Principal`, or raises :class:`AuthError`."""

    def __init__(
        self,
        store: KeyStore,
        pepper: str,
        *,
        cache_ttl_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_pepper(pepper)
        self._store = store
        self._pepper = pepper
        self._cache_ttl_s = cache_ttl_s
        self._clock = clock
        # SHA-256 of the key text -> (principal, clock() deadline)
        self._verified: dict[bytes, tuple[Principal, float]] = {}

    async def authenticate(self, headers: Mapping[str, str], query: Mapping[str, str]) -> Principal:
        """``headers``: Starlette's ``Headers`` or any mapping with lower-case names."""
        _refuse_key_in_url(query)
        key = _key_from_headers(headers)
        digest = hashlib.sha256(key.encode()).digest()
        cached = self._verified.get(digest)
        if cached is not None:
            principal, deadline = cached
            if self._clock() < deadline:
                return principal
            del self._verified[digest]
        try:
            parsed = parse_key(key)
        except ValueError as exc:
            raise AuthError(API_KEY_MALFORMED, str(exc)) from None
        record = await self._verify(parsed)
        principal = Principal(
            key_id=record.key_id,
            tenant=record.tenant,
            scopes=frozenset(record.scopes),
            client_class=record.client_class,
            tier=record.tier,
        )
        self._remember(digest, principal, record)
        return principal

    async def _verify(self, parsed: ParsedKey) -> KeyRecord:
        try:
            record = await self._store.get(parsed.key_id)
        except KeyStoreError as exc:
            log.error("API key %s not checked: %s", parsed.key_id, exc)
            raise AuthError(
                AUTH_UNAVAILABLE,
                "API keys cannot be checked right now",
                status=503,
                key_id=parsed.key_id,
            ) from None
        # Unknown id, other environment or wrong secret: one answer, no oracle.
        if (
            record is None
            or record.env != parsed.env
            or not hmac.compare_digest(
                hash_secret(self._pepper, parsed.key_id, parsed.secret), record.secret_hash
            )
        ):
            log.info("API key %s refused: unknown key id or wrong secret", parsed.key_id)
            raise AuthError(API_KEY_INVALID, "the API key is not valid", key_id=parsed.key_id)
        status = record.status(datetime.now(UTC))
        if status == "revoked":
            log.info("API key %s refused: revoked", record.key_id)
            raise AuthError(
                API_KEY_REVOKED,
                "the API key has been revoked",
                key_id=record.key_id,
                tenant=record.tenant,
            )
        if status == "expired":
            log.info("API key %s refused: expired", record.key_id)
            raise AuthError(
                API_KEY_EXPIRED,
                "the API key has expired",
                key_id=record.key_id,
                tenant=record.tenant,
            )
        return record

    def _remember(self, digest: bytes, principal: Principal, record: KeyRecord) -> None:
        now = self._clock()
        ttl_s = self._cache_ttl_s
        if record.expires_at is not None:
            ttl_s = min(ttl_s, (record.expires_at - datetime.now(UTC)).total_seconds())
        if len(self._verified) >= MAX_CACHED:
            self._verified = {k: v for k, v in self._verified.items() if v[1] > now}
            if len(self._verified) >= MAX_CACHED:
                self._verified.clear()
        self._verified[digest] = (principal, now + ttl_s)


# The request headers a key may come in (lower-case, as ASGI gives them).
CREDENTIAL_HEADERS = ("authorization", "x-api-key")


def presented_key_id(headers: Mapping[str, str]) -> str | None:
    """The id of the key a request presents, unverified (for the audit trail of a
    request refused before its key is read); never the secret."""
    for name in CREDENTIAL_HEADERS:
        key_id = key_id_in(headers.get(name, ""))
        if key_id is not None:
            return key_id
    return None


def _refuse_key_in_url(query: Mapping[str, str]) -> None:
    """A key-looking value in a credential parameter, or a key's text anywhere in a
    parameter's name or value: inside other text, or URL-encoded again (decoded up to
    ``URL_DECODINGS`` times)."""
    for name, value in query.items():
        credential = name.lower() in URL_KEY_PARAMETERS and value.startswith(f"{PREFIX}_")
        key_id = _key_id_in_url_text(name) or _key_id_in_url_text(value)
        if credential or key_id is not None:
            log.warning(
                "API key %s refused: sent in the URL (query parameter %r)",
                key_id,
                "<a key>" if key_id_anywhere(name) else name[:40],
            )
            raise AuthError(
                API_KEY_IN_URL,
                "API keys must not be sent in the URL; send it in an Authorization: Bearer "
                "or X-API-Key header, and rotate this key: URLs get logged",
                key_id=key_id,
            )


def _key_id_in_url_text(text: str) -> str | None:
    for _ in range(URL_DECODINGS):
        key_id = key_id_anywhere(text)
        if key_id is not None or "%" not in text:
            return key_id
        text = unquote_plus(text)
    return key_id_anywhere(text)


def _key_from_headers(headers: Mapping[str, str]) -> str:
    authorization = headers.get("authorization")
    header_key = headers.get("x-api-key")
    bearer_key = None
    if authorization is not None:
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            bearer_key = credentials.strip()
        elif header_key is None:
            raise AuthError(API_KEY_MALFORMED, "use Authorization: Bearer <API key>")
    if bearer_key is not None and header_key is not None and bearer_key != header_key.strip():
        raise AuthError(
            API_KEY_MALFORMED, "Authorization and X-API-Key hold different keys; send one"
        )
    key = bearer_key if bearer_key is not None else header_key
    if key is None:
        raise AuthError(
            API_KEY_MISSING, "send an API key in Authorization: Bearer <key> or X-API-Key"
        )
    key = key.strip()
    if not key:
        raise AuthError(API_KEY_MALFORMED, "the API key is empty")
    return key


async def principal_for(
    authenticator: Authenticator | None,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    *,
    dev_mode: bool,
) -> Principal:
    """Who sent a request (or a WebSocket's ``connection_init``). In dev mode a
    request without a key runs as an internal console; otherwise a key is required.
    A key in the URL is refused in any mode."""
    _refuse_key_in_url(query)
    has_key = any(name in headers for name in CREDENTIAL_HEADERS)
    if authenticator is None or (dev_mode and not has_key):
        if not dev_mode:
            raise AuthError(API_KEY_MISSING, "an API key is required")
        return INTERNAL_DEV
    return await authenticator.authenticate(headers, query)
