"""A WebSocket message is held to the HTTP body limit: uvicorn's own frame limit
(16 MiB by default) let a 4 MB ``subscribe`` through, and it was executed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gateway.server import server_config
from gateway.settings import Settings
from sim.cluster import SimCluster
from tests.support.gateways import RunningGateway, running_gateway, settings_for
from tests.support.live_clients import ws_url
from tests.support.serving import serving

PROTOCOL = "graphql-transport-ws"
LIMIT = 100_000  # a small body limit, so the test sends little


@pytest_asyncio.fixture(scope="module")
async def served(sim: SimCluster) -> AsyncIterator[RunningGateway]:
    async with running_gateway(settings_for(sim.urls, max_body_bytes=LIMIT)) as running:
        yield running


async def _open(url: str) -> ClientConnection:
    ws = await connect(ws_url(url), subprotocols=[PROTOCOL], max_size=None)  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    async with asyncio.timeout(5):
        assert json.loads(await ws.recv())["type"] == "connection_ack"
    return ws


def _subscribe(op_id: str, padding: int) -> str:
    """A query that answers at once, its message padded (in an extension nobody
    reads) to ``padding`` bytes more."""
    payload: dict[str, Any] = {"query": "{ __typename }", "extensions": {"pad": "x" * padding}}
    return json.dumps({"id": op_id, "type": "subscribe", "payload": payload})


async def _messages_until_closed(ws: ClientConnection) -> list[dict[str, Any]]:
    received = []
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(10):
            while True:
                received.append(json.loads(await ws.recv()))
    return received


async def test_a_message_within_the_limit_runs(served: RunningGateway) -> None:
    ws = await _open(served.url)
    try:
        await ws.send(_subscribe("1", LIMIT - 1_000))
        async with asyncio.timeout(5):
            answer = json.loads(await ws.recv())
        assert answer == {"id": "1", "type": "next", "payload": answer["payload"]}
        assert answer["payload"]["data"] == {"__typename": "Query"}
    finally:
        await ws.close()


@pytest.mark.parametrize("size", [LIMIT + 1_000, 4_000_000])
async def test_a_larger_message_closes_the_socket_unexecuted(
    served: RunningGateway, size: int
) -> None:
    ws = await _open(served.url)
    await ws.send(_subscribe("1", size))
    received = await _messages_until_closed(ws)
    assert received == []  # no "next": the operation never ran
    assert ws.close_code == 1009
    assert str(LIMIT) in (ws.close_reason or "")


def test_the_server_refuses_larger_frames_itself() -> None:
    """``ordergraph serve`` runs uvicorn with the same limit on every frame."""
    settings = Settings(max_body_bytes=123_456)
    config = server_config(settings, app=lambda *_: None)
    assert config.ws_max_size == 123_456


async def test_under_the_servers_own_limit_a_large_frame_is_refused(sim: SimCluster) -> None:
    """The gateway app under uvicorn configured as ``serve`` does it: the frame is
    refused by the server (1009) before the app reads it."""
    settings = settings_for(sim.urls, max_body_bytes=LIMIT)
    from gateway.app import create_app
    from tests.support.gateways import gateway_at

    config = server_config(settings, create_app(settings, gateway_at(settings)))
    async with serving(config.app, ws_max_size=config.ws_max_size) as (url, _session):
        ws = await _open(url)
        await ws.send(_subscribe("1", 4_000_000))
        assert await _messages_until_closed(ws) == []
        assert ws.close_code == 1009
