"""Settings: environment over file over defaults, and clear errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gateway.settings import SettingsError, load_settings
from sources.records import MAX_BATCH


def test_defaults():
    settings = load_settings({})
    assert settings.port == 8000 and settings.graphiql is True and settings.dev_mode is False
    assert settings.sources["oms"].url == "http://127.0.0.1:8101"
    assert settings.source("carrier").total_timeout_s == 3.0


def test_environment_overrides_file(tmp_path):
    config = tmp_path / "og.toml"
    config.write_text(
        "port = 9100\n"
        "[sources.carrier]\n"
        'url = "http://carrier.internal:80"\n'
        "read_timeout_ms = 700\n"
    )
    settings = load_settings(
        {"OG_CONFIG": str(config), "OG_PORT": "9200", "OG_CARRIER_BATCH_SIZE": "50"}
    )
    assert settings.port == 9200
    carrier = settings.source("carrier")
    assert carrier.base_url == "http://carrier.internal:80"
    assert (carrier.read_timeout_s, carrier.batch_size) == (0.7, 50)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"OG_PORT": "eighty"}, "port"),
        ({"OG_CONFIG": "/nonexistent/og.toml"}, "OG_CONFIG"),
        ({"OG_EXCEPTION_SWEEP_INTERVAL_MS": "10"}, "exception_sweep_interval_ms"),
    ],
)
def test_bad_settings_name_the_problem(environ, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(environ)


@pytest.mark.parametrize("value", ["0", "101", "-5"])
def test_a_batch_size_beyond_what_the_sources_accept_is_refused(value):
    """The sources answer more than 100 ids per call with 400 (sources.records.MAX_BATCH)."""
    with pytest.raises(SettingsError, match=r"OG_INVENTORY_BATCH_SIZE \(sources\.inventory\."):
        load_settings({"OG_INVENTORY_BATCH_SIZE": value})
    assert load_settings({"OG_INVENTORY_BATCH_SIZE": "1"}).source("inventory").batch_size == 1
    assert load_settings({}).source("inventory").batch_size == MAX_BATCH == 100


def test_the_gateway_refuses_to_start_on_a_bad_batch_size(tmp_path):
    config = tmp_path / "og.toml"
    config.write_text("[sources.carrier]\nbatch_size = 500\n")
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve"],
        env={**os.environ, "OG_CONFIG": str(config)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "ordergraph: invalid setting OG_CARRIER_BATCH_SIZE (sources.carrier.batch_size): "
        "Expected `int` <= 100"
    )


def test_unknown_keys_are_rejected(tmp_path):
    config = tmp_path / "og.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(SettingsError, match="prot"):
        load_settings({"OG_CONFIG": str(config)})
    config.write_text('[sources.crm]\nurl = "http://x"\n')
    with pytest.raises(SettingsError, match="crm"):
        load_settings({"OG_CONFIG": str(config)})


def test_cache_and_webhook_settings():
    settings = load_settings(
        {
            "OG_CACHE_URL": "redis://127.0.0.1:6390/2",
            "OG_WEBHOOK_SECRETS": "whsec_new,whsec_old",
            "OG_CARRIER_CACHE_TTL_MS": "1500",
        }
    )
    assert settings.cache_url == "redis://127.0.0.1:6390/2"
    assert settings.webhook_secrets == ["whsec_new", "whsec_old"]
    policies = settings.cache_policies()
    assert (policies["carrier"].ttl_s, policies["carrier"].keep_s) == (1.5, 600.0)
    assert policies["oms"].ttl_s == 30.0 and policies["inventory"].ttl_s == 10.0


def test_exception_queue_settings():
    assert (load_settings({}).exception_queue, load_settings({}).exception_sweep_interval_ms) == (
        True,
        60_000,
    )
    settings = load_settings(
        {"OG_EXCEPTION_QUEUE": "false", "OG_EXCEPTION_SWEEP_INTERVAL_MS": "5000"}
    )
    assert (settings.exception_queue, settings.exception_sweep_interval_ms) == (False, 5000)


def test_an_unknown_cache_scheme_is_refused():
    with pytest.raises(SettingsError, match="cache_url"):
        load_settings({"OG_CACHE_URL": "memcached://x"})
