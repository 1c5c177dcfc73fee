"""Capacity, taken as it is checked: operations executing at once
(``OG_MAX_IN_FLIGHT``), whatever carries them, and live connections
(``OG_LIVE_MAX_CONNECTIONS``). A burst cannot slip past either limit while admission
awaits Redis; every place is given back, whatever ends the operation."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from prometheus_client import REGISTRY
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gateway.auth.keys import parse_key
from sim.cluster import SimCluster, start_cluster
from tests.support.gateways import running_gateway
from tests.support.live_clients import order_watch, ws_send, ws_url
from tests.support.secured import Secured, audit_entries, secured_gateway
from tests.support.waiting import eventually

LIMIT = 2
BURST = 8
LATENCY_MS = 1000  # the OMS's: an admitted operation holds its place about this long
QUERY = "query($n: String!) { orderByNumber(number: $n) { number } }"
DEEP = {"query": "{ " + "a { " * 11 + "b" + " }" * 12}  # refused at admission
TRANSPORTS = ["plain", "batch", "event stream", "websocket"]
WS_PROTOCOL = "graphql-transport-ws"


@pytest.fixture(scope="module")
async def slow(dataset) -> AsyncIterator[SimCluster]:
    async with await start_cluster(dataset, latency_ms=LATENCY_MS) as cluster:
        yield cluster


@pytest.fixture(scope="module")
async def capped(slow, redis_server, tmp_path_factory) -> AsyncIterator[Secured]:
    """Production settings, cost buckets in Redis (so admission awaits), room for
    ``LIMIT`` operations at once."""
    async with secured_gateway(
        slow.urls,
        tmp_path_factory.mktemp("capacity-keys"),
        serve=running_gateway,
        cache_url=redis_server.url,
        max_in_flight=LIMIT,
        batching=True,
        max_batch=BURST,
        request_deadline_ms=5000,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def numbers(dataset) -> Iterator[str]:
    """Order numbers never asked for before: a cached answer would not wait on the OMS."""
    return iter([order.number for order in dataset.orders.values()])


def _lookups(numbers: Iterator[str], count: int) -> list[dict[str, Any]]:
    return [{"query": QUERY, "variables": {"n": next(numbers)}} for _ in range(count)]


def _outcome(body: dict[str, Any]) -> str:
    """ "ok" for an answer, else the refusal's code."""
    if (body.get("data") or {}).get("orderByNumber"):
        return "ok"
    return str(body["errors"][0]["extensions"]["code"])


def _headers(secured: Secured, accept: str = "application/json") -> dict[str, str]:
    return {"authorization": f"Bearer {secured.keys['app']}", "accept": accept}


async def _at_once(secured: Secured, transport: str, payloads: list[dict[str, Any]]) -> list[str]:
    """Send every operation at once over ``transport``: each one's outcome."""
    url, session = f"{secured.gateway.url}/graphql", secured.gateway.session
    if transport == "websocket":
        return await _over_websocket(secured, payloads)
    if transport == "batch":
        async with session.post(url, json=payloads, headers=_headers(secured)) as resp:
            return [_outcome(body) for body in await resp.json()]
    accept = "text/event-stream" if transport == "event stream" else "application/json"

    async def one(payload: dict[str, Any]) -> str:
        async with session.post(url, json=payload, headers=_headers(secured, accept)) as resp:
            if resp.content_type != "text/event-stream":
                return _outcome(await resp.json())
            lines = (await resp.text()).splitlines()
        data = lines[lines.index("event: next") + 1].removeprefix("data: ")
        return _outcome(json.loads(data))

    return list(await asyncio.gather(*(one(payload) for payload in payloads)))


async def _over_websocket(secured: Secured, payloads: list[dict[str, Any]]) -> list[str]:
    async with _socket(secured) as ws:
        for op_id, payload in enumerate(payloads):
            await ws_send(ws, {"type": "subscribe", "id": str(op_id), "payload": payload})
        outcomes: dict[str, str] = {}
        async with asyncio.timeout(10):
            while len(outcomes) < len(payloads):
                message = json.loads(await ws.recv())
                if message["type"] == "next":
                    outcomes[message["id"]] = _outcome(message["payload"])
                elif message["type"] == "error":
                    outcomes[message["id"]] = _outcome({"errors": message["payload"]})
    return [outcomes[str(op_id)] for op_id in range(len(payloads))]


