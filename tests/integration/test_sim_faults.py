"""Fault injection in the simulated sources, observed by a real client over loopback.

Every test starts without faults (the autouse fixture clears them) and sets the ones it
needs, over ``/__faults`` or in-process with :meth:`SimCluster.set_faults`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import aiohttp
import msgspec
import pytest
import pytest_asyncio

from sim.cluster import SOURCES, SimCluster, parse_fault_option, start_cluster
from sim.faults import Fault, Faults, FaultSpec
from sim.seed import Dataset
from sources.records import ErrorBody
from tests.support.gateways import MakeDataset
from tests.support.timing import fastest_async
from tests.support.waiting import eventually

ENDPOINTS = {
    "oms": ("/orders", "ids"),
    "inventory": ("/inventory", "skus"),
    "carrier": ("/trackings", "numbers"),
    "ticketing": ("/tickets", "orderIds"),
}
CONNECTION_ERRORS = (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)


@pytest.fixture(scope="module")
def data(make_dataset: MakeDataset) -> Dataset:
    return make_dataset(seed=23, orders=300)


@pytest_asyncio.fixture(scope="module")
async def cluster(data: Dataset) -> AsyncIterator[SimCluster]:
    async with await start_cluster(data) as running:
        yield running


@pytest_asyncio.fixture(scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


@pytest.fixture(autouse=True)
def no_faults(cluster: SimCluster) -> Iterator[None]:
    for source in SOURCES:
        cluster.set_faults(source, None)
    yield
    for source in SOURCES:
        cluster.set_faults(source, None)


def known_ids(data: Dataset, source: str, count: int = 7) -> list[str]:
    keys: dict[str, Iterable[str]] = {
        "oms": data.orders,
        "inventory": data.inventory,
        "carrier": data.trackings,
        "ticketing": data.orders,
    }
    return list(keys[source])[:count]


async def fetch(
    http: aiohttp.ClientSession, url: str, params: dict[str, str] | None = None, *, wait: float = 2
) -> tuple[int, bytes]:
    """GET ``url`` with a total timeout of ``wait`` seconds: status and body."""
    async with http.get(url, params=params, timeout=aiohttp.ClientTimeout(total=wait)) as resp:
        return resp.status, await resp.read()


async def fetch_data(
    http: aiohttp.ClientSession, cluster: SimCluster, data: Dataset, source: str, *, wait: float = 2
) -> tuple[int, bytes]:
    """One batch call to ``source`` for a few known ids."""
    path, param = ENDPOINTS[source]
    ids = ",".join(known_ids(data, source))
    return await fetch(http, cluster.urls[source] + path, {param: ids}, wait=wait)


async def put_faults(
    http: aiohttp.ClientSession, base: str, body: object, *, status: int = 200
) -> bytes:
    raw = body if isinstance(body, bytes) else msgspec.json.encode(body)
    async with http.put(f"{base}/__faults", data=raw) as resp:
        payload = await resp.read()
        assert resp.status == status, payload
        assert resp.content_type == "application/json"
        return payload


async def get_faults(http: aiohttp.ClientSession, base: str) -> Any:
    status, body = await fetch(http, f"{base}/__faults")
    assert status == 200
    return msgspec.json.decode(body)


# --- each fault kind, as the client sees it ------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
async def test_error_rate_one_fails_every_call(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset, source: str
) -> None:
    await put_faults(http, cluster.urls[source], {"errorRate": 1})
    for _ in range(5):
        status, body = await fetch_data(http, cluster, data, source)
        assert status == 503
        assert msgspec.json.decode(body, type=ErrorBody).code == "INJECTED_FAULT"
    await put_faults(http, cluster.urls[source], {"errorRate": 1, "errorStatus": 429})
    assert (await fetch_data(http, cluster, data, source))[0] == 429


async def test_error_rate_applies_to_search_too(
    cluster: SimCluster, http: aiohttp.ClientSession
) -> None:
    cluster.set_faults("oms", FaultSpec(error_rate=1, error_status=500))
    status, _ = await fetch(http, cluster.urls["oms"] + "/orders/search", {"limit": "5"})
    assert status == 500


async def test_error_rate_share(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset
) -> None:
    await put_faults(
        http, cluster.urls["carrier"], {"errorRate": 0.3, "errorStatus": 502, "seed": 7}
    )
    statuses = [(await fetch_data(http, cluster, data, "carrier"))[0] for _ in range(200)]
    assert set(statuses) == {200, 502}
    assert 40 <= statuses.count(502) <= 80


async def test_seed_repeats_the_draws(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset
) -> None:
    runs = []
    for _ in range(2):
        await put_faults(http, cluster.urls["oms"], {"errorRate": 0.5, "seed": 42})
        runs.append([(await fetch_data(http, cluster, data, "oms"))[0] for _ in range(30)])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 503}


async def test_hang_times_out_while_the_source_keeps_answering(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset
) -> None:
    base = cluster.urls["inventory"]
    await put_faults(http, base, {"hang": True})
    arrived = cluster.stats("inventory").requests
    hung = asyncio.create_task(fetch_data(http, cluster, data, "inventory", wait=1.5))
    await eventually(lambda: cluster.stats("inventory").requests > arrived, "the request hangs")
    for path in ("/healthz", "/__stats", "/__faults", "/openapi.json"):
        assert (await fetch(http, base + path, wait=0.5))[0] == 200
    with pytest.raises(TimeoutError):
        await fetch_data(http, cluster, data, "inventory", wait=0.3)
    async with http.delete(f"{base}/__faults") as resp:
        assert resp.status == 204
    assert (await fetch_data(http, cluster, data, "inventory", wait=0.5))[0] == 200
    assert not hung.done()
    with pytest.raises(TimeoutError):
        await hung


async def test_hang_rate_does_not_block_other_requests(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset
) -> None:
    cluster.set_faults("carrier", FaultSpec(hang=True, rate=0.5, seed=5))
    start = time.perf_counter()
    results = await asyncio.gather(
        *(fetch_data(http, cluster, data, "carrier", wait=1.0) for _ in range(20)),
        return_exceptions=True,
    )
    elapsed = time.perf_counter() - start
    answered = [r for r in results if isinstance(r, tuple)]
    timed_out = [r for r in results if isinstance(r, TimeoutError)]
    assert len(answered) + len(timed_out) == 20
    assert answered and timed_out
    assert all(status == 200 for status, _ in answered)
    # The hung requests wait side by side (1 s), not one after another (about 10 s): the
    # upper bound only tells the two apart, with room for a loaded machine.
    assert 1.0 <= elapsed < 4


async def test_hang_ends_when_the_source_stops(data: Dataset) -> None:
    running = await start_cluster(data, faults={"ticketing": FaultSpec(hang=True)})
    async with aiohttp.ClientSession() as http:
        hung = asyncio.create_task(fetch_data(http, running, data, "ticketing", wait=10))
        await eventually(lambda: running.stats("ticketing").requests > 0, "the request hangs")
        start = time.perf_counter()
        await running.close()
        # Not waiting for the hung request (10 s); loose, for a loaded machine.
        assert time.perf_counter() - start < 5
        with pytest.raises(CONNECTION_ERRORS):
            await hung


@pytest.mark.parametrize("source", SOURCES)
async def test_reset_drops_the_connection(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset, source: str
) -> None:
    await put_faults(http, cluster.urls[source], {"reset": True})
    for _ in range(3):
        with pytest.raises(CONNECTION_ERRORS):
            await fetch_data(http, cluster, data, source)
    assert (await fetch(http, cluster.urls[source] + "/healthz"))[0] == 200


async def test_reset_rate(cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset) -> None:
    """aiohttp resends a GET once after a dropped connection, so a call fails only when
    both attempts are reset: about rate squared of the calls."""
    cluster.reset_stats()
    cluster.set_faults("oms", FaultSpec(reset=True, rate=0.5, seed=1))
    outcomes = []
    for _ in range(80):
        try:
            outcomes.append((await fetch_data(http, cluster, data, "oms"))[0])
        except CONNECTION_ERRORS:
            outcomes.append(0)
    assert set(outcomes) == {0, 200}
    assert 8 <= outcomes.count(0) <= 35
    assert cluster.stats("oms").requests > 80


@pytest.mark.parametrize("source", SOURCES)
async def test_garbage_is_not_json(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset, source: str
) -> None:
    await put_faults(http, cluster.urls[source], {"garbage": True})
    path, param = ENDPOINTS[source]
    url = cluster.urls[source] + path
    async with http.get(url, params={param: known_ids(data, source)[0]}) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        body = await resp.read()
    assert body
    with pytest.raises(msgspec.DecodeError):
        msgspec.json.decode(body)


@pytest.mark.parametrize("source", SOURCES)
async def test_partial_batch_drops_records_silently(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset, source: str
) -> None:
    ids = known_ids(data, source)
    await put_faults(http, cluster.urls[source], {"partialBatch": True})
    status, body = await fetch_data(http, cluster, data, source)
    assert status == 200
    batch = msgspec.json.decode(body)
    assert 0 < len(batch["data"]) < len(ids)
    assert batch.get("notFound", []) == []
    key = {"oms": "id", "inventory": "sku", "carrier": "trackingNumber", "ticketing": "orderId"}
    assert [record[key[source]] for record in batch["data"]] == ids[1::2]


async def test_partial_batch_leaves_other_endpoints_alone(
    cluster: SimCluster, http: aiohttp.ClientSession
) -> None:
    cluster.set_faults("oms", FaultSpec(partial_batch=True))
    status, body = await fetch(http, cluster.urls["oms"] + "/orders/search", {"limit": "10"})
    assert status == 200
    assert len(msgspec.json.decode(body)["edges"]) == 10


async def test_latency_is_added(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset
) -> None:
    await put_faults(http, cluster.urls["ticketing"], {"latencyMs": 120, "jitterMs": 30})
    start = time.perf_counter()
    assert (await fetch_data(http, cluster, data, "ticketing"))[0] == 200
    assert time.perf_counter() - start >= 0.12

    async def health_s() -> float:
        start = time.perf_counter()
        assert (await fetch(http, cluster.urls["ticketing"] + "/healthz"))[0] == 200
        return time.perf_counter() - start

    # The fastest of a few: a loaded machine only ever adds time.
    assert await fastest_async(health_s, within=0.12) < 0.12


# --- admin endpoint, scope, stats ------------------------------------------------------


async def test_faults_endpoint(cluster: SimCluster, http: aiohttp.ClientSession) -> None:
    base = cluster.urls["carrier"]
    assert await get_faults(http, base) == {}
    spec = {"errorRate": 0.25, "errorStatus": 500, "partialBatch": True, "rate": 0.5}
    assert msgspec.json.decode(await put_faults(http, base, spec)) == spec
    assert await get_faults(http, base) == spec
    assert await get_faults(http, cluster.urls["oms"]) == {}  # per source
    await put_faults(http, base, {"garbage": True})
    assert await get_faults(http, base) == {"garbage": True}  # replaced, not merged
    await put_faults(http, base, {})
    assert await get_faults(http, base) == {}
    await put_faults(http, base, {"hang": True})
    async with http.delete(f"{base}/__faults") as resp:
        assert resp.status == 204
    assert await get_faults(http, base) == {}
    await put_faults(http, base, {"reset": True})
    await put_faults(http, base, b"")  # an empty body counts as {}
    assert await get_faults(http, base) == {}


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        (b"{", "invalid body"),
        (b"[]", "object"),
        (b'{"errorRate": 1.5}', "errorRate"),
        (b'{"errorStatus": 302}', "errorStatus"),
        (b'{"latencyMs": -1}', "latencyMs"),
        (b'{"hang": "yes"}', "hang"),
        (b'{"explode": true}', "explode"),
    ],
)
async def test_bad_fault_bodies(
    cluster: SimCluster, http: aiohttp.ClientSession, body: bytes, mentions: str
) -> None:
    base = cluster.urls["inventory"]
    await put_faults(http, base, {"reset": True})
    error = msgspec.json.decode(await put_faults(http, base, body, status=400), type=ErrorBody)
    assert error.code == "BAD_REQUEST" and mentions in error.message
    assert await get_faults(http, base) == {"reset": True}  # unchanged


@pytest.mark.parametrize(
    "spec",
    [
        FaultSpec(error_rate=1),
        FaultSpec(reset=True),
        FaultSpec(hang=True),
        FaultSpec(garbage=True, latency_ms=500),
    ],
    ids=["error", "reset", "hang", "garbage-slow"],
)
async def test_faults_spare_non_data_routes(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset, spec: FaultSpec
) -> None:
    base = cluster.urls["oms"]
    cluster.set_faults("oms", spec)
    for path in ("/healthz", "/__stats", "/openapi.json", "/__faults"):
        status, body = await fetch(http, base + path, wait=0.3)
        assert status == 200
        msgspec.json.decode(body)
    order_id = known_ids(data, "oms")[0]
    url = f"{base}/admin/orders/{order_id}/touch"
    async with http.post(url, timeout=aiohttp.ClientTimeout(total=0.3)) as resp:
        assert resp.status == 200
        assert msgspec.json.decode(await resp.read())["id"] == order_id
    async with http.delete(f"{base}/__stats", timeout=aiohttp.ClientTimeout(total=0.3)) as resp:
        assert resp.status == 204


async def test_faulted_requests_are_counted(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset
) -> None:
    cluster.reset_stats()
    cluster.set_faults("carrier", FaultSpec(error_rate=1))
    await fetch_data(http, cluster, data, "carrier")
    cluster.set_faults("carrier", FaultSpec(reset=True))
    with pytest.raises(CONNECTION_ERRORS):
        await fetch_data(http, cluster, data, "carrier")
    cluster.set_faults("carrier", FaultSpec(partial_batch=True))
    await fetch_data(http, cluster, data, "carrier")
    stats = cluster.stats("carrier")
    # the reset call reached the source twice: aiohttp resends a GET after a reset once
    assert stats.requests == 4 and stats.paths == {"/trackings": 4}
    assert stats.batch_sizes == {"/trackings": [7]}  # only the call that was answered


@pytest.mark.parametrize(
    "spec",
    [
        FaultSpec(error_rate=1),
        FaultSpec(reset=True),
        FaultSpec(garbage=True),
        FaultSpec(partial_batch=True),
    ],
    ids=["error", "reset", "garbage", "partial"],
)
async def test_clearing_restores_normal_answers(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset, spec: FaultSpec
) -> None:
    cluster.set_faults("inventory", spec)
    cluster.set_faults("inventory", None)
    status, body = await fetch_data(http, cluster, data, "inventory")
    assert status == 200
    skus = [item["sku"] for item in msgspec.json.decode(body)["data"]]
    assert skus == known_ids(data, "inventory")


async def test_unknown_source_is_refused(data: Dataset, cluster: SimCluster) -> None:
    with pytest.raises(ValueError, match="'billing'"):
        await start_cluster(data, faults={"billing": FaultSpec(hang=True)})
    with pytest.raises(KeyError):
        cluster.set_faults("billing", FaultSpec())


def test_several_kinds_share_the_rate() -> None:
    faults = Faults()
    faults.set(FaultSpec(hang=True, reset=True, garbage=True, rate=0.5, seed=9))
    draws = [faults.draw() for _ in range(600)]
    assert set(draws) == {None, Fault.HANG, Fault.RESET, Fault.GARBAGE}
    assert 240 <= draws.count(None) <= 360
    assert Faults().draw() is None


# --- the command-line option -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("carrier:error=0.3", ("carrier", FaultSpec(error_rate=0.3))),
        ("carrier:error=0.3@500", ("carrier", FaultSpec(error_rate=0.3, error_status=500))),
        ("carrier:error", ("carrier", FaultSpec(error_rate=1))),
        ("carrier:error@429", ("carrier", FaultSpec(error_rate=1, error_status=429))),
        ("inventory:hang", ("inventory", FaultSpec(hang=True))),
        ("ticketing:latency=200,jitter=50", ("ticketing", FaultSpec(latency_ms=200, jitter_ms=50))),
        ("oms:reset=0.1", ("oms", FaultSpec(reset=True, rate=0.1))),
        ("carrier:garbage", ("carrier", FaultSpec(garbage=True))),
        ("inventory:partial", ("inventory", FaultSpec(partial_batch=True))),
        (
            " oms : hang=0.2, reset=0.2 ,error=0.1@502,seed=4",
            (
                "oms",
                FaultSpec(
                    hang=True, reset=True, rate=0.2, error_rate=0.1, error_status=502, seed=4
                ),
            ),
        ),
    ],
)
def test_parse_fault_option(text: str, expected: tuple[str, FaultSpec]) -> None:
    assert parse_fault_option(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("carrier", "expected <source>:<fault>"),
        ("carrier:", "expected <source>:<fault>"),
        ("billing:hang", "unknown source(s) 'billing'"),
        ("carrier:explode", "invalid fault item 'explode'"),
        ("carrier:hang,,reset", "invalid fault item ''"),
        ("carrier:latency", "invalid fault item 'latency'"),
        ("carrier:hang@500", "invalid fault item 'hang@500'"),
        ("carrier:error=lots", "invalid number in fault item 'error=lots'"),
        ("carrier:latency=inf", "invalid number in fault item 'latency=inf'"),
        ("carrier:error=0.3@5xx", "invalid integer in fault item 'error=0.3@5xx'"),
        ("carrier:seed=1.5", "invalid integer in fault item 'seed=1.5'"),
        ("carrier:error=1.5", "errorRate"),
        ("carrier:error@200", "errorStatus"),
        ("carrier:hang=2", "rate"),
        ("carrier:latency=-5", "latencyMs"),
        ("carrier:hang=0.1,reset=0.2", "share one rate"),
    ],
)
def test_parse_fault_option_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_fault_option(text)
