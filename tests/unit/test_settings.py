"""Settings: the environment over the defaults, and clear errors naming the setting.
(Settings read from files: tests/integration/test_settings_files.py.)"""

from __future__ import annotations

import base64
import json
import logging

import pytest
from uvicorn.config import LOG_LEVELS

from gateway.settings import Settings, SettingsError, load_settings, redact_url
from gateway.startup import config_summary
from sources.options import REDIS_SCHEMES
from sources.records import MAX_BATCH

# Fixed secrets, so the test ids are the same in every process (pytest-xdist compares them).
NEW_SECRET, OLD_SECRET = ("whsec_" + base64.b64encode(bytes([n]) * 32).decode() for n in (1, 2))


def test_defaults():
    settings = load_settings({})
    assert settings.port == 8000 and settings.graphiql is True and settings.dev_mode is False
    assert settings.sources["oms"].url == "http://127.0.0.1:8101"
    assert settings.source("carrier").total_timeout_s == 3.0


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


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OG_OMS_MAX_CONCURRENCY", "0"),
        ("OG_CARRIER_MAX_CONNECTIONS", "0"),
        ("OG_INVENTORY_CONNECT_TIMEOUT_MS", "0"),
        ("OG_TICKETING_READ_TIMEOUT_MS", "-1"),
        ("OG_OMS_TOTAL_TIMEOUT_MS", "-5"),
        ("OG_OMS_RETRY_ATTEMPTS", "0"),
        ("OG_OMS_BREAKER_FAILURE_RATIO", "0"),
        ("OG_OMS_BREAKER_FAILURE_RATIO", "1.5"),
        ("OG_OMS_BREAKER_MIN_CALLS", "0"),
        ("OG_OMS_BREAKER_OPEN_MS", "0"),
        ("OG_CARRIER_CACHE_TTL_MS", "-1"),
        ("OG_PORT", "70000"),
        ("OG_PORT", "-1"),
        ("OG_REQUEST_DEADLINE_MS", "0"),
        ("OG_SHUTDOWN_GRACE_MS", "-1"),
        ("OG_CACHE_LOCAL_TTL_MS", "-1"),
        ("OG_MAX_IN_FLIGHT", "0"),
        ("OG_MAX_BATCH", "0"),
        ("OG_MAX_BODY_BYTES", "0"),
        ("OG_MAX_DEPTH", "0"),
        ("OG_MAX_COST", "-1"),
        ("OG_LIVE_MAX_SUBSCRIPTIONS", "0"),
        ("OG_WS_INIT_TIMEOUT_MS", "0"),
        ("OG_LIVE_KEY_RECHECK_MS", "0"),
        ("OG_KEY_TRUST_MS", "0"),
        ("OG_SSE_PING_S", "0"),
        ("OG_LOG_LEVEL", "LOUD"),
        ("OG_LOG_LEVEL", "NOTSET"),  # the root logger's "everything", by another name
        ("OG_LOG_LEVEL", "trace"),  # uvicorn's, unknown to logging without it
        ("OG_LOG_FORMAT", "xml"),
        ("OG_TRACING_EXPORTER", "zipkin"),
        ("OG_OMS_URL", "oms.internal:8101"),
        ("OG_CARRIER_URL", "ftp://carrier.internal"),
        ("OG_INVENTORY_URL", "http://[::1"),
        ("OG_TICKETING_URL", "http://ticketing.internal:99999"),
        ("OG_CACHE_URL", "redis://[::1"),
        ("OG_OTLP_ENDPOINT", "collector:4318"),
        ("OG_OMS_URL", "http://oms.internal :8101"),
        ("OG_OMS_URL", "http://oms internal:8101"),
        ("OG_OMS_URL", "http://:8101"),
        ("OG_OMS_URL", "http://oms.internal:port"),
        ("OG_OMS_URL", "http://oms$internal"),
        ("OG_CARRIER_URL", "http://carrier.internal/?x=1"),
        ("OG_CACHE_URL", "redis://"),
        ("OG_CACHE_URL", "redis://cache.internal:abc/0"),
        ("OG_KEYS_URL", "ftp://keys.internal/keys.json"),
        ("OG_KEYS_URL", "file://host/keys.json"),
        ("OG_KEYS_URL", "redis:///0"),
        ("OG_KEYS_URL", "unix://"),  # a Redis socket names its path
        ("OG_CACHE_URL", "unix:"),
        ("OG_CACHE_URL", "unix://cache.internal/redis.sock"),  # a host is no socket
        ("OG_KEYS_URL", "memory://"),  # a key store keeps its keys
        ("OG_KEYS_URL", "file:keys.json?mode=rw"),
        ("OG_CACHE_URL", "memory://?max_entries=abc"),
        ("OG_CACHE_URL", "memory://?max_entries=0"),
        ("OG_CACHE_URL", "memory://?max_bytes=-1"),
        ("OG_CACHE_URL", "memory://?max_bytes=1e6"),
        ("OG_CACHE_URL", "memory://?size=100"),
        ("OG_ADMIN_TOKEN", ""),  # what compose's ${OG_ADMIN_TOKEN} gives when unset
        ("OG_ADMIN_TOKEN", "changeme"),
        ("OG_ADMIN_TOKEN", "t" * 31),
        ("OG_ADMIN_TOKEN", " " + "t" * 40),  # a presented token is stripped: never equal
        ("OG_ADMIN_TOKEN", "t" * 20 + " " + "t" * 20),
        ("OG_ADMIN_TOKEN", "é" * 40),  # a header carries it as Latin-1, compared as UTF-8
        ("OG_HOST", ""),  # would listen on every interface
        ("OG_HOST", "  "),
        ("OG_HOST", "gateway internal"),
        ("OG_STARTUP_TIMEOUT_MS", "0"),
        ("OG_WEBHOOK_SECRETS", "whsec_a"),  # the Standard Webhooks library refuses it
        ("OG_WEBHOOK_SECRETS", "whsec_"),
        ("OG_WEBHOOK_SECRETS", NEW_SECRET.removeprefix("whsec_")),  # no prefix
        ("OG_WEBHOOK_SECRETS", "whsec_c2hvcnQ="),  # a 5-byte key
        ("OG_WEBHOOK_SECRETS", NEW_SECRET[:-6] + "!" + NEW_SECRET[-5:]),  # a typo
        ("OG_WEBHOOK_SECRETS", f"{NEW_SECRET},{OLD_SECRET[:20]} {OLD_SECRET[20:]}"),
    ],
)
def test_values_that_make_no_sense_are_refused_naming_the_variable(variable, value):
    with pytest.raises(SettingsError, match=rf"^invalid setting {variable} \("):
        load_settings({variable: value})


