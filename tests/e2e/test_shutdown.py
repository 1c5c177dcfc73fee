"""Graceful shutdown of `ordergraph serve`: on SIGTERM readiness fails at once, the
request in flight still completes, and the process exits within the grace period."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from resolvers.relay import to_global_id
from sim.cluster import start_cluster
from tests.support.live_clients import ORDER_UPDATED, sse_stream, ws_url
from tests.support.ports import free_port_block
from tests.support.processes import QUIET
from tests.support.queries import ORDER_BY_NUMBER
from tests.support.serving import wait_ready
from tests.support.timing import HANG_S
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


async def _serve(urls: dict[str, str]) -> tuple[asyncio.subprocess.Process, str]:
    """``ordergraph serve`` in dev mode on a free port, with a 0.6 s drain."""
    port = free_port_block(1)  # not an ephemeral port another connection may take
    env = {
        **os.environ,
        **{f"OG_{name.upper()}_URL": url for name, url in urls.items()},
        "OG_PORT": str(port),
        "OG_REQUEST_DEADLINE_MS": "5000",
        "OG_SHUTDOWN_DRAIN_MS": "600",
        "OG_SHUTDOWN_GRACE_MS": "5000",
        "OG_EXCEPTION_QUEUE": "false",  # its start-up sweep would read the carrier too
        **QUIET,
        "OG_DEV_MODE": "1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "serve", cwd=ROOT, env=env
    )
    return process, f"http://127.0.0.1:{port}"


async def test_sigterm_drains_then_finishes_requests_in_flight(dataset):
    cluster = await start_cluster(dataset, latency_ms={"carrier": 1000})
    process, url = await _serve(cluster.urls)
    number = next(o.number for o in dataset.orders.values() if o.shipments)
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, url, process)

            async def slow_query() -> tuple[int, dict]:
                payload = {"query": ORDER_BY_NUMBER, "variables": {"number": number}}
                async with session.post(f"{url}/graphql", json=payload) as resp:
                    return resp.status, await resp.json()

            carrier = cluster.stats("carrier")
            asked = carrier.requests
            in_flight = asyncio.create_task(slow_query())
            await eventually(lambda: carrier.requests > asked, "the query waits on the carrier")
            process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            readiness: tuple[int, dict] = (0, {})

            async def signal_handled() -> bool:
                nonlocal readiness
                async with session.get(f"{url}/readyz") as resp:
                    readiness = resp.status, await resp.json()
                return readiness[0] != 200

            await eventually(signal_handled, "readiness fails", timeout_s=HANG_S)
            status, body = readiness
            assert status == 503
            assert body["status"] == "draining"

            status, body = await in_flight
            assert status == 200 and body["data"]["orderByNumber"]["number"] == number
        await asyncio.wait_for(process.wait(), timeout=8)
        assert time.monotonic() - signalled < 7
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await cluster.close()


async def test_sigterm_closes_websockets_with_1001_and_ends_event_streams(sim, dataset):
    process, url = await _serve(sim.urls)
    gid = to_global_id("Order", next(iter(dataset.orders)))
    payload = {"query": ORDER_UPDATED, "variables": {"id": gid}}
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, url, process)
        async with (
            connect(ws_url(url), subprotocols=["graphql-transport-ws"]) as ws,
            sse_stream(url, payload) as events,
        ):
            await ws.send(json.dumps({"type": "connection_init"}))
            await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": payload}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            assert json.loads(await ws.recv())["type"] == "next"
            assert (await anext(events))[0] == "next"
            process.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed):
                async with asyncio.timeout(5):
                    while True:
                        await ws.recv()
            assert (ws.close_code, ws.close_reason) == (1001, "Server shutting down")
            async with asyncio.timeout(5):
                rest = [event async for event in events]
            assert rest == [("complete", None)]  # the stream ended cleanly
        await asyncio.wait_for(process.wait(), timeout=8)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
