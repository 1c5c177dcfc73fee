"""Settings from ``OG_*`` environment variables over an optional TOML file.

Precedence: environment, then the file named by ``OG_CONFIG``, then defaults.
Per-source values are ``OG_<SOURCE>_<FIELD>`` in the environment (``OG_OMS_URL``,
``OG_CARRIER_READ_TIMEOUT_MS``) and ``[sources.<source>]`` tables in the file.
Every value that cannot be used, and a malformed file, is a :class:`SettingsError`
naming the setting.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import SplitResult, parse_qs, urlsplit

import msgspec

from gateway.admission.limits import Limits
from sources.adapters.names import (
    FIRST_SOURCE_PORT,
    NATIVE,
    SOURCE_NAMES,
    adapters_by_source,
)
from sources.options import REDIS_SCHEMES, CachePolicy, SourceConfig, default_policy
from sources.records import MAX_BATCH
from sources.webhooks import secret_problem

DEFAULT_PORTS = {name: FIRST_SOURCE_PORT + n for n, name in enumerate(SOURCE_NAMES)}


class SettingsError(ValueError):
    """A setting that cannot be used; the message names it."""


# Value ranges, checked when settings are read (load_settings), not when built in code.
Count = Annotated[int, msgspec.Meta(ge=1)]  # a limit or size: 0 would allow nothing
Millis = Annotated[int, msgspec.Meta(gt=0)]  # a timeout or interval
NonNegative = Annotated[int, msgspec.Meta(ge=0)]  # 0 means none, or off

# The log levels both logging and uvicorn know, by logging's names; WARN and FATAL are
# read as the levels they stand for. NOTSET (the root logger's "everything") and
# uvicorn's TRACE (unknown to logging) are refused: uvicorn looks the level up in its
# own table, which has no WARN, FATAL or NOTSET (a KeyError once the port was bound).
LogLevel = Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]
_LOG_LEVEL_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL"}

# The operator token guards /metrics and /readyz's details against anyone who can reach
# the port and try tokens at will: 32 characters are 128 random bits even in hex
# (`openssl rand -hex 16`), and no word typed by hand reaches that length.
MIN_ADMIN_TOKEN_CHARS = 32

# memory:// takes these, each a whole number of at least 1 (sources.cache.open_backend).
MEMORY_BOUNDS = ("max_entries", "max_bytes")

# The source clients' own defaults (sources.options), in the units settings use.
_CLIENT = SourceConfig(base_url="")


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class SourceSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    url: str
    # Which adapter speaks to it (sources.adapters): the native REST contract, or one a
    # package registers in the ordergraph.adapters entry point group.
    adapter: str = NATIVE
    connect_timeout_ms: Millis = _ms(_CLIENT.connect_timeout_s)
    read_timeout_ms: Millis = _ms(_CLIENT.read_timeout_s)
    total_timeout_ms: Millis = _ms(_CLIENT.total_timeout_s)
    max_connections: Count = _CLIENT.max_connections
    max_concurrency: Count = _CLIENT.max_concurrency
    # ids per upstream call: at most what the sources accept (their documented maximum)
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=MAX_BATCH)] = _CLIENT.batch_size
    retry_attempts: Count = _CLIENT.retry_attempts  # the first included
    breaker_failure_ratio: Annotated[float, msgspec.Meta(gt=0, le=1)] = (
        _CLIENT.breaker_failure_ratio
    )
    breaker_min_calls: Count = _CLIENT.breaker_min_calls
    breaker_open_ms: Millis = _ms(_CLIENT.breaker_open_s)
    # Cache policy; unset values take the source's defaults (sources.options).
    cache_ttl_ms: NonNegative | None = None
    cache_stale_ms: NonNegative | None = None
    cache_keep_ms: NonNegative | None = None
    cache_negative_ttl_ms: NonNegative | None = None
    # The adapter's own settings (docs/adapters.md): its credential (an API key or
    # token), its options ("key=value,…" in the environment, a table in the file), and
    # the secret its vendor signs change events with; each secret inline or in a file
    # (…_file, read at start-up), never both. The native adapters take the Standard
    # Webhooks secrets of OG_WEBHOOK_SECRETS instead.
    credential: str | None = None
    credential_file: str | None = None
    options: dict[str, str] = msgspec.field(default_factory=dict)
    webhook_secret: str | None = None
    webhook_secret_file: str | None = None

    def __repr__(self) -> str:  # never a secret in a log or a traceback
        return f"SourceSettings(url={redact_url(self.url)!r}, adapter={self.adapter!r}, …)"

    def config(self, webhook_secrets: tuple[str, ...] = ()) -> SourceConfig:
        """The adapter's options; ``webhook_secrets`` stand where it has none of its own."""
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
            credential=self.credential,
            options=dict(self.options),
            webhook_secrets=(self.webhook_secret,) if self.webhook_secret else webhook_secrets,
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