def test_the_smallest_sensible_values_are_taken():
    settings = load_settings(
        {
            "OG_OMS_MAX_CONCURRENCY": "1",
            "OG_OMS_MAX_CONNECTIONS": "1",
            "OG_OMS_TOTAL_TIMEOUT_MS": "1",
            "OG_OMS_RETRY_ATTEMPTS": "1",
            "OG_OMS_BREAKER_FAILURE_RATIO": "1",
            "OG_OMS_CACHE_STALE_MS": "0",
            "OG_PORT": "0",
            "OG_SHUTDOWN_DRAIN_MS": "0",
            "OG_CACHE_LOCAL_TTL_MS": "0",
            "OG_MAX_ALIASES": "0",
            "OG_LOG_LEVEL": "debug",
            "OG_ADMIN_TOKEN": "t" * 32,
            "OG_CACHE_URL": "memory://?max_entries=1&max_bytes=1",
        }
    )
    oms = settings.source("oms")
    assert (oms.max_concurrency, oms.max_connections, oms.total_timeout_s) == (1, 1, 0.001)
    assert (oms.retry_attempts, oms.breaker_failure_ratio) == (1, 1.0)
    assert settings.cache_policies()["oms"].stale_s == 0
    assert (settings.port, settings.shutdown_drain_ms, settings.max_aliases) == (0, 0, 0)
    assert (settings.log_level, settings.admin_token) == ("DEBUG", "t" * 32)
    assert load_settings({}).admin_token is None  # unset: no token, both open


