"""``ordergraph serve --workers N``: how many workers, what is refused, and the
workers' lifecycle (drain, replacement, their parent's death), over the simulated
sources and a real redis-server. tests/e2e/test_workers_serving.py shares one running
pair of workers among the tests that only query it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import aiohttp
import pytest

from gateway.settings import Settings, SettingsError, load_settings
from gateway.workers import (
    CRASH_WINDOW_S,
    FIRST_RESTART_DELAY_S,
    MAX_CRASHES,
    WORKER_HEADER,
    Restarts,
    cores,
    worker_count,
)
from sim.cluster import SimCluster, start_cluster
from tests.support.ports import free_port_block, free_socket
from tests.support.redis_server import RedisServer
from tests.support.timing import HANG_S
from tests.support.waiting import eventually
from tests.support.workers import Workers, alive, parent_pid, running_workers

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


def _worker_pids(parent: int) -> list[int]:
    """The workers of the supervisor ``parent`` (not multiprocessing's resource tracker)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if parent_pid(int(entry.name)) != parent:
                    continue
                command = (entry / "cmdline").read_bytes()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if b"spawn_main" in command:
                pids.append(int(entry.name))
    return pids


async def test_a_worker_that_dies_before_it_comes_up_stops_them_all(redis_server: RedisServer):
    """Not replaced for ever (a worker crashing at start-up once did, 37 times in 20 s)."""
    port = free_port_block(1)  # not an ephemeral port another connection may take
    env = {
        **os.environ,
        "OG_DEV_MODE": "1",
        "OG_CACHE_URL": redis_server.url,
        "OG_PORT": str(port),
        "OG_SHUTDOWN_DRAIN_MS": "0",
        "PYTHONUNBUFFERED": "1",
    }
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "gateway", "serve", "--workers", "2"),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        pids: list[int] = []

        def started() -> bool:
            pids[:] = _worker_pids(process.pid)
            return len(pids) == 2

        # A worker imports the whole stack before it listens: seconds, not these 10 ms.
        await eventually(started, "both workers are started", timeout_s=HANG_S)
        os.kill(pids[0], signal.SIGKILL)
        stdout, _ = await asyncio.wait_for(process.communicate(), HANG_S)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 1
    assert f"worker {pids[0]} ended (killed by SIGKILL) before it came up" in stdout.decode()
    assert not alive(pids[1])  # stopped with it


def test_a_worker_that_keeps_dying_is_replaced_ever_later_then_the_server_stops():
    now = [0.0]
    restarts = Restarts(clock=lambda: now[0])
    delays = []
    for _ in range(MAX_CRASHES - 1):
        delays.append(restarts.delay_after_crash())
        now[0] += delays[-1] + 1.0  # the replacement comes up, then dies in its turn
    assert delays == [FIRST_RESTART_DELAY_S * 2**n for n in range(MAX_CRASHES - 1)]
    assert now[0] < CRASH_WINDOW_S
    assert restarts.delay_after_crash() is None  # one crash too many: stop


def test_crashes_further_apart_than_the_window_are_each_replaced_soon():
    now = [0.0]
    restarts = Restarts(clock=lambda: now[0])
    for _ in range(3 * MAX_CRASHES):
        assert restarts.delay_after_crash() == FIRST_RESTART_DELAY_S
        now[0] += CRASH_WINDOW_S
    now[0] -= CRASH_WINDOW_S - 1.0  # a second after the last crash
    assert restarts.delay_after_crash() == 2 * FIRST_RESTART_DELAY_S


async def test_serve_refuses_a_workers_flag_that_is_no_count():
    status, stderr = await _exited("serve", "--workers", "0", env={})
    assert status == 2 and "--workers: '0' is no whole number of at least 1" in stderr


# -- two workers, stopped or broken ----------------------------------------------------


@pytest.fixture
async def cluster(dataset) -> AsyncIterator[SimCluster]:
    async with await start_cluster(dataset, latency_ms=20) as cluster:
        yield cluster


@pytest.fixture
async def workers(
    cluster: SimCluster, redis_server: RedisServer, redis_admin
) -> AsyncIterator[Workers]:
    async with running_workers(cluster, redis_server.url) as workers:
        yield workers


async def _readiness(url: str) -> tuple[int, int, str]:
    """``GET /readyz`` over a new connection: the answering worker's pid, the status
    and the state it reports."""
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session,
        session.get(f"{url}/readyz") as resp,
    ):
        return int(resp.headers[WORKER_HEADER]), resp.status, (await resp.json())["status"]


async def test_sigterm_drains_every_worker_and_finishes_requests_in_flight(
    workers: Workers, cluster: SimCluster, dataset
):
    orders = list(dataset.orders.values())
    numbers = [order.number for order in orders[:12]]
    pids = list(await workers.both_answer(numbers))
    cluster.set_latency("oms", 1500)
    # Orders not asked for before: a cached answer would not wait on the OMS.
    later = [order.number for order in orders[12:24]]
    oms = cluster.stats("oms")
    asked = oms.requests
    in_flight = [asyncio.create_task(workers.query(number)) for number in later]
    await eventually(lambda: oms.requests >= asked + len(later), "all wait on the OMS")
    workers.process.send_signal(signal.SIGTERM)
    draining: set[int] = set()

    async def every_worker_drains() -> bool:
        answers = await asyncio.gather(*(_readiness(workers.url) for _ in range(4)))
        draining.update(pid for pid, *state in answers if state == [503, "draining"])
        return draining >= set(pids)

    await eventually(every_worker_drains, "every worker drains", timeout_s=HANG_S)
    # Every worker fails readiness at once, and still serves while it drains.
    statuses = await asyncio.gather(*(workers.ready_status() for _ in range(8)))
    assert set(statuses) == {(503, "draining")}
    finished = await asyncio.gather(*in_flight)
    assert [body["data"]["orderByNumber"]["number"] for _, body, _ in finished] == later
    assert {pid for _, _, pid in finished} == set(pids)  # both had requests in flight
    assert await asyncio.wait_for(workers.process.wait(), timeout=15) == 0
    assert not any(alive(pid) for pid in pids)


async def test_a_worker_that_dies_is_replaced(workers: Workers, dataset):
    numbers = [order.number for order in list(dataset.orders.values())[:12]]
    killed, kept = list(await workers.both_answer(numbers))
    os.kill(killed, signal.SIGKILL)  # what it held and had queued is lost with it
    answered: set[int] = set()
    async with asyncio.timeout(60):
        while not answered - {killed, kept}:
            results = await asyncio.gather(
                *(workers.query(number) for number in numbers), return_exceptions=True
            )
            answered |= {result[2] for result in results if isinstance(result, tuple)}
    replaced = await workers.both_answer(numbers)
    assert killed not in replaced and kept in replaced
    assert all(parent_pid(pid) == workers.process.pid for pid in replaced)


async def test_workers_stop_when_their_parent_is_killed(workers: Workers, dataset):
    numbers = [order.number for order in list(dataset.orders.values())[:12]]
    pids = list(await workers.both_answer(numbers))
    workers.process.kill()
    await workers.process.wait()
    for _ in range(150):
        if not any(alive(pid) for pid in pids):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("workers kept running without their parent")
