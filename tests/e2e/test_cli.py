"""The ``ordergraph`` command line run as a user runs it: the simulated sources on a
port base, data sets reproduced from ``--seed`` and ``--now``, and the gateway on the
host and port of its flags."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest

from sim.cluster import SOURCES, SimCluster
from sources.records import MAX_BATCH
from tests.support.gateways import FIXED_NOW
from tests.support.ports import free_port_block, free_socket
from tests.support.processes import Command, ordergraph

SEED = ("--seed", "11", "--orders", "80")
# --now as a user writes it (printed back with "+00:00"), and a day later
NOW = f"{FIXED_NOW:%Y-%m-%dT%H:%M:%S}Z"
LATER = f"{FIXED_NOW + timedelta(days=1):%Y-%m-%dT%H:%M:%S}Z"


@pytest.fixture(scope="module")
async def sims() -> AsyncIterator[list[tuple[int, Command]]]:
    """Three ``ordergraph sim`` runs: two with the same seed and now, one a day later."""
    async with contextlib.AsyncExitStack() as stack:
        runs = []
        first = free_port_block(12)  # one block: three asked apart could overlap
        for base, now in zip(range(first, first + 12, 4), (NOW, NOW, LATER), strict=True):
            command = ordergraph("sim", "--port-base", str(base), *SEED, "--now", now)
            runs.append((base, await stack.enter_async_context(command)))
        for _, command in runs:
            await command.printed("  ticketing ")  # printed once every source listens
        yield runs


async def test_sim_serves_each_source_on_its_port_and_prints_it(sims):
    base, command = sims[0]
    assert f"--seed 11 --now {FIXED_NOW.isoformat()} --orders 80" in command.output
    async with aiohttp.ClientSession() as session:
        for offset, source in enumerate(SOURCES):
            url = f"http://127.0.0.1:{base + offset}"
            assert re.search(rf"^  {source} +{re.escape(url)} ", command.output, re.M)
            async with session.get(f"{url}/healthz") as resp:
                assert await resp.json() == {"status": "ok", "source": source}


async def _snapshot(base: int) -> dict[str, Any]:
    """Everything the sources serve about the newest orders."""
    oms, inventory, carrier, ticketing = (f"http://127.0.0.1:{base + i}" for i in range(4))
    async with aiohttp.ClientSession() as session:

        async def get(url: str, **params: str) -> Any:
            async with session.get(url, params=params) as resp:
                assert resp.status == 200, await resp.text()
                return await resp.json()

        page = await get(f"{oms}/orders/search", limit=str(MAX_BATCH))
        orders = [edge["node"] for edge in page["edges"]]
        skus = list(dict.fromkeys(line["sku"] for o in orders for line in o["lines"]))
        numbers = [s["trackingNumber"] for o in orders for s in o["shipments"]]
        ids = [o["id"] for o in orders]
        return {
            "orders": orders,
            "inventory": await get(f"{inventory}/inventory", skus=",".join(skus[:MAX_BATCH])),
            "trackings": await get(f"{carrier}/trackings", numbers=",".join(numbers[:MAX_BATCH])),
            "tickets": await get(f"{ticketing}/tickets", orderIds=",".join(ids)),
        }


async def test_the_same_seed_and_now_serve_the_same_data(sims):
    first, again, later = [await _snapshot(base) for base, _ in sims]
    assert len(first["orders"]) == 80 and first["trackings"]["data"]
    assert first == again
    assert first["orders"][0]["placedAt"] != later["orders"][0]["placedAt"]


async def test_sim_refuses_a_bad_now():
    async with ordergraph("sim", "--now", "yesterday") as command:
        assert await command.process.wait() == 2
    assert "invalid datetime 'yesterday'" in command.output


async def test_sim_refuses_a_fault_on_a_vendor_api_it_does_not_serve():
    async with ordergraph("sim", "--fault", "aftership:error=0.5") as command:
        assert await command.process.wait() == 2
    assert "--fault aftership:… needs --vendors" in command.output


async def test_serve_listens_on_the_host_and_port_of_its_flags(sim: SimCluster, tmp_path):
    port = free_port_block(1)
    ignored = free_socket()  # OG_PORT names a port the flags override; nobody listens there
    env = {f"OG_{name.upper()}_URL": url for name, url in sim.urls.items()}
    env |= {
        "OG_HOST": "127.0.0.2",
        "OG_PORT": str(ignored.getsockname()[1]),
        "OG_KEYS_URL": f"file:{tmp_path}/keys.json",
        "OG_KEY_PEPPER": "a-test-pepper-of-forty-bytes-or-so-12345",  # outside dev mode
        "OG_EXCEPTION_QUEUE": "false",
        "OG_SHUTDOWN_DRAIN_MS": "0",
    }
    url = f"http://127.0.0.1:{port}"
    with ignored:
        async with (
            ordergraph("serve", "--host", "127.0.0.1", "--port", str(port), env=env) as command,
            aiohttp.ClientSession() as session,
        ):
            await command.ready(session, url)  # every source answered
            async with session.get(f"{url}/healthz") as resp:
                assert resp.status == 200
            async with session.get(f"{url}/readyz") as resp:
                ready = await resp.json()
    assert ready["status"] == "ready"
    assert {s["name"]: s["url"] for s in ready["sources"] if s["ok"]} == sim.urls


async def test_demo_now_runs_the_gateway_on_the_data_sets_clock():
    """``demo --now T``: the gateway's clock starts at T as the sources' does, so what
    it derives (here the time it fetched an order) is dated from T, not the calendar."""
    port = free_port_block(105)
    url = f"http://127.0.0.1:{port}"
    query = "{ orders(first: 1) { nodes { dataSources { source fetchedAt } } } }"
    async with (
        ordergraph("demo", "--port", str(port), *SEED, "--now", NOW) as command,
        aiohttp.ClientSession() as session,
    ):
        await command.ready(session, url)
        async with session.post(f"{url}/graphql", json={"query": query}) as resp:
            body = await resp.json()
    (oms, *_) = body["data"]["orders"]["nodes"][0]["dataSources"]
    assert oms["source"] == "OMS"
    since_now = datetime.fromisoformat(oms["fetchedAt"]) - datetime.fromisoformat(NOW)
    assert timedelta(0) <= since_now < timedelta(minutes=5), since_now
