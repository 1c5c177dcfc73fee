"""Slow clients are cut off: headers a line a second, a body a byte a second, on
``/graphql`` and the unauthenticated ``/webhooks/{source}``; and one address holds a
bounded number of connections. Raw sockets, against the gateway under uvicorn as
``ordergraph serve`` configures it (gateway.server.server_config).

The timeouts are set to 1 s here; a client is only required to be cut off within
ten times that (a loaded machine may be slow to run the timer), and to have been
kept for at least part of it, so nothing here is a tight wall-clock bound.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect

from gateway.app import create_app
from gateway.server import server_config
from sim.cluster import SimCluster
from tests.support.gateways import gateway_at, settings_for
from tests.support.serving import serving

TIMEOUT_S = 1.0
CUT_OFF_WITHIN_S = 10 * TIMEOUT_S
PER_CLIENT = 5
PATHS = ["/graphql", "/webhooks/oms"]


@pytest.fixture(scope="module")
async def server(sim: SimCluster) -> AsyncIterator[tuple[str, int]]:
    settings = settings_for(
        sim.urls,
        header_timeout_ms=int(TIMEOUT_S * 1000),
        body_timeout_ms=int(TIMEOUT_S * 1000),
        body_min_bytes_per_s=100,
        max_connections_per_client=PER_CLIENT,
        webhook_secrets=["whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )
    config = server_config(settings, create_app(settings, gateway_at(settings)))
    async with serving(config.app, http=config.http, ws_max_size=config.ws_max_size) as (
        url,
        _session,
    ):
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


@contextlib.asynccontextmanager
async def connection(
    server: tuple[str, int],
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection(*server)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _trickle(writer: asyncio.StreamWriter, pieces: list[bytes], every_s: float) -> None:
    """Send ``pieces`` one by one, ``every_s`` apart, until the server hangs up."""
    with contextlib.suppress(ConnectionError):
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(every_s)


async def _cut_off(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pieces: list[bytes]
) -> tuple[bytes, float]:
    """Trickle ``pieces`` while reading: what the server said until it closed, and
    when it closed."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    trickle = asyncio.create_task(_trickle(writer, pieces, 0.5))
    try:
        async with asyncio.timeout(CUT_OFF_WITHIN_S):
            answer = b""
            with contextlib.suppress(ConnectionError):
                while chunk := await reader.read(4096):
                    answer += chunk
        return answer, loop.time() - started
    finally:
        trickle.cancel()


@pytest.mark.parametrize("path", PATHS)
async def test_headers_a_line_at_a_time_are_cut_off(server: tuple[str, int], path: str) -> None:
    headers = [f"POST {path} HTTP/1.1\r\n".encode()] + [
        f"x-slow-{i}: {i}\r\n".encode() for i in range(1000)
    ]
    async with connection(server) as (reader, writer):
        answer, after = await _cut_off(reader, writer, headers)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert after >= TIMEOUT_S * 0.9  # not refused at once: the timeout did it


async def test_a_connection_that_sends_nothing_is_closed(server: tuple[str, int]) -> None:
    async with connection(server) as (reader, writer):
        answer, _after = await _cut_off(reader, writer, [])
    assert answer.startswith(b"HTTP/1.1 408 "), answer


@pytest.mark.parametrize("path", PATHS)
async def test_a_body_a_byte_at_a_time_is_cut_off(server: tuple[str, int], path: str) -> None:
    body = b'{"query": "{ __typename }"}' + b" " * 1000
    head = (
        f"POST {path} HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode()
    async with connection(server) as (reader, writer):
        answer, after = await _cut_off(reader, writer, [head] + [bytes([b]) for b in body])
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert after >= TIMEOUT_S * 0.9


async def test_a_quick_request_is_answered(server: tuple[str, int]) -> None:
    body = b'{"query": "{ __typename }"}'
    request = (
        "POST /graphql HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body
    async with connection(server) as (reader, writer):
        writer.write(request)
        async with asyncio.timeout(CUT_OFF_WITHIN_S):
            answer = await reader.read()
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert b'"__typename":"Query"' in answer


async def test_one_address_holds_a_bounded_number_of_connections(server: tuple[str, int]) -> None:
    async with contextlib.AsyncExitStack() as stack:
        held = [await stack.enter_async_context(connection(server)) for _ in range(PER_CLIENT)]
        async with connection(server) as (reader, _writer):
            async with asyncio.timeout(CUT_OFF_WITHIN_S):
                assert await reader.read() == b""  # closed at once, nothing said
        # The ones held still work.
        reader, writer = held[0]
        writer.write(b"GET /healthz HTTP/1.1\r\nhost: gateway\r\n\r\n")
        async with asyncio.timeout(CUT_OFF_WITHIN_S):
            assert (await reader.readline()).startswith(b"HTTP/1.1 200 ")
    # Once they close, the address may connect again.
    for _ in range(50):
        async with connection(server) as (reader, writer):
            writer.write(b"GET /healthz HTTP/1.1\r\nhost: gateway\r\nconnection: close\r\n\r\n")
            async with asyncio.timeout(CUT_OFF_WITHIN_S):
                line = await reader.readline()
        if line.startswith(b"HTTP/1.1 200 "):
            return
        await asyncio.sleep(0.1)  # the server may not have seen the closes yet
    pytest.fail("the address could not connect again")


async def test_websockets_that_ended_do_not_count_against_the_address(
    server: tuple[str, int],
) -> None:
    """A WebSocket leaves the HTTP protocol that counted it: it must not stay counted
    once it has ended, or an address would be locked out after enough of them."""
    host, port = server
    for _ in range(PER_CLIENT + 2):
        async with connect(
            f"ws://{host}:{port}/graphql", subprotocols=["graphql-transport-ws"]
        ) as ws:  # type: ignore[list-item]
            await ws.send('{"type": "connection_init", "payload": {}}')
            async with asyncio.timeout(CUT_OFF_WITHIN_S):
                assert "connection_ack" in str(await ws.recv())
    async with connection(server) as (reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nhost: gateway\r\nconnection: close\r\n\r\n")
        async with asyncio.timeout(CUT_OFF_WITHIN_S):
            assert (await reader.readline()).startswith(b"HTTP/1.1 200 ")
