"""Settings read from files: the config file (OG_CONFIG) under the environment, and
secrets read from files; each problem a clear error naming the setting. (The rules
that need no file are in tests/unit/test_settings.py.)"""

from __future__ import annotations

import pytest

from gateway.settings import SettingsError, load_settings
from tests.support.webhook_receiver import SECRET


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
    ("config", "message"),
    [
        ('sources = "x"\n', r"^invalid settings in \[sources\]: "),
        ("sources = [1, 2]\n", r"^invalid settings in \[sources\]: "),
        ("[sources]\noms = 3\n", r"^invalid settings in \[sources\.oms\]: "),
        ("[[sources.carrier]]\nurl = 'http://x'\n", r"^invalid settings in \[sources\.carrier\]: "),
        ("[sources.oms]\nurl = 5\n", r"^invalid setting OG_OMS_URL \(sources\.oms\.url\): "),
        ("port = 80.5\n", r"^invalid setting OG_PORT \(port\): "),
        ("webhook_secrets = 5\n", r"^invalid setting OG_WEBHOOK_SECRETS \(webhook_secrets\): "),
        ('log_format = "xml"\n', r"^invalid setting OG_LOG_FORMAT \(log_format\): "),
        ('tracing_exporter = "zipkin"\n', r"^invalid setting OG_TRACING_EXPORTER "),
        ('log_level = "LOUD"\n', r"^invalid setting OG_LOG_LEVEL \(log_level\): "),
        ("log_level = 30\n", r"^invalid setting OG_LOG_LEVEL \(log_level\): "),
        ('admin_token = ""\n', r"^invalid setting OG_ADMIN_TOKEN \(admin_token\): "),
        ('host = ""\n', r"^invalid setting OG_HOST \(host\): "),
        ('cache_url = "memory://?max_entries=abc"\n', r"^invalid setting OG_CACHE_URL "),
        ("[port]\nvalue = 1\n", r"^invalid setting OG_PORT \(port\): "),
    ],
)
def test_a_malformed_config_file_is_a_settings_error_naming_the_setting(tmp_path, config, message):
    path = tmp_path / "og.toml"
    path.write_text(config)
    with pytest.raises(SettingsError, match=message):
        load_settings({"OG_CONFIG": str(path)})


def test_a_config_file_takes_a_log_level_by_its_alias(tmp_path):
    path = tmp_path / "og.toml"
    path.write_text('log_level = "warn"\n')
    assert load_settings({"OG_CONFIG": str(path)}).log_level == "WARNING"


def test_a_config_file_that_is_not_utf8_is_a_settings_error(tmp_path):
    path = tmp_path / "og.toml"
    path.write_bytes(b'host = "caf\xe9"\n')
    with pytest.raises(SettingsError, match=r"^OG_CONFIG="):
        load_settings({"OG_CONFIG": str(path)})


def test_unknown_keys_are_rejected(tmp_path):
    config = tmp_path / "og.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(SettingsError, match="prot"):
        load_settings({"OG_CONFIG": str(config)})
    config.write_text('[sources.crm]\nurl = "http://x"\n')
    with pytest.raises(SettingsError, match="crm"):
        load_settings({"OG_CONFIG": str(config)})


def test_an_adapter_takes_its_own_settings_from_the_environment_or_files(tmp_path):
    key_file = tmp_path / "aftership.key"
    key_file.write_text("as-key-from-a-file\n")
    settings = load_settings(
        {
            "OG_CARRIER_ADAPTER": "aftership",
            "OG_CARRIER_URL": "https://api.aftership.com",
            "OG_CARRIER_CREDENTIAL_FILE": str(key_file),
            "OG_CARRIER_OPTIONS": "region=eu, tier = pro,",
            "OG_CARRIER_WEBHOOK_SECRET": "hunter2hunter2",
            "OG_WEBHOOK_SECRETS": SECRET,
        }
    )
    carrier, oms = settings.source("carrier"), settings.source("oms")
    assert carrier.credential == "as-key-from-a-file"
    assert dict(carrier.options) == {"region": "eu", "tier": "pro"}
    # a vendor signs with its own secret; the native sources with the Standard one
    assert (carrier.webhook_secrets, oms.webhook_secrets) == (("hunter2hunter2",), (SECRET,))
    for shown in (repr(settings), repr(settings.sources["carrier"]), repr(carrier)):
        assert "as-key-from-a-file" not in shown and "hunter2hunter2" not in shown


def test_adapter_options_in_the_config_file_are_a_table(tmp_path):
    config = tmp_path / "og.toml"
    config.write_text('[sources.ticketing.options]\norder_field = "360001234"\n')
    settings = load_settings({"OG_CONFIG": str(config)})
    assert dict(settings.source("ticketing").options) == {"order_field": "360001234"}


def test_an_empty_secret_file_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(SettingsError, match=r"OG_CARRIER_CREDENTIAL_FILE .* is empty"):
        load_settings({"OG_CARRIER_CREDENTIAL_FILE": str(empty)})
