"""What ``serve`` refuses before it binds its port, and what it says is configured.

:func:`check_startup` raises a :class:`SettingsError` naming the setting when the
gateway cannot work: outside dev mode no ``OG_KEY_PEPPER`` or a short one, a trusted
documents manifest that cannot be read, a host that resolves to no address, or a
Redis cache or key store that does not answer within ``OG_STARTUP_TIMEOUT_MS``
(retried with a short backoff meanwhile). Malformed values are refused earlier, when
the settings are read. :func:`config_summary` is what ``/readyz`` and the start-up log
show: kinds and counts, never a secret or a URL's password.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any
from urllib.parse import urlsplit

from redis.exceptions import RedisError

from gateway.auth.pepper import check_pepper
from gateway.persisted import load_manifest
from gateway.settings import (
    Settings,
    SettingsError,
    invalid_setting,
    key_store_kind,
    redact_url,
)
from sources.cache.redis_connection import redis_client
from sources.options import REDIS_SCHEMES

log = logging.getLogger("ordergraph.startup")

FIRST_RETRY_S = 0.05
MAX_RETRY_S = 0.5
MAX_ATTEMPT_S = 1.0  # one connection attempt, at most


async def check_startup(settings: Settings) -> None:
    """Raise a ``SettingsError`` naming the first setting the gateway cannot work with."""
    if not settings.dev_mode:
        check_pepper(settings.key_pepper)
    timeout_s = settings.startup_timeout_ms / 1000
    if settings.persisted_manifest is not None:
        await _check_manifest(settings.persisted_manifest)
    await _check_host(settings.host, settings.port, timeout_s)
    redis: list[tuple[str, str]] = []
    if urlsplit(settings.cache_url).scheme in REDIS_SCHEMES:
        redis.append(("OG_CACHE_URL", settings.cache_url))
    if settings.key_pepper and key_store_kind(settings.keys_url) == "redis":
        redis.append(("OG_KEYS_URL", settings.keys_url))  # used only with a pepper
    outcomes = await asyncio.gather(
        *(_wait_for_redis(variable, url, timeout_s) for variable, url in redis),
        return_exceptions=True,
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


async def _check_manifest(path: str) -> None:
    """The manifest of trusted documents reads as the app will read it (in a thread)."""
    try:
        await asyncio.to_thread(load_manifest, path)
    except ValueError as exc:
        cause = exc.__cause__
        if isinstance(cause, OSError):
            problem = f"{path}: {cause.strerror or cause}"
        else:
            problem = f"{path}: not a JSON object of id to document ({cause or exc})"
        raise invalid_setting("OG_PERSISTED_MANIFEST", "persisted_manifest", problem) from None


async def _check_host(host: str, port: int, timeout_s: float) -> None:
    """``host`` resolves to an address to listen on, within ``timeout_s`` (the lookup
    runs off the event loop; it may ask a name server)."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout_s):
            await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        return
    except TimeoutError:
        problem = f"{host!r} did not resolve within {timeout_s:g} s (OG_STARTUP_TIMEOUT_MS)"
    except OSError as exc:  # socket.gaierror
        problem = f"{host!r} resolves to no address to listen on: {exc.strerror or exc}"
    raise invalid_setting("OG_HOST", "host", problem)


async def _wait_for_redis(variable: str, url: str, timeout_s: float) -> None:
    """Until Redis at ``url`` answers a PING, retrying; a ``SettingsError`` after
    ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    delay_s = FIRST_RETRY_S
    attempts = 0
    while True:
        attempts += 1
        attempt_s = max(0.001, min(MAX_ATTEMPT_S, deadline - loop.time()))
        try:
            async with asyncio.timeout(attempt_s):
                await _ping(url, attempt_s)
            return
        except (RedisError, OSError) as exc:  # TimeoutError is an OSError
            last = " ".join(f"{type(exc).__name__}: {exc}".split())
        left_s = deadline - loop.time()
        if attempts == 1 and left_s > 0:
            log.warning(
                "%s: Redis at %s does not answer yet (%s); retrying for up to %g s",
                variable, redact_url(url), last, timeout_s,
            )  # fmt: skip
        if left_s <= 0:
            raise SettingsError(
                f"{variable}: Redis at {redact_url(url)} did not answer within {timeout_s:g} s "
                f"(OG_STARTUP_TIMEOUT_MS; {attempts} attempt(s), last: {last})"
            )
        await asyncio.sleep(min(delay_s, left_s))
        delay_s = min(2 * delay_s, MAX_RETRY_S)


async def _ping(url: str, timeout_s: float) -> None:
    # No retry here: the caller retries, with its own backoff.
    client = redis_client(url, timeout_s=timeout_s, retry=False)
    try:
        await client.ping()
    finally:
        await client.aclose()


def config_summary(settings: Settings) -> dict[str, Any]:
    """What is configured, for ``/readyz`` and the start-up log: kinds, counts and
    redacted URLs, never a secret."""
    cache_scheme = urlsplit(settings.cache_url).scheme
    return {
        "dev_mode": settings.dev_mode,
        "cache": {
            "backend": "memory" if cache_scheme == "memory" else "redis",
            "url": redact_url(settings.cache_url),
        },
        "key_store": {
            "kind": key_store_kind(settings.keys_url),
            "url": redact_url(settings.keys_url),
            "pepper": settings.key_pepper is not None,
        },
        "webhooks": {
            "configured": bool(settings.webhook_secrets),
            "secrets": len(settings.webhook_secrets),
        },
        "exception_queue": settings.exception_queue,
        "persisted_documents": {"manifest": settings.persisted_manifest is not None},
    }


def log_configuration(settings: Settings) -> None:
    """The configuration, secrets redacted, as one INFO line (its dict in ``config``)."""
    summary = config_summary(settings)
    log.info("configuration: %s", _one_line(summary), extra={"config": summary})


def _one_line(summary: dict[str, object], prefix: str = "") -> str:
    """``summary`` as ``key=value`` pairs, nested keys dotted, for readable log text."""
    pairs = []
    for key, value in summary.items():
        if isinstance(value, dict):
            pairs.append(_one_line(value, f"{prefix}{key}."))
        else:
            pairs.append(
                f"{prefix}{key}={str(value).lower() if isinstance(value, bool) else value}"
            )
    return " ".join(pairs)
