"""``ordergraph serve --workers N``: several gateway processes on one port, over the
simulated sources and a real redis-server; each answer names its worker's pid."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import aiohttp
import pytest

from gateway.settings import Settings, SettingsError, load_settings
from gateway.workers import WORKER_HEADER, cores, worker_count
from sim.cluster import SimCluster, start_cluster
from tests.support.ports import free_socket
from tests.support.processes import QUIET
from tests.support.queries import ORDER_BY_NUMBER
from tests.support.redis_server import RedisServer
from tests.support.serving import wait_ready

ROOT = Path(__file__).resolve().parents[1]
REDIS = "redis://127.0.0.1:6379/0"


# -- how many workers ------------------------------------------------------------------


@pytest.mark.parametrize(("value", "workers"), [("1", 1), ("2", 2), ("8", 8)])
def test_og_workers_is_a_count(value, workers):
    assert load_settings({"OG_WORKERS": value}).workers == workers


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_og_workers_refuses_what_is_no_count(value):
    with pytest.raises(SettingsError, match="OG_WORKERS"):
        load_settings({"OG_WORKERS": value})


def test_the_default_is_one_per_core_with_redis_and_one_with_the_memory_cache():
    assert cores() == len(os.sched_getaffinity(0))
    assert worker_count(Settings(cache_url=REDIS)) == cores()
    assert worker_count(Settings()) == 1  # memory://


def test_more_than_one_worker_over_the_memory_cache_is_refused():
    assert worker_count(Settings(workers=1)) == 1
    assert worker_count(Settings(workers=3, cache_url=REDIS)) == 3
    with pytest.raises(SettingsError, match=r"OG_WORKERS=2 .*memory cache.*redis://"):
        worker_count(Settings(workers=2))


async def _exited(*args: str, env: Mapping[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "gateway", *args),
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


@pytest.mark.parametrize(
    ("args", "env"), [(("--workers", "2"), {}), ((), {"OG_WORKERS": "2"})], ids=["flag", "env"]
)
async def test_serve_refuses_workers_over_the_memory_cache_before_binding(args, env):
    with free_socket() as sock:  # were the port bound, serve could not take it either
        port = sock.getsockname()[1]
        env = {**env, "OG_DEV_MODE": "1", "OG_CACHE_URL": "memory://", "OG_PORT": str(port)}
        status, stderr = await _exited("serve", *args, env=env)
    assert status == 2
    assert stderr.startswith("ordergraph: OG_WORKERS=2 (--workers): the memory cache")


async def test_a_worker_that_cannot_start_stops_them_all(redis_server: RedisServer, tmp_path):
    with free_socket() as sock:
        port = sock.getsockname()[1]
    env = {
        "OG_DEV_MODE": "1",
        "OG_CACHE_URL": redis_server.url,
        "OG_PORT": str(port),
        "OG_PERSISTED_MANIFEST": str(tmp_path / "missing.json"),  # read by each worker
    }
    status, _ = await _exited("serve", "--workers", "2", env=env)
    assert status == 3  # uvicorn's start-up failure, not a worker restarted for ever


async def test_serve_refuses_a_workers_flag_that_is_no_count():
    status, stderr = await _exited("serve", "--workers", "0", env={})
    assert status == 2 and "--workers: '0' is no whole number of at least 1" in stderr


# -- two workers, running --------------------------------------------------------------


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


@pytest.fixture
async def cluster(dataset) -> AsyncIterator[SimCluster]:
    async with await start_cluster(dataset, latency_ms=20) as cluster:
        yield cluster


async def _start_workers(
    cluster: SimCluster, redis_url: str, **extra: str
) -> tuple[asyncio.subprocess.Process, str]:
    with free_socket() as sock:
        port = sock.getsockname()[1]
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("OG_")},
        **{f"OG_{name.upper()}_URL": url for name, url in cluster.urls.items()},
        "OG_PORT": str(port),
        "OG_DEV_MODE": "1",
        "OG_CACHE_URL": redis_url,
        "OG_EXCEPTION_QUEUE": "false",  # its sweeps would call the sources meanwhile
        "OG_REQUEST_DEADLINE_MS": "5000",
        "OG_SHUTDOWN_DRAIN_MS": "600",
        "OG_SHUTDOWN_GRACE_MS": "5000",
        **QUIET,
        **extra,
    }
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "gateway", "serve", "--workers", "2"), cwd=ROOT, env=env
    )
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture
async def workers(
    cluster: SimCluster, redis_server: RedisServer, redis_admin
) -> AsyncIterator[Workers]:
    process, url = await _start_workers(cluster, redis_server.url)
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


def _parent(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[1])


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def _both_workers(workers: Workers, numbers: list[str]) -> dict[int, list[str]]:
    """Query ``numbers`` concurrently, in rounds, until both workers have answered:
    the numbers each answered. Every answer is the order asked for."""
    answered: dict[int, list[str]] = {}
    for _ in range(10):
        results = await asyncio.gather(*(workers.query(number) for number in numbers))
        for number, (status, body, pid) in zip(numbers, results, strict=True):
            assert status == 200 and body["data"]["orderByNumber"]["number"] == number
            answered.setdefault(pid, []).append(number)
        if len(answered) == 2:
            return answered
    raise AssertionError(f"one worker answered everything: {answered.keys()}")


async def test_two_workers_answer_queries_from_one_port(workers: Workers, dataset):
    numbers = [order.number for order in list(dataset.orders.values())[:12]]
    answered = await _both_workers(workers, numbers)
    assert all(_parent(pid) == workers.process.pid for pid in answered)


async def test_the_workers_share_the_redis_cache(workers: Workers, cluster: SimCluster, dataset):
    number = next(order.number for order in dataset.orders.values() if order.shipments)
    status, _, first = await workers.query(number)
    assert status == 200
    cluster.reset_stats()
    others = 0
    for _ in range(40):
        status, _, pid = await workers.query(number)
        others += pid != first
        if others >= 3:
            break
    assert others >= 3, "the other worker never answered"
    # The other worker found the order, its lines' stock, tracking and tickets in Redis.
    assert {name: cluster.stats(name).requests for name in cluster.apps} == dict.fromkeys(
        cluster.apps, 0
    )


async def test_metrics_add_up_every_workers_series(workers: Workers, dataset):
    numbers = [order.number for order in list(dataset.orders.values())[:8]]
    answered = await _both_workers(workers, numbers)
    sent = sum(len(answered_numbers) for answered_numbers in answered.values())
    async with aiohttp.ClientSession() as session, session.get(f"{workers.url}/metrics") as resp:
        text = await resp.text()
    counted = re.findall(
        r'^og_graphql_operations_total\{kind="query",operation="One",outcome="\w+"\} (\S+)$',
        text,
        re.M,
    )  # "ok", or "partial" when a source was too slow for the deadline on a busy machine
    assert sum(float(value) for value in counted) == sent


async def test_sigterm_drains_every_worker_and_finishes_requests_in_flight(
    workers: Workers, cluster: SimCluster, dataset
):
    numbers = [order.number for order in list(dataset.orders.values())[:12]]
    pids = list(await _both_workers(workers, numbers))
    cluster.set_latency("oms", 1500)
    in_flight = [asyncio.create_task(workers.query(number)) for number in numbers]
    await asyncio.sleep(0.5)
    workers.process.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.2)
    # Every worker fails readiness at once, and still serves while it drains.
    statuses = await asyncio.gather(*(workers.ready_status() for _ in range(8)))
    assert set(statuses) == {(503, "draining")}
    finished = await asyncio.gather(*in_flight)
    assert [body["data"]["orderByNumber"]["number"] for _, body, _ in finished] == numbers
    assert {pid for _, _, pid in finished} == set(pids)  # both had requests in flight
    assert await asyncio.wait_for(workers.process.wait(), timeout=15) == 0
    assert not any(_alive(pid) for pid in pids)


async def test_a_worker_that_dies_is_replaced(workers: Workers, dataset):
    numbers = [order.number for order in list(dataset.orders.values())[:12]]
    killed, kept = list(await _both_workers(workers, numbers))
    os.kill(killed, signal.SIGKILL)  # what it held and had queued is lost with it
    answered: set[int] = set()
    async with asyncio.timeout(60):
        while not answered - {killed, kept}:
            results = await asyncio.gather(
                *(workers.query(number) for number in numbers), return_exceptions=True
            )
            answered |= {result[2] for result in results if isinstance(result, tuple)}
    replaced = await _both_workers(workers, numbers)
    assert killed not in replaced and kept in replaced
    assert all(_parent(pid) == workers.process.pid for pid in replaced)


async def test_workers_stop_when_their_parent_is_killed(workers: Workers, dataset):
    numbers = [order.number for order in list(dataset.orders.values())[:12]]
    pids = list(await _both_workers(workers, numbers))
    workers.process.kill()
    await workers.process.wait()
    for _ in range(150):
        if not any(_alive(pid) for pid in pids):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("workers kept running without their parent")