@pytest.mark.parametrize(
    ("value", "level"),
    [
        ("WARN", "WARNING"),
        ("warn", "WARNING"),
        ("Warning", "WARNING"),
        ("FATAL", "CRITICAL"),
        ("critical", "CRITICAL"),
        ("error", "ERROR"),
        ("info", "INFO"),
        ("DEBUG", "DEBUG"),
    ],
)
def test_a_log_level_is_taken_in_any_case_and_by_its_aliases(value, level):
    assert load_settings({"OG_LOG_LEVEL": value}).log_level == level


def test_every_log_level_taken_is_one_uvicorn_knows():
    """uvicorn looks the level up in its own table (a KeyError for WARN killed serve)."""
    taken = []
    for name in [*logging.getLevelNamesMapping(), "TRACE"]:
        for value in (name, name.lower()):
            try:
                taken.append(load_settings({"OG_LOG_LEVEL": value}).log_level)
            except SettingsError as exc:
                assert str(exc).startswith("invalid setting OG_LOG_LEVEL (log_level): ")
    assert {level.lower() for level in taken} <= set(LOG_LEVELS)
    assert {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"} <= set(taken)


def test_cache_and_webhook_settings():
    settings = load_settings(
        {
            "OG_CACHE_URL": "redis://127.0.0.1:6390/2",
            "OG_WEBHOOK_SECRETS": f"{NEW_SECRET}, {OLD_SECRET}",
            "OG_CARRIER_CACHE_TTL_MS": "1500",
        }
    )
    assert settings.cache_url == "redis://127.0.0.1:6390/2"
    assert settings.webhook_secrets == [NEW_SECRET, OLD_SECRET]
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


@pytest.mark.parametrize(
    ("variable", "value", "secret"),
    [
        ("OG_CACHE_URL", "redis://:hunter2hunter2@cache.internal:port/0", "hunter2hunter2"),
        ("OG_KEYS_URL", "rediss://og:hunter2hunter2@/0", "hunter2hunter2"),
        ("OG_OMS_URL", "http://og:hunter2hunter2@oms.internal/?q", "hunter2hunter2"),
        ("OG_WEBHOOK_SECRETS", NEW_SECRET[:-6] + "!" + NEW_SECRET[-5:], NEW_SECRET[6:-6]),
        # A password holding '#', '/', '?' or '@' as it is (not percent-encoded)
        ("OG_CACHE_URL", "redis://:s3cr#et@localhost:6379/0", "s3cr"),
        ("OG_CACHE_URL", "redis://og:s3cr/et@cache.internal:6379/0", "s3cr"),
        ("OG_KEYS_URL", "rediss://og:s3cr?et@keys.internal:6380/1", "s3cr"),
        ("OG_KEYS_URL", "unix://:s3cr#et@/run/redis.sock?db=1", "s3cr"),
        ("OG_OTLP_ENDPOINT", "http://og:s3cr?et@collector:4318", "s3cr"),
        ("OG_OMS_URL", "https://og:s3cr#et@oms.internal", "s3cr"),
        ("OG_CARRIER_URL", "http://og:s3cr/e@t@carrier.internal:8103", "s3cr"),
        ("OG_CACHE_URL", "og:s3cret@cache.internal:6379", "s3cret"),  # no scheme
        ("OG_ADMIN_TOKEN", "hunter2hunter2", "hunter2"),
    ],
)
def test_a_refused_value_never_shows_its_secret(variable, value, secret):
    with pytest.raises(SettingsError, match=rf"^invalid setting {variable} \(") as caught:
        load_settings({variable: value})
    assert secret not in str(caught.value)


def test_a_password_holding_a_delimiter_is_told_to_be_percent_encoded():
    with pytest.raises(SettingsError, match=r"percent-encode") as caught:
        load_settings({"OG_CACHE_URL": "redis://:s3cr#et@localhost:6379/0"})
    assert "'redis://***@localhost:6379/0'" in str(caught.value)
    url = "redis://:s3cr%23et@localhost:6379/0"
    assert load_settings({"OG_CACHE_URL": url}).cache_url == url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@cache:6379/0", "redis://***@cache:6379/0"),
        ("rediss://user:p@ss@cache/1", "rediss://***@cache/1"),
        ("redis://cache:6379/0", "redis://cache:6379/0"),
        ("file:.ordergraph/keys.json", "file:.ordergraph/keys.json"),
        ("unix:///run/a@b/redis.sock?db=1", "unix:///run/a@b/redis.sock?db=1"),  # no host
        # The user info ends at the last '@': a password may hold '#', '/', '?' and '@'.
        ("redis://:s3cr#et@localhost:6379/0", "redis://***@localhost:6379/0"),
        ("redis://og:s3/cr?et@cache:6379/0", "redis://***@cache:6379/0"),
        (
            "rediss://og:s3@cr#e/t?x@cache:6380/1?ssl_cert_reqs=none",
            "rediss://***@cache:6380/1?ssl_cert_reqs=none",
        ),
        ("http://og:s3cr?et/x@oms.internal:8101/v1", "http://***@oms.internal:8101/v1"),
        ("unix://:s3cr#et@/run/redis.sock?db=1", "unix://***@/run/redis.sock?db=1"),
        ("og:s3cret@cache:6379", "***@cache:6379"),  # no scheme
        # ... so an '@' past the host hides more than the user info, never less
        ("http://oms/a@b", "http://***@b"),
    ],
)
def test_redact_url_hides_the_whole_user_info(url, shown):
    assert redact_url(url) == shown


