"""Adapters as the seam: the native clients satisfy their sources' protocols, and a
package's adapters are found through the ``ordergraph.adapters`` entry points, named
in the settings, and refused at start-up when unknown or not an adapter."""

from __future__ import annotations

import asyncio
import gc

import pytest

from gateway.settings import SettingsError, load_settings
from sources.adapters.names import adapter_names
from sources.adapters.registry import PROTOCOLS, AdapterError, Upstreams, open_adapter
from sources.options import SourceConfig
from tests.support.adapters import installed_adapters

CONFIG = SourceConfig(base_url="http://127.0.0.1:9")


@pytest.fixture
def package(tmp_path):
    with installed_adapters(tmp_path):
        yield


@pytest.mark.parametrize("source", sorted(PROTOCOLS))
async def test_each_native_client_is_its_sources_adapter(source):
    adapter = open_adapter(source, "native", CONFIG)
    try:
        assert isinstance(adapter, PROTOCOLS[source])
        assert adapter.name == source
    finally:
        await adapter.close()


def test_registered_adapters_are_listed_by_source(package):
    assert adapter_names("carrier") == ["native", "aftership", "counting"]
    assert adapter_names("oms") == ["native", "broken", "shopify"]
    assert adapter_names("inventory") == ["native", "shopify"]
    assert adapter_names("warehouse") == ["native"]  # no source anyone registers for


async def test_a_registered_adapter_is_opened_for_its_source(package):
    adapter = open_adapter("carrier", "counting", CONFIG)
    try:
        assert type(adapter).__name__ == "CountingCarrier"
        assert isinstance(adapter, PROTOCOLS["carrier"])
    finally:
        await adapter.close()


async def test_what_is_no_adapter_or_not_registered_is_refused(package):
    with pytest.raises(AdapterError, match="is not a OrdersAdapter"):
        open_adapter("oms", "broken", CONFIG)
    known = r"\(known: native, aftership, counting\)"
    with pytest.raises(AdapterError, match=rf"no carrier adapter is called 'shopify' {known}"):
        open_adapter("carrier", "shopify", CONFIG)
    with pytest.raises(AdapterError, match="no source is called"):
        open_adapter("warehouse", "native", CONFIG)


@pytest.mark.filterwarnings("error")  # an unclosed session warns when collected
async def test_upstreams_mix_native_and_registered_adapters_and_close_them_all(package):
    upstreams = Upstreams.open(CONFIG, CONFIG, CONFIG, CONFIG, adapters={"carrier": "counting"})
    try:
        assert type(upstreams.carrier).__name__ == "CountingCarrier"
        assert type(upstreams.oms).__name__ == "OmsClient"
    finally:
        await upstreams.close()
    with pytest.raises(AdapterError):
        Upstreams.open(CONFIG, CONFIG, CONFIG, CONFIG, adapters={"ticketing": "nope"})
    await asyncio.sleep(0)  # the adapters opened before it are closing
    gc.collect()  # an unclosed one would warn now


def test_settings_name_a_registered_adapter_or_refuse_with_the_known_ones(package):
    settings = load_settings({"OG_CARRIER_ADAPTER": "counting"})
    assert settings.sources["carrier"].adapter == "counting"
    assert settings.sources["oms"].adapter == "native"
    with pytest.raises(SettingsError, match=r"OG_OMS_ADAPTER.*'mine'.*native, broken, shopify"):
        load_settings({"OG_OMS_ADAPTER": "mine"})