class Settings(Limits, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every setting. The document limits (``OG_MAX_DEPTH`` …) are the fields of
    :class:`Limits`, which this extends: the document analyser takes the settings as
    its limits."""

    host: str = "127.0.0.1"  # a host name or address: never empty (that is every interface)
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8000
    # Server processes of `serve` (gateway.workers); None: one per core, or one with
    # the memory cache, which cannot be shared between processes.
    workers: Count | None = None
    graphiql: bool = True  # GraphiQL in dev mode (false: not even there); never outside it
    document_cache_size: NonNegative = 512  # parsed and validated documents kept per process
    # ... and their estimated size (300 bytes per character of query text); refused
    # documents are never kept.
    document_cache_bytes: NonNegative = 64_000_000
    log_level: LogLevel = "INFO"  # in any case, WARN and FATAL too (read as their levels)
    log_format: Literal["json", "text"] = "json"
    tracing_exporter: Literal["none", "console", "otlp"] = "none"
    otlp_endpoint: str | None = None  # for "otlp"; else the OTEL_EXPORTER_OTLP_* variables
    request_deadline_ms: Millis = 800  # the whole query; each upstream call gets what is left
    # Queries and subscription events run by plans compiled once per admitted document
    # (resolvers.compiled); what the compiler does not cover falls back to the reference
    # executor.
    compiled_execution: bool = True
    shutdown_drain_ms: NonNegative = 2000  # after SIGTERM: not ready, still serving
    shutdown_grace_ms: NonNegative = 10000  # then: how long requests in flight may take
    cache_url: str = "memory://"  # or redis://host:port/db
    cache_local_ttl_ms: NonNegative = 2000  # in-process copies in front of Redis; 0: none
    # A Redis call, pool wait and connecting included, is cut off after this: a miss,
    # answered by the source (a claim or strict call is refused instead).
    cache_timeout_ms: Millis = 100
    # Whole answers of queries, dropped by the change events that drop what they read
    # (gateway.response_cache); kept at most as long as the first entity read stays
    # fresh, and never longer than this.
    response_cache: bool = True
    response_cache_max_ttl_ms: Millis = 10_000
    response_cache_control: bool = False  # Cache-Control: private, max-age / no-store
    response_cache_tag_headers: bool = False  # Cache-Tag and Surrogate-Key with the tags
    # Standard Webhooks secrets ("whsec_…"); two during a rotation. None: webhooks off.
    webhook_secrets: list[str] = msgspec.field(default_factory=list)
    # The exception queue: kept current by change events and by a sweep of what changed
    # or fell due (one instance at a time, at start-up and then every interval).
    exception_queue: bool = True
    exception_sweep_interval_ms: Annotated[int, msgspec.Meta(ge=1000)] = 60_000
    # Access: dev mode lets anonymous requests in as an internal console and turns
    # GraphiQL and introspection on. Never in production.
    dev_mode: bool = False
    # Pages besides the gateway's own (on a loopback name) that may open a WebSocket or
    # an event stream in dev mode: "scheme://host[:port]", comma-separated.
    allowed_origins: list[str] = msgspec.field(default_factory=list)
    keys_url: str = "file:.ordergraph/keys.json"  # or redis://…
    # A Redis key store call, connecting included, is cut off after this: the request
    # is refused (503 AUTH_UNAVAILABLE, retryable), never let through unchecked.
    keys_timeout_ms: Millis = 400
    key_pepper: str | None = None  # HMAC key for API key hashes; required outside dev mode
    # Bearer token for /metrics and /readyz's details; None: open to anyone who can connect.
    # Set, at least MIN_ADMIN_TOKEN_CHARS visible ASCII characters (never empty).
    admin_token: str | None = None
    # How long `serve` waits at start-up for a redis:// cache or key store to answer
    # (retrying) before it refuses to start.
    startup_timeout_ms: Millis = 5000
    persisted_manifest: str | None = None  # JSON {id: document} of trusted documents
    max_body_bytes: Count = 1_000_000
    # Slow clients (gateway.slow_clients): a request's headers within this of its first
    # byte; its body within body_timeout_ms plus a second per body_min_bytes_per_s.
    header_timeout_ms: Millis = 10_000
    body_timeout_ms: Millis = 10_000
    body_min_bytes_per_s: Count = 10_000
    max_connections_per_client: NonNegative = 256  # per client address; 0: no cap
    batching: bool = False
    max_batch: Count = 10
    max_in_flight: Count = 64  # operations executing at once; more get 429 OVERLOADED
    # New /graphql requests get 503 OVERLOADED while the event loop's lag has stayed
    # above this (gateway.capacity.LoopAdmission); 0: never.
    max_loop_lag_ms: NonNegative = 200
    # Live updates (subscriptions over WebSocket and server-sent events)
    live_max_connections: NonNegative = 10_000  # WebSockets and event streams open at once
    live_max_subscriptions: Count = 20  # per WebSocket connection
    ws_init_timeout_ms: Millis = 3000  # until connection_init, else close 4408
    live_key_recheck_ms: Millis = 60_000  # a live stream's key checked again (revocation)
    # A verified key is trusted in-process this long before the store is asked again:
    # a revoked key keeps working here for at most this long.
    key_trust_ms: Millis = 5000
    sse_ping_s: Annotated[float, msgspec.Meta(gt=0)] = 15.0  # keep-alives on event streams
    sources: dict[str, SourceSettings] = msgspec.field(default_factory=_default_sources)

    @property
    def serves_graphiql(self) -> bool:
        """GraphiQL is served in dev mode only, and there unless turned off."""
        return self.dev_mode and self.graphiql

    def __repr__(self) -> str:  # never a secret in a log or a traceback
        return f"Settings(host={self.host!r}, port={self.port}, …)"

    def source(self, name: str) -> SourceConfig:
        return self.sources[name].config(tuple(self.webhook_secrets))

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
        raise invalid_setting(f"{env}{name.upper()}", f"{key}{name}", problem) from exc


def invalid_setting(variable: str, key: str, problem: str) -> SettingsError:
    """The error for a bad value, named as environment variable and config file key."""
    return SettingsError(f"invalid setting {variable} ({key}): {problem}")


def _table(value: Any, key: str) -> dict[str, Any]:
    """``value``, which the config file must hold as the table ``[key]``."""
    if not isinstance(value, dict):
        raise SettingsError(
            f"invalid settings in [{key}]: expected a table, got {type(value).__name__}"
        )
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings; raise ``SettingsError`` naming the first bad value."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_path = env.get("OG_CONFIG")
    if config_path:
        try:
            with open(config_path, "rb") as handle:
                values = tomllib.load(handle)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"OG_CONFIG={config_path}: {exc}") from exc

    for name in Settings.__struct_fields__:
        if name != "sources" and f"OG_{name.upper()}" in env:
            values[name] = env[f"OG_{name.upper()}"]
    for listed in ("webhook_secrets", "allowed_origins"):
        if isinstance(values.get(listed), str):
            items = values[listed].split(",")
            values[listed] = [item.strip() for item in items if item.strip()]
    if isinstance(values.get("log_level"), str):
        level = values["log_level"].strip().upper()
        values["log_level"] = _LOG_LEVEL_ALIASES.get(level, level)

    sources: dict[str, dict[str, Any]] = {
        name: {"url": settings.url} for name, settings in _default_sources().items()
    }
    for name, table in _table(values.get("sources", {}), "sources").items():
        sources.setdefault(name, {}).update(_table(table, f"sources.{name}"))
    for name in SOURCE_NAMES:
        for field in SourceSettings.__struct_fields__:
            key = f"OG_{name.upper()}_{field.upper()}"
            if key in env:
                sources[name][field] = env[key]
        if isinstance(sources[name].get("options"), str):
            sources[name]["options"] = _options(sources[name]["options"], name)
    unknown = set(sources) - set(SOURCE_NAMES)
    if unknown:
        raise SettingsError(f"unknown source(s) in config: {', '.join(sorted(unknown))}")
    values["sources"] = {
        name: _with_secret_files(
            _convert(table, SourceSettings, f"OG_{name.upper()}_", f"sources.{name}."), name
        )
        for name, table in sources.items()
    }
    settings = _convert(values, Settings, "OG_", "")
    _check(settings)
    return settings


def _options(text: str, source: str) -> dict[str, str]:
    """``OG_<SOURCE>_OPTIONS``: ``key=value`` pairs, comma-separated."""
    options = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            variable = f"OG_{source.upper()}_OPTIONS"
            raise invalid_setting(
                variable, f"sources.{source}.options", f"{item!r} is not key=value"
            )
        options[key.strip()] = value.strip()
    return options


def _with_secret_files(source: SourceSettings, name: str) -> SourceSettings:
    """``source`` with the secrets it names by file read in (their values never shown)."""
    changes = {}
    for secret in ("credential", "webhook_secret"):
        path = getattr(source, f"{secret}_file")
        variable, key = f"OG_{name.upper()}_{secret.upper()}", f"sources.{name}.{secret}"
        if path is None:
            continue
        if getattr(source, secret) is not None:
            raise invalid_setting(
                f"{variable}_FILE", f"{key}_file", f"set {variable} or this, not both"
            )
        try:
            with open(path, encoding="utf-8") as handle:
                value = handle.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            problem = f"{path}: {getattr(exc, 'strerror', None) or exc}"
            raise invalid_setting(f"{variable}_FILE", f"{key}_file", problem) from None
        if not value:
            raise invalid_setting(f"{variable}_FILE", f"{key}_file", f"{path} is empty")
        changes[secret] = value
    return msgspec.structs.replace(source, **changes) if changes else source


# A host name (letters, digits, dots, hyphens, underscores) or an IP address.
_HOST = re.compile(r"^[A-Za-z0-9._-]+$|^[0-9A-Fa-f:.]+(%[\w.-]+)?$")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def _user_info(url: str) -> tuple[str, str, str] | None:
    """``url`` as (up to its ``://``, its user info, what follows the ``@``), or None
    without an ``@`` or with an empty authority (``file:///…``, ``unix:///…``). The user
    info ends at the last ``@``: a password may hold ``@``, ``/``, ``?`` and ``#`` as
    they are, so an ``@`` further on (in a path) makes it longer, never shorter."""
    scheme = _SCHEME.match(url)
    start = scheme.end() if scheme else 0
    at = url.rfind("@", start)
    if at < 0 or url.startswith("/", start):
        return None
    return url[:start], url[start:at], url[at + 1 :]


def redact_url(url: str) -> str:
    """``url`` without its user name and password (``redis://:pw@host`` →
    ``redis://***@host``): everything up to its last ``@`` after the scheme."""
    parts = _user_info(url)
    return url if parts is None else f"{parts[0]}***@{parts[2]}"


def key_store_kind(url: str) -> Literal["redis", "file"] | None:
    """Which key store ``url`` names: ``"redis"`` for a Redis URL (a scheme of
    ``REDIS_SCHEMES``, as for the cache), ``"file"`` for ``file:///absolute/keys.json``
    or ``file:relative/keys.json``; ``None`` for anything else (another scheme, or a
    ``file:`` URL with a host, no path, a query or a fragment). What the settings check
    takes and ``gateway.auth.store.open_key_store`` opens."""
    parts = urlsplit(url)
    if parts.scheme in REDIS_SCHEMES:
        return "redis"
    if parts.scheme == "file":
        well_formed = parts.path and not (parts.netloc or parts.query or parts.fragment)
        return "file" if well_formed else None
    return None


def _check(settings: Settings) -> None:
    """What the types alone do not say: a host to listen on, an operator token that
    cannot be guessed, usable URLs (HTTP ones for the sources and the OTLP collector,
    Redis or file ones for the key store, those or memory:// with its bounds for the
    cache), Standard Webhooks secrets, registered adapters."""
    if not settings.host.strip():
        problem = "empty: that is every interface; set 127.0.0.1, or 0.0.0.0 for every one"
        raise invalid_setting("OG_HOST", "host", problem)
    if not _HOST.match(settings.host):
        raise invalid_setting("OG_HOST", "host", f"{settings.host!r} is no host name or address")
    if settings.admin_token is not None:
        _check_admin_token(settings.admin_token)
    if settings.persisted_manifest == "":
        problem = "empty; unset it for no trusted documents"
        raise invalid_setting("OG_PERSISTED_MANIFEST", "persisted_manifest", problem)
    web = [
        (f"OG_{name.upper()}_URL", f"sources.{name}.url", source.url)
        for name, source in settings.sources.items()
    ]
    registered = adapters_by_source()
    for name, source in settings.sources.items():
        known = registered.get(name, [NATIVE])
        if source.adapter not in known:
            problem = f"{source.adapter!r}: the {name} adapters here are {', '.join(known)}"
            raise invalid_setting(f"OG_{name.upper()}_ADAPTER", f"sources.{name}.adapter", problem)
    if settings.otlp_endpoint is not None:
        web.append(("OG_OTLP_ENDPOINT", "otlp_endpoint", settings.otlp_endpoint))
    for variable, key, url in web:
        parts = _split(url, variable, key)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problem = f"{redact_url(url)!r}: use http://host:port or https://…"
            raise invalid_setting(variable, key, problem)
        if parts.query or parts.fragment:
            problem = f"{redact_url(url)!r}: a base URL takes no ?query or #fragment"
            raise invalid_setting(variable, key, problem)
    parts = _split(settings.cache_url, "OG_CACHE_URL", "cache_url")
    if parts.scheme not in (*REDIS_SCHEMES, "memory"):
        problem = f"{redact_url(settings.cache_url)!r}: use memory:// or redis://…"
        raise invalid_setting("OG_CACHE_URL", "cache_url", problem)
    if parts.scheme in REDIS_SCHEMES:
        _check_redis_url(parts, settings.cache_url, "OG_CACHE_URL", "cache_url")
    else:
        _check_memory_url(parts)
    parts = _split(settings.keys_url, "OG_KEYS_URL", "keys_url")
    kind = key_store_kind(settings.keys_url)
    shown = redact_url(settings.keys_url)
    if kind is None and parts.scheme == "file":
        problem = f"{shown!r}: use file:///absolute/keys.json or file:relative.json"
        raise invalid_setting("OG_KEYS_URL", "keys_url", problem)
    if kind is None:
        problem = f"{shown!r}: use file:path/keys.json or redis://…"
        raise invalid_setting("OG_KEYS_URL", "keys_url", problem)
    if kind == "redis":
        _check_redis_url(parts, settings.keys_url, "OG_KEYS_URL", "keys_url")
    count = len(settings.webhook_secrets)
    for number, secret in enumerate(settings.webhook_secrets, 1):
        wrong = secret_problem(secret)
        if wrong is not None:  # never the secret itself
            problem = f"secret {number} of {count} {wrong}; make one: ordergraph webhooks secret"
            raise invalid_setting("OG_WEBHOOK_SECRETS", "webhook_secrets", problem)


def _check_admin_token(token: str) -> None:
    """An operator token a client can send and nobody can guess (never shown)."""
    if not token:
        problem = "empty; unset it to leave /metrics and /readyz open, or set a token"
    elif not all("!" <= char <= "~" for char in token):
        problem = "holds a space, a control or a non-ASCII character: a header cannot carry it"
    elif len(token) < MIN_ADMIN_TOKEN_CHARS:
        problem = f"{len(token)} characters; at least {MIN_ADMIN_TOKEN_CHARS} are needed"
    else:
        return
    make = "make one: openssl rand -hex 32"
    raise invalid_setting("OG_ADMIN_TOKEN", "admin_token", f"{problem} ({make})")


def _check_memory_url(parts: SplitResult) -> None:
    """``memory://`` takes only its bounds, each a whole number of at least 1."""
    for name, values in parse_qs(parts.query).items():
        if name not in MEMORY_BOUNDS:
            problem = f"memory:// takes only ?{'=N&'.join(MEMORY_BOUNDS)}=N, not {name!r}"
            raise invalid_setting("OG_CACHE_URL", "cache_url", problem)
        for value in values:
            if not re.fullmatch(r"[0-9]+", value) or int(value) < 1:
                problem = f"{name}={value!r}: a whole number of at least 1"
                raise invalid_setting("OG_CACHE_URL", "cache_url", problem)


def _check_redis_url(parts: SplitResult, url: str, variable: str, key: str) -> None:
    """A Redis URL names its host (``redis://``, ``rediss://``) or its socket (``unix://``)."""
    if parts.scheme == "unix":
        if not parts.path or parts.hostname:
            problem = f"{redact_url(url)!r}: no socket; use unix:///path/redis.sock?db=N"
            raise invalid_setting(variable, key, problem)
    elif not parts.hostname:
        problem = f"{redact_url(url)!r}: no host; use redis://host:port/db"
        raise invalid_setting(variable, key, problem)


def _split(url: str, variable: str, key: str) -> SplitResult:
    """``url`` in parts, its port included (a ``SettingsError`` if it has no sense:
    a port out of range or not a number, a space or control character, user info
    holding a delimiter as it is, a host that is no host name or address)."""
    shown = redact_url(url)
    if any(char.isspace() or not char.isprintable() for char in url):
        raise invalid_setting(variable, key, f"{shown!r}: contains a space or control character")
    user_info = _user_info(url)
    if _SCHEME.match(url) and user_info and any(char in user_info[1] for char in "/?#"):
        problem = (
            f"{shown!r}: percent-encode a '/', '?', '#' or '@' in the user name or "
            "password (%2F, %3F, %23, %40), or an '@' in the path (%40)"
        )
        raise invalid_setting(variable, key, problem)
    try:
        parts = urlsplit(url)
        _ = parts.port  # parsed when read: a port out of range or not a number raises
    except ValueError as exc:
        raise invalid_setting(variable, key, f"{shown!r}: {exc}") from exc
    if parts.hostname and not _HOST.match(parts.hostname):
        raise invalid_setting(variable, key, f"{shown!r}: {parts.hostname!r} is no host name")
    return parts