@contextlib.asynccontextmanager
async def _socket(secured: Secured) -> AsyncIterator[ClientConnection]:
    async with connect(ws_url(secured.gateway.url), subprotocols=[WS_PROTOCOL]) as ws:
        key = secured.keys["app"]
        await ws_send(ws, {"type": "connection_init", "payload": {"x-api-key": key}})
        assert json.loads(await ws.recv()) == {"type": "connection_ack"}
        yield ws


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_burst_never_runs_more_operations_than_the_capacity(capped, numbers, transport):
    """Each operation takes its place before admission awaits the cost bucket in
    Redis: of a burst, at most ``LIMIT`` run, the others get OVERLOADED. Places are
    given back after a refusal at admission and after execution: the next burst finds
    them all free."""
    for _ in range(LIMIT + 1):
        assert await _at_once(capped, transport, [DEEP]) == ["MAX_DEPTH_EXCEEDED"]
    for _ in range(2):
        outcomes = await _at_once(capped, transport, _lookups(numbers, BURST))
        assert set(outcomes) <= {"ok", "OVERLOADED"}
        assert 1 <= outcomes.count("ok") <= LIMIT, outcomes


def _ended_unanswered() -> float:
    """Lookups (anonymous queries) that ended without an answer: cancelled ones too."""
    labels = {"operation": "anonymous", "kind": "query", "outcome": "error"}
    return REGISTRY.get_sample_value("og_graphql_operations_total", labels) or 0.0


@pytest.mark.parametrize("transport", ["event stream", "websocket"])
async def test_an_abandoned_operation_gives_its_place_back_at_once(
    capped, slow, numbers, transport
):
    """An event stream closed by its client, or a WebSocket operation it completes,
    frees its place then, not once the slow OMS answers."""
    session, url = capped.gateway.session, f"{capped.gateway.url}/graphql"
    abandoned = _lookups(numbers, LIMIT)
    oms = slow.stats("oms")
    asked = oms.requests

    async def both_wait_on_the_oms() -> None:
        await eventually(lambda: oms.requests >= asked + LIMIT, "both wait on the OMS")

    async with contextlib.AsyncExitStack() as stack:
        if transport == "websocket":
            ws = await stack.enter_async_context(_socket(capped))
            for op_id, payload in enumerate(abandoned):
                await ws_send(ws, {"type": "subscribe", "id": str(op_id), "payload": payload})
            await both_wait_on_the_oms()
            ended = _ended_unanswered()
            for op_id in range(LIMIT):
                await ws_send(ws, {"type": "complete", "id": str(op_id)})
        else:
            headers = _headers(capped, "text/event-stream")
            streams = [
                asyncio.create_task(_read(session.post(url, json=payload, headers=headers)))
                for payload in abandoned
            ]
            await both_wait_on_the_oms()
            ended = _ended_unanswered()
            for stream in streams:
                stream.cancel()
            await asyncio.gather(*streams, return_exceptions=True)
        # The gateway notices: both end, unanswered, as they give their places back
        # (answered, once the OMS does, they would not count).
        await eventually(lambda: _ended_unanswered() >= ended + LIMIT, "both end unanswered")
        assert await _at_once(capped, "plain", _lookups(numbers, LIMIT)) == ["ok"] * LIMIT


async def _read(request: Any) -> bytes:
    async with request as resp:
        return await resp.read()  # type: ignore[no-any-return]


# --- live connections ---------------------------------------------------------------

CAP = 2
COSTLY = "{ orders(first: 20) { nodes { number lineItems { sku } } } }"  # 121 points


@pytest.fixture(scope="module")
async def few_connections(sim, tmp_path_factory) -> AsyncIterator[Secured]:
    async with secured_gateway(
        sim.urls,
        tmp_path_factory.mktemp("connection-keys"),
        serve=running_gateway,
        live_max_connections=CAP,
    ) as running:
        yield running


