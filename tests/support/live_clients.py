"""Real clients of the live protocols: the ``gql`` client's graphql-transport-ws
transport, an SSE client (httpx-sse), and what tests driving a raw WebSocket send."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.websockets import WebsocketsTransport
from httpx_sse import aconnect_sse
from websockets.asyncio.client import ClientConnection

from resolvers.relay import to_global_id
from sim.seed import Dataset
from tests.support.tls import SHARED_TLS

ORDER_UPDATED = """subscription Watch($id: ID!) { orderUpdated(id: $id) {
  id number customerStatus shipments { trackingNumber tracking { status } }
} }"""


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1) + "/graphql"


async def ws_send(ws: ClientConnection, message: dict[str, Any]) -> None:
    """One graphql-transport-ws message, as JSON, on a raw WebSocket."""
    await ws.send(json.dumps(message))


def order_watch(dataset: Dataset) -> dict[str, Any]:
    """A subscription to the data set's first order's updates (its number only)."""
    order_id = next(iter(dataset.orders))
    query = "subscription($id: ID!) { orderUpdated(id: $id) { number } }"
    return {"query": query, "variables": {"id": to_global_id("Order", order_id)}}


@contextlib.asynccontextmanager
async def ws_client(http_url: str, key: str | None) -> AsyncIterator[AsyncClientSession]:
    """A gql session over graphql-transport-ws, authenticated in ``connection_init``."""
    transport = WebsocketsTransport(
        url=ws_url(http_url),
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload={"authorization": f"Bearer {key}"} if key else {},
        ack_timeout=5,
        # gql waits this long at exit for subscriptions the test left unconsumed (their
        # "complete" is only simulated on the client side, so the wait never ends early).
        close_timeout=0.5,
    )
    async with Client(transport=transport, execute_timeout=10) as session:
        yield session


def subscribe(
    session: AsyncClientSession, query: str, variables: dict[str, Any]
) -> AsyncIterator[dict[str, Any]]:
    return session.subscribe(GraphQLRequest(query, variable_values=variables))


async def within(stream: AsyncIterator[Any], seconds: float) -> Any:
    """The stream's next item, failing the test if it takes longer than ``seconds``."""
    return await asyncio.wait_for(anext(stream), seconds)


@contextlib.asynccontextmanager
async def sse_stream(
    http_url: str, payload: dict[str, Any], key: str | None = None
) -> AsyncIterator[AsyncIterator[tuple[str, Any]]]:
    """POST an operation asking for ``text/event-stream``; yields its events as
    (event name, decoded data)."""
    headers = {"authorization": f"Bearer {key}"} if key else {}
    timeout = httpx.Timeout(10.0, read=30.0)
    async with (
        httpx.AsyncClient(timeout=timeout, verify=SHARED_TLS) as client,
        aconnect_sse(
            client, "POST", f"{http_url}/graphql", json=payload, headers=headers
        ) as source,
    ):
        source.response.raise_for_status()

        async def events() -> AsyncIterator[tuple[str, Any]]:
            async for sse in source.aiter_sse():
                yield sse.event, json.loads(sse.data) if sse.data else None

        yield events()
