"""Clear answers, not crashes: a caller's odd request gets a stable code and a 4xx,
never a 500 or a traceback; against a real gateway, sources and clients."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from domain.addresses import check_address
from gateway.settings import load_settings
from resolvers.relay import to_global_id
from sim.catalog import (
    CUSTOMS_GATEWAYS,
    EU_PLACES,
    INTL_PLACES,
    LOCATION_PLACES,
    US_PLACES,
    Place,
)
from sim.cluster import SimCluster, start_cluster
from sim.faults import FaultSpec
from tests.support.gateways import RunningGateway, running_gateway, settings_for
from tests.support.live_clients import ws_url
from tests.support.ports import hung_server
from tests.support.secured import TENANT_A, Secured, secured_gateway

KEY = "og_test_abcdefghijkl_" + "A" * 43
PROTOCOL = "graphql-transport-ws"
TYPENAME = "{ __typename }"

# --- variables that are not an object ------------------------------------------------

NOT_OBJECTS: list[Any] = [0, False, [], "", "x", 5, True, [{"a": 1}], 0.0]


@pytest.mark.parametrize("variables", NOT_OBJECTS, ids=repr)
async def test_variables_that_are_not_an_object_are_400_over_post(served, variables):
    """``0``, ``false`` and ``[]`` were taken for "no variables" (``or {}``)."""
    payload = {"query": TYPENAME, "variables": variables}
    async with served.session.post(f"{served.url}/graphql", json=payload) as resp:
        body = await resp.json(content_type=None)
        assert resp.status == 400, body
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("variables", ["0", "false", "[]", '"x"', "5"])
async def test_variables_that_are_not_an_object_are_400_over_get(served, variables):
    params = {"query": TYPENAME, "variables": variables}
    headers = {"apollo-require-preflight": "1"}
    async with served.session.get(f"{served.url}/graphql", params=params, headers=headers) as resp:
        body = await resp.json(content_type=None)
        assert resp.status == 400, body
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


# Not an object; or nested deeper than orjson writes back (it read them: a 200 and then
# a broken stream, before the gate bounded the nesting).
BAD_VARIABLES = {
    "0": 0,
    "False": False,
    "[]": [],
    "'x'": "x",
    "nested 300 deep": {"a": json.loads("[" * 300 + "]" * 300)},
}


@pytest.mark.parametrize("variables", BAD_VARIABLES.values(), ids=BAD_VARIABLES.keys())
async def test_bad_variables_are_400_over_an_event_stream(served, variables):
    payload = {"query": TYPENAME, "variables": variables}
    headers = {"accept": "text/event-stream"}
    async with served.session.post(f"{served.url}/graphql", json=payload, headers=headers) as resp:
        body = await resp.json(content_type=None)
        assert resp.status == 400, body
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_bad_variables_are_an_error_over_a_websocket(served):
    async with connect(ws_url(served.url), subprotocols=[PROTOCOL]) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv()) == {"type": "connection_ack"}
        for n, variables in enumerate(BAD_VARIABLES.values()):
            payload = {"query": TYPENAME, "variables": variables}
            await ws.send(json.dumps({"type": "subscribe", "id": str(n), "payload": payload}))
            message = json.loads(await ws.recv())
            assert message["type"] == "error", (variables, message)
            assert message["payload"][0]["extensions"]["code"] == "BAD_REQUEST"


# --- a key anywhere in the URL ---------------------------------------------------------

URL_KEYS = {
    "glued to other text": {"q": f"prefix{KEY}suffix"},
    "after an underscore": {"ref": f"x_{KEY}"},
    "in a URL value": {"next": f"https://example.com/cb?auth={KEY}&x=1"},
    "URL-encoded again": {"next": "https%3A%2F%2Fx.example%2F%3Fk%3D" + KEY.replace("_", "%5F")},
    "URL-encoded twice": {"r": KEY.replace("_", "%255F")},
    "as a parameter name": {KEY: ""},
    "in a parameter name": {f"cb_{KEY}": "1"},
}


@pytest.mark.parametrize("params", URL_KEYS.values(), ids=URL_KEYS.keys())
async def test_a_key_anywhere_in_the_url_is_refused(served, params, caplog):
    async with served.session.post(
        f"{served.url}/graphql", json={"query": TYPENAME}, params=params
    ) as resp:
        body = await resp.json(content_type=None)
        assert resp.status == 401, body
    assert body["errors"][0]["extensions"]["code"] == "API_KEY_IN_URL"
    assert "A" * 43 not in caplog.text  # the secret is never logged


async def test_a_key_glued_into_a_websocket_url_is_refused(served):
    url = ws_url(served.url) + "?next=" + quote(f"https://x.example/?t=x{KEY}", safe="")
    async with connect(url, subprotocols=[PROTOCOL]) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(10):
                await ws.recv()
    assert (ws.close_code, ws.close_reason) == (4403, "Forbidden: API_KEY_IN_URL")


async def test_a_url_without_a_key_is_served(served):
    params = {"next": "https://example.com/og_test_short?x=og_", "q": "A" * 60}
    async with served.session.post(
        f"{served.url}/graphql", json={"query": TYPENAME}, params=params
    ) as resp:
        assert resp.status == 200, await resp.text()


# --- orderUpdateShippingAddress checks its input -----------------------------------

GOOD = {"name": "Ada Lovelace", "line1": "1 Analytical Way", "city": "London",
        "postalCode": "N1 9GU", "countryCode": "GB"}  # fmt: skip
US = {**GOOD, "city": "Boston", "region": "MA", "postalCode": "02118", "countryCode": "US"}
BAD_ADDRESSES: dict[str, tuple[dict[str, Any], list[tuple[str, str]]]] = {
    "blank name": ({**GOOD, "name": "  "}, [("name", "REQUIRED")]),
    "empty line1": ({**GOOD, "line1": ""}, [("line1", "REQUIRED")]),
    "empty city and postal code": (
        {**GOOD, "city": "", "postalCode": " "},
        [("city", "REQUIRED"), ("postalCode", "REQUIRED")],
    ),
    "long name": ({**GOOD, "name": "A" * 101}, [("name", "TOO_LONG")]),
    "100 KB line2": ({**GOOD, "line2": "x" * 100_000}, [("line2", "TOO_LONG")]),
    "control character": ({**GOOD, "line1": "1 Way\r\nX-Evil: 1"}, [("line1", "INVALID")]),
    "C1 control (NEL)": ({**GOOD, "line1": "1 Way\x85X-Evil: 1"}, [("line1", "INVALID")]),
    "line separator": ({**GOOD, "line1": "1 Way\u2028Evil"}, [("line1", "INVALID")]),
    "bidi override": ({**GOOD, "name": "\u202eecilA"}, [("name", "INVALID")]),
    "zero-width name": ({**GOOD, "name": "\u200b\u200b"}, [("name", "REQUIRED")]),
    "country name": ({**GOOD, "countryCode": "United Kingdom"}, [("countryCode", "TOO_LONG")]),
    "unassigned country": ({**GOOD, "countryCode": "XX"}, [("countryCode", "INVALID_COUNTRY")]),
    "alpha-3 country": ({**GOOD, "countryCode": "GBR"}, [("countryCode", "TOO_LONG")]),
    "lower-case country": ({**GOOD, "countryCode": "gb"}, [("countryCode", "INVALID_COUNTRY")]),
    "GB postal code": ({**GOOD, "postalCode": "12345"}, [("postalCode", "INVALID_POSTAL_CODE")]),
    "US postal code": ({**US, "postalCode": "0211"}, [("postalCode", "INVALID_POSTAL_CODE")]),
    "US without a state": ({**US, "region": None}, [("region", "REQUIRED")]),
    "US region not a state": ({**US, "region": "ZZZ"}, [("region", "INVALID")]),
    "CA postal code": (
        {**US, "region": "ON", "postalCode": "12345", "countryCode": "CA"},
        [("postalCode", "INVALID_POSTAL_CODE")],
    ),
    "DE postal code": (
        {**GOOD, "postalCode": "1011", "countryCode": "DE"},
        [("postalCode", "INVALID_POSTAL_CODE")],
    ),
    "NL postal code": (
        {**GOOD, "postalCode": "1012", "countryCode": "NL"},
        [("postalCode", "INVALID_POSTAL_CODE")],
    ),
    "elsewhere, a comma": (
        {**GOOD, "postalCode": ",", "countryCode": "JP"},
        [("postalCode", "INVALID_POSTAL_CODE")],
    ),
    "region sentence": ({**US, "region": "Massachusetts"}, [("region", "TOO_LONG")]),
    "phone": ({**GOOD, "phone": "call me"}, [("phone", "INVALID")]),
}
ADDRESS_CHANGE = """mutation($input: OrderUpdateShippingAddressInput!) {
  orderUpdateShippingAddress(input: $input) { status userErrors { field message code } } }"""


@pytest.fixture(scope="module")
async def cluster(make_dataset) -> AsyncIterator[SimCluster]:
    async with await start_cluster(make_dataset()) as running:
        yield running


@pytest.fixture(scope="module")
async def secured(cluster, tmp_path_factory) -> AsyncIterator[Secured]:
    async with secured_gateway(
        cluster.urls, tmp_path_factory.mktemp("keys"), serve=running_gateway
    ) as running:
        yield running


def _placed_order_of_a(cluster: SimCluster) -> str:
    dataset = cluster.dataset
    order = next(
        dataset.orders[o]
        for o, s in dataset.scenarios.items()
        if s == "just_placed" and dataset.orders[o].account_id == TENANT_A
    )
    return to_global_id("Order", order.id)


async def _change_address(secured: Secured, order_id: str, address: dict[str, Any]) -> Any:
    variables = {"input": {"orderId": order_id, "address": address, "idempotencyKey": "k-1"}}
    status, body, _ = await secured.post(
        {"query": ADDRESS_CHANGE, "variables": variables}, key="writer_a"
    )
    assert status == 200 and "errors" not in body, body
    return body["data"]["orderUpdateShippingAddress"]


@pytest.mark.parametrize(("address", "expected"), BAD_ADDRESSES.values(), ids=BAD_ADDRESSES.keys())
async def test_a_bad_address_is_a_user_error_with_its_field_and_no_source_call(
    secured, cluster, address, expected
):
    cluster.reset_stats()
    payload = await _change_address(secured, _placed_order_of_a(cluster), address)
    assert payload["status"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["address", field], code) for field, code in expected
    ]
    assert all(len(e["message"]) < 120 for e in payload["userErrors"])  # never echoes input
    assert cluster.stats("oms").requests == 0


async def test_a_corrected_address_goes_through_with_the_same_idempotency_key(secured, cluster):
    """A refused input claims no key: the caller fixes it and retries as it was."""
    order_id = _placed_order_of_a(cluster)
    refused = await _change_address(secured, order_id, {**US, "postalCode": "x"})
    assert refused["userErrors"] and refused["status"] is None
    payload = await _change_address(secured, order_id, US)
    assert payload == {"status": "APPLIED", "userErrors": []}


def _places() -> list[Place]:
    return [
        *LOCATION_PLACES.values(),
        *US_PLACES,
        *EU_PLACES,
        *INTL_PLACES,
        *CUSTOMS_GATEWAYS.values(),
    ]


@pytest.mark.parametrize("place", _places(), ids=lambda p: f"{p.country_code}-{p.city}")
def test_every_address_of_the_data_set_passes(place):
    checked = check_address(
        name="Ada Lovelace",
        line1="1 Main Street",
        line2=None,
        city=place.city,
        region=place.region,
        postal_code=place.postal_code,
        country_code=place.country_code,
        phone="+44 20 7946 0000",
    )
    assert checked.problems == []


# --- /readyz names a failing source ----------------------------------------------------

TRACKING = """{ orders(first: 50) { nodes { shipments { tracking { status } } } } }"""


async def test_readyz_is_degraded_while_a_sources_breaker_is_open(cluster):
    """The carrier fails every data call yet answers its health check: readiness
    said "ready" while every tracking field failed."""
    # Opens after 5 calls, all failed, and stays open for the test however slow it runs.
    breaker = {"breaker_min_calls": 5, "breaker_open_ms": 600_000}
    async with running_gateway(settings_for(cluster.urls, breaker)) as gateway:
        status, body = await gateway.readyz()
        assert (status, body["status"]) == (200, "ready"), body
        cluster.set_faults("carrier", FaultSpec(error_rate=1.0, error_status=503))
        try:
            for _ in range(30):  # each query fails one to three carrier calls
                await gateway.query(TRACKING)
                status, body = await gateway.readyz()
                if body["status"] != "ready":
                    break
        finally:
            cluster.set_faults("carrier", None)
    assert (status, body["status"]) == (200, "degraded"), body
    # Only the carrier's entry is asserted: the others answer their health checks on
    # loopback in milliseconds, far inside the 1 s bound, but a loaded machine is
    # not asked to prove it here.
    assert {"source": "carrier", "reason": "circuit breaker open: its calls fail fast"} in body[
        "degraded"
    ]
    carrier = next(s for s in body["sources"] if s["name"] == "carrier")
    assert (carrier["ok"], carrier["breaker"]) == (False, "open")


async def test_readyz_is_degraded_with_a_hung_source_and_names_it(cluster):
    async with (
        hung_server() as hung,
        running_gateway(
            settings_for({**cluster.urls, "carrier": hung.replace("redis://", "http://")})
        ) as gateway,
    ):
        status, body = await gateway.readyz()
    assert (status, body["status"]) == (200, "degraded"), body
    reason = "no answer to its health check within 1000 ms"
    assert {"source": "carrier", "reason": reason} in body["degraded"]


async def test_readyz_is_unavailable_with_a_hung_oms(cluster):
    async with (
        hung_server() as hung,
        running_gateway(
            settings_for({**cluster.urls, "oms": hung.replace("redis://", "http://")})
        ) as gateway,
    ):
        status, body = await gateway.readyz()
    assert (status, body["status"]) == (503, "unavailable"), body
    assert "oms" in [d["source"] for d in body["degraded"]]


# --- dev mode: requests and live connections only from the gateway's own pages ---------

FOREIGN = ["https://evil.example", "http://evil.example:8000", "null", "http://localhost:1"]


def _own_origins(gateway: RunningGateway) -> list[str]:
    port = gateway.url.rsplit(":", 1)[1]
    return [gateway.url, f"http://localhost:{port}", f"http://[::1]:{port}"]


async def _ws_opens(gateway: RunningGateway, origin: str | None) -> bool:
    """Whether a WebSocket with this ``Origin`` gets as far as the ack."""
    try:
        async with connect(ws_url(gateway.url), subprotocols=[PROTOCOL], origin=origin) as ws:  # type: ignore[arg-type]
            await ws.send(json.dumps({"type": "connection_init"}))
            return bool(json.loads(await ws.recv()) == {"type": "connection_ack"})
    except InvalidStatus as refused:
        assert refused.response.status_code == 403
        return False


async def _stream_status(gateway: RunningGateway, origin: str | None) -> tuple[int, Any]:
    headers = {"accept": "text/event-stream"} | ({"origin": origin} if origin else {})
    async with gateway.session.post(
        f"{gateway.url}/graphql", json={"query": TYPENAME}, headers=headers
    ) as resp:
        body = await resp.read()
        return resp.status, body


@pytest.mark.parametrize("origin", FOREIGN)
async def test_a_foreign_page_cannot_open_a_websocket_in_dev_mode(served, origin):
    assert not await _ws_opens(served, origin)


@pytest.mark.parametrize("origin", FOREIGN)
async def test_a_foreign_page_cannot_open_an_event_stream_in_dev_mode(served, origin):
    status, body = await _stream_status(served, origin)
    assert status == 403, body
    assert json.loads(body)["errors"][0]["extensions"]["code"] == "FORBIDDEN_ORIGIN"


async def _post_status(gateway: RunningGateway, origin: str | None) -> tuple[int, Any]:
    headers = {"origin": origin} if origin else {}
    async with gateway.session.post(
        f"{gateway.url}/graphql", json={"query": TYPENAME}, headers=headers
    ) as resp:
        return resp.status, await resp.json(content_type=None)


async def _get_status(gateway: RunningGateway, headers: dict[str, str]) -> tuple[int, Any]:
    headers = {"apollo-require-preflight": "1", **headers}
    async with gateway.session.get(
        f"{gateway.url}/graphql", params={"query": TYPENAME}, headers=headers
    ) as resp:
        return resp.status, await resp.json(content_type=None)


@pytest.mark.parametrize("origin", FOREIGN)
async def test_a_foreign_page_cannot_send_requests_in_dev_mode(served, origin):
    """A page under a name rebound to 127.0.0.1 (DNS rebinding) would otherwise POST
    mutations as the internal console, and read the answers."""
    for status, body in [
        await _post_status(served, origin),
        await _get_status(served, {"origin": origin}),
    ]:
        assert (status, body["errors"][0]["extensions"]["code"]) == (403, "FORBIDDEN_ORIGIN")


async def test_a_same_origin_get_from_a_rebound_name_is_refused_in_dev_mode(served):
    """A browser sends no Origin with a same-origin GET, only Sec-Fetch-Site: the
    page is on the Host the request names."""
    port = served.url.rsplit(":", 1)[1]
    browser = {"sec-fetch-site": "same-origin"}
    status, body = await _get_status(served, {**browser, "host": f"evil.example:{port}"})
    assert (status, body["errors"][0]["extensions"]["code"]) == (403, "FORBIDDEN_ORIGIN")
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        status, body = await _get_status(served, {**browser, "host": host})
        assert status == 200 and body["data"] == {"__typename": "Query"}, (host, body)


async def test_the_gateways_own_pages_and_non_browsers_open_live_connections(served):
    for origin in [None, *_own_origins(served)]:
        assert await _ws_opens(served, origin), origin
        status, body = await _stream_status(served, origin)
        assert status == 200 and b"event: next" in body, (origin, body)
        status, body = await _post_status(served, origin)
        assert status == 200 and body["data"] == {"__typename": "Query"}, (origin, body)


async def test_allowed_origins_may_open_live_connections(sim):
    console = "https://console.example.com"
    settings = settings_for(sim.urls, allowed_origins=[console])
    async with running_gateway(settings) as gateway:
        assert await _ws_opens(gateway, console)
        assert (await _stream_status(gateway, console))[0] == 200
        assert (await _post_status(gateway, console))[0] == 200
        assert not await _ws_opens(gateway, "https://evil.example")


def test_allowed_origins_are_read_comma_separated():
    env = {"OG_ALLOWED_ORIGINS": "https://a.example, http://b.example:8080"}
    assert load_settings(env).allowed_origins == ["https://a.example", "http://b.example:8080"]


# --- a client that goes away mid-body ----------------------------------------------------


async def _requests_with_status(gateway: RunningGateway, route: str, status: int) -> float:
    """og_http_requests_total for POST ``route`` with ``status``, as /metrics says."""
    async with gateway.session.get(f"{gateway.url}/metrics") as resp:
        text = await resp.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "og_http_requests_total"
                and labels.get("path") == route
                and labels.get("method") == "POST"
                and labels.get("status") == str(status)
            ):
                return float(sample.value)
    return 0.0


@pytest.mark.parametrize(
    ("path", "route"), [("/graphql", "/graphql"), ("/webhooks/oms", "/webhooks/{source}")]
)
async def test_a_client_gone_mid_body_is_one_info_line_and_a_499_never_a_500(
    served, caplog, path, route
):
    host, port = served.url.removeprefix("http://").split(":")
    before = {s: await _requests_with_status(served, route, s) for s in (499, 500)}
    caplog.set_level(logging.INFO)
    _reader, writer = await asyncio.open_connection(host, int(port))
    body = json.dumps({"query": "{ __typename }"}).encode()
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n".encode()
        + b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        + body[:10]
    )
    await writer.drain()
    writer.close()  # half a body, then gone
    await writer.wait_closed()
    for _ in range(100):  # the server notices the close in its own time
        if await _requests_with_status(served, route, 499) > before[499]:
            break
        await asyncio.sleep(0.05)
    assert await _requests_with_status(served, route, 499) == before[499] + 1
    assert await _requests_with_status(served, route, 500) == before[500]
    records = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert [(r.levelno, r.name) for r in records] == [(logging.INFO, "ordergraph.http")]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
