"""The HTTP edge: health, readiness, GET and POST, and errors that are never a 500."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect

from sim.cluster import start_cluster
from sources.webhooks import generate_secret
from tests.support.gateways import RunningGateway, running_gateway, settings_for
from tests.support.live_clients import ws_url
from tests.support.ports import refusing_url
from tests.support.waiting import eventually

WS_PROTOCOL = "graphql-transport-ws"


async def test_healthz(served):
    async with served.session.get(f"{served.url}/healthz") as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": "ok"}


async def test_readyz_names_every_source(served, sim):
    async with served.session.get(f"{served.url}/readyz") as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["status"] == "ready"
    assert body["cache"] == {"backend": "memory", "ok": True, "errors": 0}
    assert {s["name"]: (s["url"], s["ok"]) for s in body["sources"]} == {
        name: (url, True) for name, url in sim.urls.items()
    }


@pytest.fixture(scope="module")
async def gateway_without_inventory(sim) -> AsyncIterator[RunningGateway]:
    url, _dead = refusing_url()
    async with running_gateway(settings_for({**sim.urls, "inventory": url})) as running:
        yield running


@pytest.fixture(scope="module")
async def gateway_without_oms(sim) -> AsyncIterator[RunningGateway]:
    url, _dead = refusing_url()
    async with running_gateway(settings_for({**sim.urls, "oms": url})) as running:
        yield running


async def test_readyz_degraded_but_serving_when_a_side_source_is_down(gateway_without_inventory):
    status, body = await gateway_without_inventory.readyz()
    assert (status, body["status"]) == (200, "degraded")
    assert {s["name"]: s["ok"] for s in body["sources"]} == {
        "oms": True,
        "inventory": False,
        "carrier": True,
        "ticketing": True,
    }


async def test_readyz_unavailable_without_the_oms(gateway_without_oms):
    status, body = await gateway_without_oms.readyz()
    assert (status, body["status"]) == (503, "unavailable")


async def test_query_over_get(served, dataset):
    number = next(iter(dataset.orders.values())).number
    query = f'{{ orderByNumber(number: "{number}") {{ number }} }}'
    preflight = {"apollo-require-preflight": "1"}
    async with served.session.get(
        f"{served.url}/graphql", params={"query": query}, headers=preflight
    ) as resp:
        assert resp.status == 200
        assert (await resp.json())["data"] == {"orderByNumber": {"number": number}}


async def test_responses_are_compact_json(served):
    async with served.session.post(
        f"{served.url}/graphql", json={"query": "{ __typename }"}
    ) as resp:
        assert resp.headers["content-type"].startswith("application/json")
        body = await resp.read()
    parsed = json.loads(body)  # a cached answer (another test's) lists extensions.cache first
    assert parsed["data"] == {"__typename": "Query"} and "cost" in parsed["extensions"]
    assert body == json.dumps(parsed, separators=(",", ":")).encode()


async def test_invalid_json_is_400(served):
    async with served.session.post(
        f"{served.url}/graphql", data=b"{nope", headers={"content-type": "application/json"}
    ) as resp:
        assert resp.status == 400


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"])
async def test_unsupported_method_is_405_with_a_code(served, method):
    async with served.session.request(
        method, f"{served.url}/graphql", json={"query": "{ __typename }"}
    ) as r:
        assert (r.status, r.headers["allow"]) == (405, "GET, POST")
        body = await r.json()
    assert body["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_head_runs_nothing(served, caplog):
    """Starlette adds HEAD to a GET route, and HEAD ran as a POST: mutations included."""
    mutation = {"query": 'mutation { orderCancel(input: {orderId: "T3JkZXI6b3JkXzE=", '
                         "reason: CUSTOMER}) { userErrors { code } } }"}  # fmt: skip
    with caplog.at_level(logging.INFO, logger="ordergraph.audit"):
        async with served.session.head(f"{served.url}/graphql", json=mutation) as r:
            assert (r.status, r.headers["allow"]) == (405, "GET, POST")
    assert [line.code for line in caplog.records if line.name == "ordergraph.audit"] == [
        "METHOD_NOT_ALLOWED"
    ]


async def test_graphiql_only_in_dev_mode(served, sim):
    html = {"accept": "text/html"}
    async with served.session.get(f"{served.url}/graphql", headers=html) as resp:
        assert "graphiql" in (await resp.text()).lower()  # the test gateway is in dev mode
    for options in ({"dev_mode": False, "graphiql": True}, {"dev_mode": True, "graphiql": False}):
        async with (
            running_gateway(settings_for(sim.urls, **options)) as other,
            other.session.get(f"{other.url}/graphql", headers=html) as resp,
        ):
            assert "graphiql" not in (await resp.text()).lower(), options


async def test_dev_mode_warns_at_start_and_runs_anonymous_requests(sim, caplog):
    """Dev mode is loud about itself; without it an anonymous request gets 401."""
    for dev_mode in (True, False):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="ordergraph.app"):
            async with (
                running_gateway(settings_for(sim.urls, dev_mode=dev_mode)) as gateway,
                gateway.session.post(
                    f"{gateway.url}/graphql", json={"query": "{ __typename }"}
                ) as resp,
            ):
                status = resp.status
        warned = any("DEV MODE" in record.getMessage() for record in caplog.records)
        assert (warned, status) == ((True, 200) if dev_mode else (False, 401))


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ orders(first: ", "GRAPHQL_PARSE_FAILED"),
        ("{ noSuchField }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ orders { nodes { id } } }", "GRAPHQL_VALIDATION_FAILED"),
    ],
)
async def test_parse_and_validation_errors_are_coded(served, query, code):
    async with served.session.post(f"{served.url}/graphql", json={"query": query}) as resp:
        assert resp.status in (200, 400)
        body = await resp.json()
    assert body["errors"][0]["extensions"]["code"] == code


async def test_dev_mode_suggests_fields_and_allows_introspection(served):
    body = await served.query("{ orderz(first: 1) { nodes { id } } }")
    assert "Did you mean 'order' or 'orders'?" in body["errors"][0]["message"]
    body = await served.query('{ __type(name: "Order") { name } }')
    assert body["data"] == {"__type": {"name": "Order"}}


async def test_webhooks_are_refused_without_a_secret(served):
    async with served.session.post(f"{served.url}/webhooks/carrier", data=b"{}") as resp:
        assert resp.status == 503
        assert (await resp.json())["code"] == "WEBHOOKS_NOT_CONFIGURED"


async def test_webhook_edge_cases(sim):
    settings = settings_for(sim.urls, webhook_secrets=[generate_secret()])
    async with running_gateway(settings) as gateway:
        url = f"{gateway.url}/webhooks"
        async with gateway.session.post(f"{url}/crm", data=b"{}") as resp:
            assert (resp.status, (await resp.json())["code"]) == (404, "WEBHOOK_SOURCE_UNKNOWN")
        async with gateway.session.post(f"{url}/carrier", data=b"x" * 70_000) as resp:
            assert (resp.status, (await resp.json())["code"]) == (413, "WEBHOOK_BODY_TOO_LARGE")
        async with gateway.session.get(f"{url}/carrier") as resp:
            assert resp.status == 405


async def test_every_answer_carries_a_request_id(served):
    async with served.session.post(
        f"{served.url}/graphql", json={"query": "{ __typename }"}
    ) as resp:
        generated = resp.headers["x-request-id"]
    async with served.session.post(
        f"{served.url}/graphql",
        json={"query": "{ __typename }"},
        headers={"x-request-id": "console-42.a"},
    ) as resp:
        assert resp.headers["x-request-id"] == "console-42.a"
    assert len(generated) == 32


async def test_metrics_cover_operations_sources_and_the_cache(served, dataset):
    number = next(o.number for o in dataset.orders.values() if o.shipments)
    query = "query StatusPage($n: String!) { orderByNumber(number: $n) { customerStatus } }"
    await served.query(query, {"n": number})
    async with served.session.get(f"{served.url}/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    for needle in (
        'og_graphql_operations_total{kind="query",operation="StatusPage",outcome="ok"}',
        'og_http_requests_total{method="POST",path="/graphql",status="200"}',
        'og_upstream_requests_total{operation="GET /orders/by-number",outcome="ok",source="oms"}',
        'og_cache_lookups_total{result="miss",source="oms"}',
        'og_circuit_state{source="carrier"} 0.0',
    ):
        assert needle in text, needle


@pytest.mark.parametrize(
    ("accept", "status"),
    [("application/graphql-response+json", 400), ("application/json", 200), ("", 200)],
)
async def test_a_request_error_has_no_data_and_its_status_follows_the_media_type(
    served, accept, status
):
    headers = {"accept": accept} if accept else {}
    async with served.session.post(
        f"{served.url}/graphql", json={"query": "{ noSuchField }"}, headers=headers
    ) as resp:
        assert resp.status == status
        assert resp.headers["content-type"].startswith(accept or "application/json")
        body = await resp.json(content_type=None)
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_a_field_error_that_nulls_the_answer_is_still_a_200(served):
    async with served.session.post(
        f"{served.url}/graphql",
        json={"query": '{ orders(first: 5, after: "bogus") { nodes { id } } }'},
        headers={"accept": "application/graphql-response+json"},
    ) as resp:
        assert resp.status == 200
        body = await resp.json(content_type=None)
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("first", "second"),
    [("plain", "plain"), ("event stream", "plain"), ("plain", "event stream"),
     ("websocket", "plain"), ("plain", "websocket")],
    ids=lambda transports: transports,
)  # fmt: skip
async def test_past_its_capacity_the_gateway_refuses_at_once_instead_of_queueing(
    dataset, first, second
):
    """Plain requests, event streams and WebSocket operations count against one
    capacity, and are refused alike past it."""
    async with await start_cluster(dataset, latency_ms=1000) as slow_sources:
        settings = settings_for(slow_sources.urls, max_in_flight=1, request_deadline_ms=5000)
        async with running_gateway(settings) as gateway:
            numbers = [o.number for o in list(dataset.orders.values())[:2]]
            query = "query($n: String!) { orderByNumber(number: $n) { number } }"

            async def ask(transport: str, number: str) -> str:
                """The order's number, or the refusal's code."""
                payload = {"query": query, "variables": {"n": number}}
                if transport == "websocket":
                    async with connect(ws_url(gateway.url), subprotocols=[WS_PROTOCOL]) as ws:
                        await ws.send(json.dumps({"type": "connection_init"}))
                        assert json.loads(await ws.recv())["type"] == "connection_ack"
                        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                                  "payload": payload}))  # fmt: skip
                        message = json.loads(await ws.recv())
                    if message["type"] == "error":
                        return str(message["payload"][0]["extensions"]["code"])
                    return str(message["payload"]["data"]["orderByNumber"]["number"])
                headers = {"accept": "text/event-stream"} if transport == "event stream" else {}
                async with gateway.session.post(
                    f"{gateway.url}/graphql", json=payload, headers=headers
                ) as resp:
                    raw = await resp.read()
                if resp.status == 429:
                    return str(json.loads(raw)["errors"][0]["extensions"]["code"])
                assert resp.status == 200 and number.encode() in raw
                return number

            asked = slow_sources.stats("oms").requests
            running = asyncio.create_task(ask(first, numbers[0]))
            await eventually(
                lambda: slow_sources.stats("oms").requests > asked, "the first waits on the OMS"
            )
            started = time.monotonic()
            assert await ask(second, numbers[1]) == "OVERLOADED"
            assert time.monotonic() - started < 0.5  # queued, it would wait ~0.9 s for the OMS
            assert await running == numbers[0]


async def test_a_key_in_the_url_is_refused_even_in_dev_mode(served):
    """Dev mode lets requests without a key in, never one with its key in the URL."""
    key = "og_test_abcdefghijkl_" + "A" * 43
    for params in ({"api_key": key}, {"variables": f'{{"k": "{key}"}}'}):
        async with served.session.post(
            f"{served.url}/graphql", json={"query": "{ __typename }"}, params=params
        ) as resp:
            body = await resp.json()
            assert resp.status == 401, params
        assert body["errors"][0]["extensions"]["code"] == "API_KEY_IN_URL"
