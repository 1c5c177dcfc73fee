"""Settings: environment over file over defaults, and clear errors."""

from __future__ import annotations

import pytest

from gateway.settings import SettingsError, load_settings


def test_defaults():
    settings = load_settings({})
    assert settings.port == 8000 and settings.graphiql is False
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
    ],
)
def test_bad_settings_name_the_problem(environ, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(environ)


def test_unknown_keys_are_rejected(tmp_path):
    config = tmp_path / "og.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(SettingsError, match="prot"):
        load_settings({"OG_CONFIG": str(config)})
    config.write_text('[sources.crm]\nurl = "http://x"\n')
    with pytest.raises(SettingsError, match="crm"):
        load_settings({"OG_CONFIG": str(config)})
