"""Clear answers, not crashes (issue 11, section 4): a caller's odd request gets a
stable code and a 4xx, never a 500 or a traceback; against a real gateway, sources
and clients."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.live_clients import ws_url

KEY = "og_test_abcdefghijkl_" + "A" * 43
PROTOCOL = "graphql-transport-ws"
TYPENAME = "{ __typename }"

# --- variables that are not an object ------------------------------------------------

NOT_OBJECTS: list[Any] = [0, False, [], "", "x", 5, True, [{"a": 1}], 0.0]


@pytest.mark.parametrize("variables", NOT_OBJECTS, ids=repr)
async def test_variables_that_are_not_an_object_are_400_over_post(gateway, variables):
    """``0``, ``false`` and ``[]`` were taken for "no variables" (``or {}``)."""
    payload = {"query": TYPENAME, "variables": variables}
    async with gateway.session.post(f"{gateway.url}/graphql", json=payload) as resp:
        body = await resp.json(content_type=None)
        assert resp.status == 400, body
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("variables", ["0", "false", "[]", '"x"', "5"])
async def test_variables_that_are_not_an_object_are_400_over_get(gateway, variables):
    params = {"query": TYPENAME, "variables": variables}
    headers = {"apollo-require-preflight": "1"}
    async with gateway.session.get(
        f"{gateway.url}/graphql", params=params, headers=headers
    ) as resp:
        body = await resp.json(content_type=None)
        assert resp.status == 400, body
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("variables", [0, False, []], ids=repr)
async def test_variables_that_are_not_an_object_are_400_over_an_event_stream(gateway, variables):
    payload = {"query": TYPENAME, "variables": variables}
    headers = {"accept": "text/event-stream"}
    async with gateway.session.post(
        f"{gateway.url}/graphql", json=payload, headers=headers
    ) as resp:
        body = await resp.json(content_type=None)
        assert resp.status == 400, body
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_variables_that_are_not_an_object_are_an_error_over_a_websocket(gateway):
    async with connect(ws_url(gateway.url), subprotocols=[PROTOCOL]) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv()) == {"type": "connection_ack"}
        for n, variables in enumerate([0, False, [], "x"]):
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
async def test_a_key_anywhere_in_the_url_is_refused(gateway, params, caplog):
    async with gateway.session.post(
        f"{gateway.url}/graphql", json={"query": TYPENAME}, params=params
    ) as resp:
        body = await resp.json(content_type=None)
        assert resp.status == 401, body
    assert body["errors"][0]["extensions"]["code"] == "API_KEY_IN_URL"
    assert "A" * 43 not in caplog.text  # the secret is never logged


async def test_a_url_without_a_key_is_served(gateway):
    params = {"next": "https://example.com/og_test_short?x=og_", "q": "A" * 60}
    async with gateway.session.post(
        f"{gateway.url}/graphql", json={"query": TYPENAME}, params=params
    ) as resp:
        assert resp.status == 200, await resp.text()