def test_the_configuration_shown_holds_no_password():
    """What /readyz and the start-up log show, for settings made in code (unchecked)."""
    settings = Settings(
        cache_url="redis://:s3cr#et@cache.internal:6379/0",
        keys_url="rediss://og:s3/cr?et@keys.internal:6380/1",
    )
    shown = json.dumps(config_summary(settings))
    assert "s3cr" not in shown
    assert "redis://***@cache.internal:6379/0" in shown
    assert "rediss://***@keys.internal:6380/1" in shown


def test_good_urls_and_secrets_are_taken():
    settings = load_settings(
        {
            "OG_OMS_URL": "http://[::1]:8101",
            "OG_CARRIER_URL": "https://carrier_1.internal/v2",
            "OG_CACHE_URL": "unix:///run/redis.sock",
            "OG_KEYS_URL": "redis://:pw@keys.internal:6379/1",
            "OG_WEBHOOK_SECRETS": f" {NEW_SECRET} ,{OLD_SECRET.rstrip('=')}",  # unpadded too
            "OG_STARTUP_TIMEOUT_MS": "250",
        }
    )
    assert settings.webhook_secrets == [NEW_SECRET, OLD_SECRET.rstrip("=")]
    assert settings.startup_timeout_ms == 250 and load_settings({}).startup_timeout_ms == 5000


# A Redis URL of each scheme Redis may be reached by (REDIS_SCHEMES), for the cache and
# the key store alike.
REDIS_URLS = {
    "redis": "redis://:pw@keys.internal:6379/1",
    "rediss": "rediss://keys.internal:6380/1",
    "unix": "unix://:pw@/run/redis/redis.sock?db=1",  # a password, as redis-py reads it
}


def test_every_redis_scheme_has_an_example():
    assert set(REDIS_URLS) == REDIS_SCHEMES


@pytest.mark.parametrize("url", REDIS_URLS.values(), ids=REDIS_URLS.keys())
def test_the_key_store_takes_every_redis_url_the_cache_takes(url):
    settings = load_settings({"OG_CACHE_URL": url, "OG_KEYS_URL": url})
    assert (settings.cache_url, settings.keys_url) == (url, url)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"OG_CARRIER_OPTIONS": "region"}, "OG_CARRIER_OPTIONS .*'region' is not key=value"),
        (
            {"OG_OMS_CREDENTIAL": "hunter2hunter2", "OG_OMS_CREDENTIAL_FILE": "/x"},
            "OG_OMS_CREDENTIAL_FILE .*set OG_OMS_CREDENTIAL or this, not both",
        ),
        (
            {"OG_TICKETING_WEBHOOK_SECRET_FILE": "/no/such/file"},
            "OG_TICKETING_WEBHOOK_SECRET_FILE .*/no/such/file",
        ),
    ],
)
def test_bad_adapter_settings_name_the_variable(environ, message):
    with pytest.raises(SettingsError, match=message) as caught:
        load_settings(environ)
    assert "hunter2hunter2" not in str(caught.value)
