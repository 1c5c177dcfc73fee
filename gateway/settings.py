"""Settings from ``OG_*`` environment variables over an optional TOML file.

Precedence: environment, then the file named by ``OG_CONFIG``, then defaults.
Per-source values are ``OG_<SOURCE>_<FIELD>`` in the environment (``OG_OMS_URL``,
``OG_CARRIER_READ_TIMEOUT_MS``) and ``[sources.<source>]`` tables in the file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from typing import Any

import msgspec

from sources.clients import SourceConfig

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
    batch_size: int = 100

    def config(self) -> SourceConfig:
        return SourceConfig(
            base_url=self.url,
            connect_timeout_s=self.connect_timeout_ms / 1000,
            read_timeout_s=self.read_timeout_ms / 1000,
            total_timeout_s=self.total_timeout_ms / 1000,
            max_connections=self.max_connections,
            batch_size=self.batch_size,
        )


def _default_sources() -> dict[str, SourceSettings]:
    return {
        name: SourceSettings(url=f"http://127.0.0.1:{port}") for name, port in DEFAULT_PORTS.items()
    }


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 8000
    graphiql: bool = False
    document_cache_size: int = 512  # parsed and validated documents kept per process
    log_level: str = "INFO"
    sources: dict[str, SourceSettings] = msgspec.field(default_factory=_default_sources)

    def source(self, name: str) -> SourceConfig:
        return self.sources[name].config()


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
    values["sources"] = sources

    try:
        return msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid setting: {exc}") from exc
