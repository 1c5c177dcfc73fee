"""Graceful shutdown of `ordergraph serve`: on SIGTERM readiness fails at once, the
request in flight still completes, and the process exits within the grace period."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp

from sources.sim.cluster import start_cluster
from tests.ports import free_socket
from tests.queries import ORDER_BY_NUMBER
from tests.serving import wait_ready

ROOT = Path(__file__).resolve().parents[1]


async def test_sigterm_drains_then_finishes_requests_in_flight(dataset):
    cluster = await start_cluster(dataset, latency_ms={"carrier": 1000})
    with free_socket() as sock:
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        **{f"OG_{name.upper()}_URL": url for name, url in cluster.urls.items()},
        "OG_PORT": str(port),
        "OG_REQUEST_DEADLINE_MS": "5000",
        "OG_SHUTDOWN_DRAIN_MS": "600",
        "OG_SHUTDOWN_GRACE_MS": "5000",
        "OG_LOG_LEVEL": "WARNING",
        "OG_DEV_MODE": "1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "serve", cwd=ROOT, env=env
    )
    url = f"http://127.0.0.1:{port}"
    number = next(o.number for o in dataset.orders.values() if o.shipments)
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, url, process)

            async def slow_query() -> tuple[int, dict]:
                payload = {"query": ORDER_BY_NUMBER, "variables": {"number": number}}
                async with session.post(f"{url}/graphql", json=payload) as resp:
                    return resp.status, await resp.json()

            in_flight = asyncio.create_task(slow_query())
            await asyncio.sleep(0.3)
            process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            await asyncio.sleep(0.1)
            async with session.get(f"{url}/readyz") as resp:
                assert resp.status == 503
                assert (await resp.json())["status"] == "draining"

            status, body = await in_flight
            assert status == 200 and body["data"]["orderByNumber"]["number"] == number
        await asyncio.wait_for(process.wait(), timeout=8)
        assert time.monotonic() - signalled < 7
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await cluster.close()
