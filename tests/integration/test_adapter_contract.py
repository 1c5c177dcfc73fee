"""The contract test kit (``sources.adapters.contract``) run on the native adapters,
on the vendor adapters against the simulated vendor APIs, and on a package's adapter,
against simulated sources of their own."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from itertools import islice
from typing import Any

import msgspec
import pytest

from sim.cluster import SimCluster, start_cluster
from sim.seed import Dataset
from sim.vendors.apis import VENDOR_APIS
from sources.adapters.contract import (
    BatchReadContract,
    CaseInsensitiveKeysContract,
    ChangeEventsContract,
    DownSourceContract,
    OrderListContract,
    Subject,
    tickets_with_comments,
)
from sources.adapters.protocols import OrdersAdapter
from sources.adapters.registry import open_adapter
from sources.events import ChangeEvent, EventType
from sources.failures import SOURCE_BAD_RESPONSE, SourceError
from sources.options import SourceConfig
from sources.webhooks import generate_secret, new_msg_id, sign
from tests.support.adapters import installed_adapters
from tests.support.ports import free_port_block

MISSING = [f"missing-{n}" for n in range(10)]
SECRET = generate_secret()  # the sources sign their change events with it


@pytest.fixture(scope="module")
def data(make_dataset: Any) -> Dataset:
    return make_dataset(orders=200)


@pytest.fixture(scope="module")
async def cluster(data: Dataset) -> AsyncIterator[SimCluster]:
    """The native sources and the vendor APIs (a limit the kit's calls stay within)."""
    cluster = await start_cluster(data, vendors=True, vendor_rate_per_s=1000)
    yield cluster
    await cluster.close()


def _held(records: dict[str, Any]) -> dict[str, Any]:
    return dict(islice(records.items(), 120))  # more than one batch's worth


# source -> (the batch read of its adapter, the records its source holds by key)
READS: dict[str, tuple[str, Callable[[Dataset], dict[str, Any]]]] = {
    "oms": ("orders_by_ids", lambda data: _held(data.orders)),
    "inventory": ("items_by_skus", lambda data: _held(data.inventory)),
    "carrier": ("trackings", lambda data: _held(data.trackings)),
    "ticketing": ("tickets_by_orders", lambda data: _held(data.tickets)),
}


async def _subject(source: str, adapter_name: str, url: str, data: Dataset) -> Subject:
    # The kit checks answers, not speed: a connect timeout a loaded host keeps (the
    # default 0.5 s ran out once under load, on loopback).
    config = SourceConfig(base_url=url, webhook_secrets=(SECRET,), connect_timeout_s=3.0)
    if adapter_name in VENDOR_APIS:  # a vendor adapter reads its simulated API
        api = VENDOR_APIS[adapter_name]
        config = dataclasses.replace(config, credential=api.CREDENTIAL, options=api.OPTIONS)
    adapter = open_adapter(source, adapter_name, config)
    method, held = READS[source]
    absent = [] if source == "ticketing" else None  # an entry for every order id asked

    def delivery() -> tuple[bytes, dict[str, str]]:
        """A change of ``source`` as its source (or its vendor) delivers it."""
        event, msg_id = _change(source, data), new_msg_id()
        if adapter_name in VENDOR_APIS:
            return VENDOR_APIS[adapter_name].webhook(data, source)(event, msg_id, SECRET)
        body = msgspec.json.encode(event)
        return body, sign(SECRET, body, msg_id=msg_id)

    read = tickets_with_comments(adapter) if source == "ticketing" else getattr(adapter, method)
    return Subject(adapter, read, held(data), MISSING, absent, delivery)


def _change(source: str, data: Dataset) -> ChangeEvent:
    """A change of one of ``source``'s records in ``data``."""
    order_id, (ticket, *_) = next((o, ts) for o, ts in data.tickets.items() if ts)
    fields: dict[str, dict[str, Any]] = {
        "oms": {"type": EventType.ORDER_UPDATED, "order_id": next(iter(data.orders))},
        "inventory": {"type": EventType.INVENTORY_CHANGED, "sku": next(iter(data.inventory))},
        "carrier": {
            "type": EventType.TRACKING_UPDATED,
            "tracking_number": next(iter(data.trackings)),
        },
        "ticketing": {
            "type": EventType.TICKET_UPDATED,
            "order_id": order_id,
            "ticket_id": ticket.id,
        },
    }
    return ChangeEvent(occurred_at=data.now, **fields[source])


# (source, adapter) of every adapter shipped here; a vendor's reads its simulated API
VENDOR_ADAPTERS = [("carrier", "aftership"), ("ticketing", "zendesk")]
ADAPTERS = [*((source, "native") for source in sorted(READS)), *VENDOR_ADAPTERS]
TRACKING_ADAPTERS = [("carrier", "native"), ("carrier", "aftership")]


def _name(adapter: tuple[str, str]) -> str:
    return "-".join(adapter)


@contextlib.asynccontextmanager
async def _opened(source: str, name: str, url: str, data: Dataset) -> AsyncIterator[Subject]:
    subject = await _subject(source, name, url, data)
    try:
        yield subject
    finally:
        await subject.adapter.close()


def _url(cluster: SimCluster, source: str, name: str) -> str:
    return cluster.urls[source if name == "native" else name]


@pytest.fixture(params=ADAPTERS, ids=_name)
async def live(request, cluster, data) -> AsyncIterator[Subject]:
    """An adapter over its live (simulated) source."""
    source, name = request.param
    async with _opened(source, name, _url(cluster, source, name), data) as subject:
        yield subject


@pytest.fixture(params=TRACKING_ADAPTERS, ids=_name)
async def tracking(request, cluster, data) -> AsyncIterator[Subject]:
    source, name = request.param
    async with _opened(source, name, _url(cluster, source, name), data) as subject:
        yield subject


class TestBatchReads(BatchReadContract):
    @pytest.fixture
    def subject(self, live: Subject) -> Subject:
        return live


class TestChangeEvents(ChangeEventsContract):
    @pytest.fixture
    def subject(self, live: Subject) -> Subject:
        return live


class TestTrackingNumbersInAnyCase(CaseInsensitiveKeysContract):
    @pytest.fixture
    def subject(self, tracking: Subject) -> Subject:
        return tracking


class TestAnUnreachableSource(DownSourceContract):
    @pytest.fixture(params=ADAPTERS, ids=_name)
    async def subject(self, request, data) -> AsyncIterator[Subject]:
        source, name = request.param
        nobody = f"http://127.0.0.1:{free_port_block(1)}"  # nothing listens there
        async with _opened(source, name, nobody, data) as subject:
            yield subject


class TestNativeOrderList(OrderListContract):
    @pytest.fixture
    async def orders(self, cluster) -> AsyncIterator[OrdersAdapter]:
        adapter = open_adapter("oms", "native", SourceConfig(base_url=cluster.urls["oms"]))
        yield adapter
        await adapter.close()


class TestAPackagesCarrierAdapter(BatchReadContract, CaseInsensitiveKeysContract):
    @pytest.fixture
    async def subject(self, cluster, data, tmp_path) -> AsyncIterator[Subject]:
        with installed_adapters(tmp_path):
            async with _opened("carrier", "counting", cluster.urls["carrier"], data) as subject:
                yield subject


@pytest.mark.parametrize(("source", "vendor"), VENDOR_ADAPTERS, ids=[v for _, v in VENDOR_ADAPTERS])
async def test_credentials_the_vendor_refuses_are_the_gateways_problem(
    source: str, vendor: str, cluster: SimCluster, data: Dataset
):
    """Not the caller's input (never BAD_USER_INPUT), not worth retrying, and the
    source reads as down."""
    api = VENDOR_APIS[vendor]
    wrong = api.CREDENTIAL.replace("og-sim-vendor-key", "not-the-key")
    config = SourceConfig(base_url=cluster.urls[vendor], credential=wrong, options=api.OPTIONS)
    adapter = open_adapter(source, vendor, config)
    try:
        with pytest.raises(SourceError) as raised:
            await getattr(adapter, READS[source][0])([next(iter(READS[source][1](data)))])
        assert (raised.value.code, raised.value.retryable) == (SOURCE_BAD_RESPONSE, False)
        assert await adapter.ping() is False
    finally:
        await adapter.close()
