"""``ordergraph serve --workers 2`` as a subprocess over the simulated sources and a
real redis-server, and how to tell its workers apart: each answer names its worker's
pid."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from gateway.workers import WORKER_HEADER
from sim.cluster import SimCluster
from tests.support.ports import free_port_block
from tests.support.processes import QUIET, ROOT
from tests.support.queries import ORDER_BY_NUMBER
from tests.support.redis_server import PATIENT_TIMEOUT_S
from tests.support.serving import wait_ready


class Workers:
    def __init__(self, process: asyncio.subprocess.Process, url: str) -> None:
        self.process = process
        self.url = url

    async def query(self, number: str) -> tuple[int, dict, int]:
        """Status, body and the answering worker's pid, over a new connection (so
        either worker may take it)."""
        payload = {"query": ORDER_BY_NUMBER, "variables": {"number": number}}
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session,
            session.post(f"{self.url}/graphql", json=payload) as resp,
        ):
            return resp.status, await resp.json(), int(resp.headers[WORKER_HEADER])

    async def both_listening(self) -> None:
        """Until both workers have answered (the second may start later than the first)."""
        seen: set[str] = set()
        async with asyncio.timeout(60):
            while len(seen) < 2:
                async with (
                    aiohttp.ClientSession(
                        connector=aiohttp.TCPConnector(force_close=True)
                    ) as session,
                    session.get(f"{self.url}/healthz") as resp,
                ):
                    seen.add(resp.headers[WORKER_HEADER])

    async def ready_status(self) -> tuple[int, str]:
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session,
            session.get(f"{self.url}/readyz") as resp,
        ):
            return resp.status, (await resp.json())["status"]

    async def both_answer(self, numbers: list[str]) -> dict[int, list[str]]:
        """Query ``numbers`` concurrently, in rounds, until both workers have answered:
        the numbers each answered. Every answer is the order asked for."""
        answered: dict[int, list[str]] = {}
        for _ in range(10):
            results = await asyncio.gather(*(self.query(number) for number in numbers))
            for number, (status, body, pid) in zip(numbers, results, strict=True):
                assert status == 200 and body["data"]["orderByNumber"]["number"] == number
                answered.setdefault(pid, []).append(number)
            if len(answered) == 2:
                return answered
        raise AssertionError(f"one worker answered everything: {answered.keys()}")


@contextlib.asynccontextmanager
async def running_workers(cluster: SimCluster, redis_url: str) -> AsyncIterator[Workers]:
    """``serve --workers 2`` over ``cluster`` and the Redis at ``redis_url`` until the
    block ends (then killed, if it has not stopped), once both workers answer."""
    port = free_port_block(1)  # not an ephemeral port another connection may take
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("OG_")},
        **{f"OG_{name.upper()}_URL": url for name, url in cluster.urls.items()},
        "OG_PORT": str(port),
        "OG_DEV_MODE": "1",
        "OG_CACHE_URL": redis_url,
        # As settings_for's: what Redis holds, not how soon (its 100 ms ran out at a host
        # probe of 2.4x, and a worker then read the sources again).
        "OG_CACHE_TIMEOUT_MS": str(int(PATIENT_TIMEOUT_S * 1000)),
        "OG_EXCEPTION_QUEUE": "false",  # its sweeps would call the sources meanwhile
        "OG_REQUEST_DEADLINE_MS": "5000",
        "OG_SHUTDOWN_DRAIN_MS": "600",
        "OG_SHUTDOWN_GRACE_MS": "5000",
        **QUIET,
    }
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "gateway", "serve", "--workers", "2"), cwd=ROOT, env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, url, process, timeout_s=60)
        workers = Workers(process, url)
        await workers.both_listening()
        yield workers
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def parent_pid(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[1])


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