@contextlib.asynccontextmanager
async def _streams(
    secured: Secured, payload: dict[str, Any], count: int, key: str = "app"
) -> AsyncIterator[list[str]]:
    """``count`` event streams asked for at once and held open while the block runs:
    "open", or the refusal's code, for each."""
    headers = {"authorization": f"Bearer {secured.keys[key]}", "accept": "text/event-stream"}
    post = secured.gateway.session.post
    url = f"{secured.gateway.url}/graphql"
    responses = await asyncio.gather(
        *(post(url, json=payload, headers=headers) for _ in range(count))
    )
    try:
        yield ["open" if resp.status == 200 else _outcome(await resp.json()) for resp in responses]
    finally:
        for resp in responses:
            resp.close()


async def test_a_burst_of_event_streams_never_opens_more_than_the_cap(
    few_connections, dataset, caplog
):
    """Each stream takes its place as it is checked; every refusal is audited."""
    with caplog.at_level(logging.INFO, logger="ordergraph.audit"):
        async with _streams(few_connections, order_watch(dataset), 3 * CAP) as outcomes:
            assert sorted(outcomes) == ["TOO_MANY_CONNECTIONS"] * (2 * CAP) + ["open"] * CAP
    codes = [line["code"] for line in audit_entries(caplog.records)]
    assert codes == ["TOO_MANY_CONNECTIONS"] * (2 * CAP)
    async with _every_connection(few_connections, dataset):
        pass  # the places of the streams that ended are free again


@contextlib.asynccontextmanager
async def _every_connection(secured: Secured, dataset: Any) -> AsyncIterator[None]:
    """Hold ``CAP`` event streams open, once the gateway has noticed that streams
    closed before have ended."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 3
    while True:
        async with _streams(secured, order_watch(dataset), CAP) as outcomes:
            if outcomes == ["open"] * CAP:
                yield
                return
        assert loop.time() < deadline, f"streams that ended still hold places: {outcomes}"
        await asyncio.sleep(0.05)


async def test_a_stream_past_the_cap_is_refused_before_admission(few_connections, dataset, caplog):
    """No cost charged, no APQ document remembered for a stream refused for want of
    a connection; its refusal is one audit line."""
    digest = hashlib.sha256(COSTLY.encode()).hexdigest()
    apq = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    async with _every_connection(few_connections, dataset):
        with caplog.at_level(logging.INFO, logger="ordergraph.audit"):
            status, body, headers = await few_connections.post(
                {"query": COSTLY, "extensions": apq},
                key="free",
                headers={"accept": "text/event-stream"},
            )
    assert (status, _outcome(body), headers["retry-after"]) == (503, "TOO_MANY_CONNECTIONS", "5")
    (line,) = audit_entries(caplog.records)
    assert (line["code"], line["keyId"]) == (
        "TOO_MANY_CONNECTIONS",
        parse_key(few_connections.keys["free"]).key_id,
    )
    _, body, _ = await few_connections.post({"extensions": apq}, key="free")
    assert _outcome(body) == "PERSISTED_QUERY_NOT_FOUND"
    # The free tier holds 200 points: had the refused stream been charged its 121,
    # this would be THROTTLED.
    status, body, _ = await few_connections.post({"query": COSTLY}, key="free")
    assert status == 200 and body["extensions"]["cost"]["requestedQueryCost"] == 121


async def test_a_websocket_past_the_cap_is_closed_with_1013_and_audited(
    few_connections, dataset, caplog
):
    key = few_connections.keys["app"]
    async with _every_connection(few_connections, dataset):
        with caplog.at_level(logging.INFO, logger="ordergraph.audit"):
            async with connect(
                ws_url(few_connections.gateway.url),
                subprotocols=[WS_PROTOCOL],
                additional_headers={"authorization": f"Bearer {key}"},
            ) as ws:
                with pytest.raises(ConnectionClosed):
                    async with asyncio.timeout(3):
                        await ws.recv()
    assert (ws.close_code, ws.close_reason) == (1013, "Too many live connections")
    (line,) = audit_entries(caplog.records)
    assert (line["code"], line["keyId"]) == ("TOO_MANY_CONNECTIONS", parse_key(key).key_id)
