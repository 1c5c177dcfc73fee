"""compose.yaml without a Docker daemon: its services, ports, health checks and
environment agree with gateway/settings.py, the simulated sources' command and the
Dockerfile; the gateway's health check runs against a real gateway."""

from __future__ import annotations

import asyncio
import re
import sys
from typing import Any
from urllib.parse import urlsplit

import yaml

from gateway.persisted import load_manifest
from gateway.settings import SOURCE_NAMES, Settings, SourceSettings, load_settings
from tests.support.gateways import RunningGateway
from tests.support.ports import refusing_url
from tests.support.processes import ROOT

TEXT = (ROOT / "compose.yaml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(TEXT)
SERVICES: dict[str, Any] = COMPOSE["services"]
GATEWAY, SIM, REDIS = SERVICES["gateway"], SERVICES["sim"], SERVICES["redis"]
# what .env holds (docs/production.md writes it)
DOT_ENV = {
    "OG_KEY_PEPPER": "q3Vx0m5yA1bS9cTz7dLr2eKw4fJn8gHp6iUo0jXs1kY",
    "OG_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw9jE8oP1xLo0=",
}
VARIABLE = re.compile(r"\$\{(\w+)(?::\?[^}]*)?\}")


def _interpolate(value: str) -> str:
    """A value as ``docker compose`` reads it, with .env's variables."""
    return VARIABLE.sub(lambda m: DOT_ENV[m[1]], value)


def _environment() -> dict[str, str]:
    return {name: _interpolate(str(value)) for name, value in GATEWAY["environment"].items()}


def _settings() -> Settings:
    return load_settings(_environment())


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """container path -> volume or host path."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        mounts[target] = source
    return mounts


def test_three_services_two_built_from_the_dockerfile():
    assert set(SERVICES) == {"redis", "sim", "gateway"}
    assert SIM["build"] == GATEWAY["build"] == "."
    assert SIM["command"][:2] == ["ordergraph", "sim"]
    assert GATEWAY["command"] == ["ordergraph", "serve"]
    assert re.fullmatch(r"redis:\d+\.\d+\.\d+-alpine", REDIS["image"]), "a pinned Redis"


def test_every_variable_it_sets_is_a_setting():
    known = {f"OG_{name.upper()}" for name in Settings.__struct_fields__ if name != "sources"}
    known |= {
        f"OG_{source.upper()}_{field.upper()}"
        for source in SOURCE_NAMES
        for field in SourceSettings.__struct_fields__
    }
    assert set(GATEWAY["environment"]) <= known
    # the only variables left to .env are the two secrets
    assert set(VARIABLE.findall(TEXT)) == set(DOT_ENV)


def test_the_environment_loads_and_is_production_like():
    settings = _settings()
    assert not settings.dev_mode
    assert settings.key_pepper == DOT_ENV["OG_KEY_PEPPER"]
    assert settings.webhook_secrets == [DOT_ENV["OG_WEBHOOK_SECRET"]]
    assert settings.host == "0.0.0.0"


def test_the_published_port_is_og_port():
    (mapping,) = GATEWAY["ports"]
    published, container = mapping.split(":")
    assert int(container) == _settings().port
    assert published == container


def test_the_sources_are_where_the_sim_listens():
    settings = _settings()
    base = int(_option(SIM["command"], "--port-base"))
    assert _option(SIM["command"], "--host") == "0.0.0.0"
    for offset, source in enumerate(SOURCE_NAMES):
        url = urlsplit(settings.sources[source].url)
        assert (url.hostname, url.port) == ("sim", base + offset), source


def test_the_sim_signs_its_webhooks_with_the_secret_the_gateway_checks():
    settings = _settings()
    webhook_url = urlsplit(_option(SIM["command"], "--webhook-url"))
    assert (webhook_url.hostname, webhook_url.port) == ("gateway", settings.port)
    assert webhook_url.path == "/webhooks"
    secret = _interpolate(_option(SIM["command"], "--webhook-secret"))
    assert secret in settings.webhook_secrets


def test_the_cache_is_the_redis_service():
    url = urlsplit(_settings().cache_url)
    assert (url.scheme, url.hostname, url.port) == ("redis", "redis", 6379)
    assert REDIS["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_the_keys_live_on_a_volume():
    store = _settings().keys_url.removeprefix("file:")
    mounts = _mounts(GATEWAY)
    (directory,) = [target for target in mounts if store.startswith(target + "/")]
    assert mounts[directory] in COMPOSE["volumes"], "a named volume, kept across restarts"


def test_the_partner_manifest_is_docs_trusted_documents():
    manifest = _settings().persisted_manifest
    assert manifest is not None
    source = _mounts(GATEWAY)[manifest]
    assert load_manifest(str(ROOT / source)), "the mounted manifest has documents"


def test_the_gateway_starts_once_redis_and_the_sources_are_healthy():
    assert GATEWAY["depends_on"] == {
        "redis": {"condition": "service_healthy"},
        "sim": {"condition": "service_healthy"},
    }


def test_the_sims_healthcheck_asks_each_source():
    base = int(_option(SIM["command"], "--port-base"))
    check = SIM["healthcheck"]["test"][-1]
    assert "/healthz" in check
    assert f"range({base}, {base + len(SOURCE_NAMES)})" in check


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m)", duration)
    assert match, duration
    return int(match[1]) * {"ms": 0.001, "s": 1, "m": 60}[match[2]]


def test_stop_grace_outlasts_drain_and_grace():
    settings = _settings()
    assert GATEWAY["stop_signal"] == "SIGTERM"
    drain_and_grace = (settings.shutdown_drain_ms + settings.shutdown_grace_ms) / 1000
    assert _seconds(GATEWAY["stop_grace_period"]) > drain_and_grace


async def _health(port: str) -> int:
    """The gateway's compose health check's exit status, its OG_PORT being ``port``."""
    argv = GATEWAY["healthcheck"]["test"]
    assert argv[:3] == ["CMD", "python", "-c"]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", argv[3], env={"OG_PORT": port}
    )
    return await asyncio.wait_for(process.wait(), timeout=30)


async def test_the_gateways_healthcheck_asks_readyz_on_og_port(served: RunningGateway):
    assert "/readyz" in GATEWAY["healthcheck"]["test"][3]
    assert GATEWAY["environment"]["OG_PORT"] == str(_settings().port)
    # Compose calls a container unhealthy after `retries` failed checks in a row; on a
    # loaded machine one /readyz may miss its 2 s timeout, as one may in production.
    port = served.url.rsplit(":", 1)[1]
    for _ in range(GATEWAY["healthcheck"]["retries"]):
        if await _health(port) == 0:
            break
    else:
        raise AssertionError("every health check failed")
    closed, sock = refusing_url()
    with sock:
        assert await _health(closed.rsplit(":", 1)[1]) != 0
