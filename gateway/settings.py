"""Settings from ``OG_*`` environment variables over an optional TOML file.

Precedence: environment, then the file named by ``OG_CONFIG``, then defaults.
Per-source values are ``OG_<SOURCE>_<FIELD>`` in the environment (``OG_OMS_URL``,
``OG_CARRIER_READ_TIMEOUT_MS``) and ``[sources.<source>]`` tables in the file.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

import msgspec

from sources.cache import REDIS_SCHEMES
from sources.cache.through import CachePolicy
from sources.cache.upstreams import default_policy
from sources.clients import SourceConfig
from sources.records import MAX_BATCH

SOURCE_NAMES = ("oms", "inventory", "carrier", "ticketing")
DEFAULT_PORTS = {"oms": 8101, "inventory": 8102, "carrier": 8103, "ticketing": 8104}


class SettingsError(ValueError):
    """A setting that cannot be used; the message names it."""


class SourceSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    url: str
    connect_timeout_ms: int = 500
    read_timeout_ms: int = 2000
    total_timeout_ms: int = 3000
    max_connections: int = 64
    max_concurrency: int = 48
    # ids per upstream call: at most what the sources accept (their documented maximum)
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=MAX_BATCH)] = MAX_BATCH
    retry_attempts: int = 3
    breaker_failure_ratio: float = 0.5
    breaker_min_calls: int = 20
    breaker_open_ms: int = 5000
    # Cache policy; unset values take the source's defaults (sources.cache.upstreams).
    cache_ttl_ms: int | None = None
    cache_stale_ms: int | None = None
    cache_keep_ms: int | None = None
    cache_negative_ttl_ms: int | None = None

    def config(self) -> SourceConfig:
        return SourceConfig(
            base_url=self.url,
            connect_timeout_s=self.connect_timeout_ms / 1000,
            read_timeout_s=self.read_timeout_ms / 1000,
            total_timeout_s=self.total_timeout_ms / 1000,
            max_connections=self.max_connections,
            max_concurrency=self.max_concurrency,
            batch_size=self.batch_size,
            retry_attempts=self.retry_attempts,
            breaker_failure_ratio=self.breaker_failure_ratio,
            breaker_min_calls=self.breaker_min_calls,
            breaker_open_s=self.breaker_open_ms / 1000,
        )

    def cache_policy(self, source: str) -> CachePolicy:
        default = default_policy(source)

        def seconds(ms: int | None, fallback: float) -> float:
            return fallback if ms is None else ms / 1000

        return dataclasses.replace(
            default,
            ttl_s=seconds(self.cache_ttl_ms, default.ttl_s),
            stale_s=seconds(self.cache_stale_ms, default.stale_s),
            keep_s=seconds(self.cache_keep_ms, default.keep_s),
            negative_ttl_s=seconds(self.cache_negative_ttl_ms, default.negative_ttl_s),
        )


def _default_sources() -> dict[str, SourceSettings]:
    return {
        name: SourceSettings(url=f"http://127.0.0.1:{port}") for name, port in DEFAULT_PORTS.items()
    }


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 8000
    graphiql: bool = True  # GraphiQL in dev mode (false: not even there); never outside it
    document_cache_size: int = 512  # parsed and validated documents kept per process
    log_level: str = "INFO"
    log_format: str = "json"  # or "text"
    tracing_exporter: str = "none"  # "console" or "otlp"
    otlp_endpoint: str | None = None  # for "otlp"; else the OTEL_EXPORTER_OTLP_* variables
    request_deadline_ms: int = 800  # the whole query; each upstream call gets what is left
    shutdown_drain_ms: int = 2000  # after SIGTERM: not ready, still serving
    shutdown_grace_ms: int = 10000  # then: how long requests in flight may take
    cache_url: str = "memory://"  # or redis://host:port/db
    cache_local_ttl_ms: int = 2000  # in-process copies in front of Redis; 0: none
    # Standard Webhooks secrets ("whsec_…"); two during a rotation. None: webhooks off.
    webhook_secrets: list[str] = msgspec.field(default_factory=list)
    # The exception queue: kept current by change events and by a sweep of every order
    # (one instance at a time, at start-up and then every interval).
    exception_queue: bool = True
    exception_sweep_interval_ms: Annotated[int, msgspec.Meta(ge=1000)] = 60_000
    # Access: dev mode lets anonymous requests in as an internal console and turns
    # GraphiQL and introspection on. Never in production.
    dev_mode: bool = False
    keys_url: str = "file:.ordergraph/keys.json"  # or redis://…
    key_pepper: str | None = None  # HMAC key for API key hashes; required outside dev mode
    persisted_manifest: str | None = None  # JSON {id: document} of trusted documents
    max_body_bytes: int = 1_000_000
    batching: bool = False
    max_batch: int = 10
    max_in_flight: int = 64  # operations executing at once; more get 429 OVERLOADED
    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2000
    max_directives: int = 10
    max_root_fields: int = 20
    max_cost: int = 1000
    # Live updates (subscriptions over WebSocket and server-sent events)
    live_max_connections: int = 10_000  # WebSockets and event streams open at once
    live_max_subscriptions: int = 20  # per WebSocket connection
    ws_init_timeout_ms: int = 3000  # until connection_init, else close 4408
    live_key_recheck_ms: int = 60_000  # a live stream's key checked again (revocation)
    sse_ping_s: float = 15.0  # keep-alive comments on event streams
    sources: dict[str, SourceSettings] = msgspec.field(default_factory=_default_sources)

    def source(self, name: str) -> SourceConfig:
        return self.sources[name].config()

    def cache_policies(self) -> dict[str, CachePolicy]:
        return {name: self.sources[name].cache_policy(name) for name in SOURCE_NAMES}


StructT = TypeVar("StructT", bound=msgspec.Struct)


def _convert(values: dict[str, Any], into: type[StructT], env: str, key: str) -> StructT:
    """``values`` as ``into``. A bad value raises a ``SettingsError`` naming it as an
    environment variable (prefix ``env``, e.g. ``OG_OMS_``) and as a config file key
    (prefix ``key``, e.g. ``sources.oms.``)."""
    try:
        return msgspec.convert(values, into, strict=False)
    except msgspec.ValidationError as exc:
        problem, at, path = str(exc).rpartition(" - at `$.")
        if not at:  # the table itself, e.g. an unknown key in the config file
            where = f"[{key.rstrip('.')}]" if key else "the top level"
            raise SettingsError(f"invalid settings in {where}: {exc}") from exc
        name = re.split(r"[.\[`]", path, maxsplit=1)[0]
        raise SettingsError(
            f"invalid setting {env}{name.upper()} ({key}{name}): {problem}"
        ) from exc


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings; raise ``SettingsError`` naming the first bad value."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_path = env.get("OG_CONFIG")
    if config_path:
        try:
            with open(config_path, "rb") as handle:
                values = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"OG_CONFIG={config_path}: {exc}") from exc

    for name in Settings.__struct_fields__:
        if name != "sources" and f"OG_{name.upper()}" in env:
            values[name] = env[f"OG_{name.upper()}"]
    if isinstance(values.get("webhook_secrets"), str):
        values["webhook_secrets"] = [s for s in values["webhook_secrets"].split(",") if s]

    sources: dict[str, dict[str, Any]] = {
        name: {"url": settings.url} for name, settings in _default_sources().items()
    }
    for name, table in dict(values.get("sources", {})).items():
        sources.setdefault(name, {}).update(table)
    for name in SOURCE_NAMES:
        for field in SourceSettings.__struct_fields__:
            key = f"OG_{name.upper()}_{field.upper()}"
            if key in env:
                sources[name][field] = env[key]
    unknown = set(sources) - set(SOURCE_NAMES)
    if unknown:
        raise SettingsError(f"unknown source(s) in config: {', '.join(sorted(unknown))}")
    values["sources"] = {
        name: _convert(table, SourceSettings, f"OG_{name.upper()}_", f"sources.{name}.")
        for name, table in sources.items()
    }
    settings = _convert(values, Settings, "OG_", "")
    scheme = urlsplit(settings.cache_url).scheme
    if scheme not in (*REDIS_SCHEMES, "memory"):
        raise SettingsError(f"cache_url {settings.cache_url!r}: use memory:// or redis://…")
    return settings
