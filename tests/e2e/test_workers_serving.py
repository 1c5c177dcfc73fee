"""Two running workers answer from one port and share the Redis cache and the
metrics. The tests that only query them share one pair (started once: three
interpreters); those that kill a worker to see what it leaves in the metrics start
pairs of their own, as tests/e2e/test_workers.py does."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest
from httpx_sse import aconnect_sse
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from redis.asyncio import Redis

from gateway.workers import WORKER_HEADER
from sim.cluster import SimCluster, start_cluster
from tests.support.live_clients import order_watch
from tests.support.redis_server import RedisServer
from tests.support.tls import SHARED_TLS
from tests.support.workers import Workers, parent_pid, running_workers

OPERATION_NAMES_CAP = 200  # gateway.observability.OPERATION_LABELS's limit


@pytest.fixture(scope="module")
async def cluster(dataset) -> AsyncIterator[SimCluster]:
    async with await start_cluster(dataset, latency_ms=20) as cluster:
        yield cluster


@pytest.fixture(scope="module")
async def workers(cluster: SimCluster, redis_server: RedisServer) -> AsyncIterator[Workers]:
    async with Redis.from_url(redis_server.url) as redis:
        await redis.flushall()  # nothing cached by the worker's earlier tests
    async with running_workers(cluster, redis_server.url) as workers:
        yield workers


async def test_two_workers_answer_queries_from_one_port(workers: Workers, dataset):
    numbers = [order.number for order in list(dataset.orders.values())[:12]]
    answered = await workers.both_answer(numbers)
    assert all(parent_pid(pid) == workers.process.pid for pid in answered)


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


async def _operations_counted(workers: Workers) -> float:
    """The queries named ``One`` that the workers' merged metrics count, any outcome
    ("ok", or "partial" when a source was too slow for the deadline on a busy machine)."""
    async with aiohttp.ClientSession() as session, session.get(f"{workers.url}/metrics") as resp:
        text = await resp.text()
    counted = re.findall(
        r'^og_graphql_operations_total\{kind="query",operation="One",outcome="\w+"\} (\S+)$',
        text,
        re.M,
    )
    return sum(float(value) for value in counted)


async def test_metrics_add_up_every_workers_series(workers: Workers, dataset):
    before = await _operations_counted(workers)
    numbers = [order.number for order in list(dataset.orders.values())[:8]]
    answered = await workers.both_answer(numbers)
    sent = sum(len(answered_numbers) for answered_numbers in answered.values())
    assert await _operations_counted(workers) - before == sent


# -- what a dead worker leaves in the metrics ------------------------------------------


@pytest.fixture
async def own_workers(cluster: SimCluster, redis_server: RedisServer) -> AsyncIterator[Workers]:
    """A pair of its own, for a test that kills one of them."""
    async with running_workers(cluster, redis_server.url) as workers:
        yield workers


async def _samples(workers: Workers) -> list[Sample]:
    async with aiohttp.ClientSession() as session, session.get(f"{workers.url}/metrics") as resp:
        text = await resp.text()
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


async def _killed_and_replaced(workers: Workers, killed: int, kept: int) -> int:
    """Kill ``killed``; the pid of the worker replacing it, once that one answers (the
    parent has then done with the dead one's metrics)."""
    os.kill(killed, signal.SIGKILL)
    async with asyncio.timeout(60):
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with (
                    aiohttp.ClientSession(
                        connector=aiohttp.TCPConnector(force_close=True)
                    ) as session,
                    session.get(f"{workers.url}/healthz") as resp,
                ):
                    pid = int(resp.headers[WORKER_HEADER])
                    if pid not in (killed, kept):
                        return pid
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def _event_stream(url: str, payload: dict[str, Any]) -> AsyncIterator[int]:
    """An event stream of ``payload`` held open on a new connection: the pid of the
    worker holding it."""
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None), verify=SHARED_TLS) as client,
        aconnect_sse(client, "POST", f"{url}/graphql", json=payload) as source,
    ):
        assert source.response.status_code == 200
        yield int(source.response.headers[WORKER_HEADER])


def _event_streams_open(samples: list[Sample]) -> float:
    return sum(
        s.value
        for s in samples
        if s.name == "og_live_connections" and s.labels["transport"] == "sse"
    )


async def test_a_dead_workers_gauges_go_with_it(own_workers: Workers, dataset):
    """A worker killed while it holds event streams: ``/metrics`` counts the live
    workers' streams only, and shows the breaker states of the live workers only."""
    workers = own_workers
    async with contextlib.AsyncExitStack() as streams:
        held: list[int] = []
        for _ in range(40):  # new connections, until both workers hold a few
            stream = _event_stream(workers.url, order_watch(dataset))
            held.append(await streams.enter_async_context(stream))
            if min(held.count(pid) for pid in set(held)) >= 2 and len(set(held)) == 2:
                break
        killed, kept = sorted(set(held), key=held.index)
        assert _event_streams_open(await _samples(workers)) == len(held)
        replacement = await _killed_and_replaced(workers, killed, kept)
        samples = await _samples(workers)
        assert _event_streams_open(samples) == held.count(kept)
        breakers = {s.labels["pid"] for s in samples if s.name == "og_circuit_state"}
        assert breakers == {str(kept), str(replacement)}
        assert [s for s in samples if s.labels.get("pid") == str(killed)] == []


async def _named(workers: Workers, names: list[str]) -> set[int]:
    """One query per name, each on a new connection (so either worker may take it), 25
    at a time: the pids of the workers that answered."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:

        async def query(name: str) -> int:
            payload = {"query": f"query {name} {{ __typename }}"}
            async with session.post(f"{workers.url}/graphql", json=payload) as resp:
                assert resp.status == 200
                return int(resp.headers[WORKER_HEADER])

        answered: set[int] = set()
        for start in range(0, len(names), 25):
            answered.update(await asyncio.gather(*map(query, names[start : start + 25])))
    return answered


async def test_the_operation_name_cap_holds_across_workers_and_restarts(own_workers: Workers):
    """Names past the cap share ``other`` however many workers saw them, and a worker
    that replaces a dead one admits none beyond it (each used to admit a cap of its
    own: 800 names made 401, 601, 801 series as workers were replaced)."""
    workers = own_workers
    names = 5 * OPERATION_NAMES_CAP // 4  # more than the cap, fewer than two caps
    answered = await _named(workers, [f"Before{i}" for i in range(names)])
    assert len(answered) == 2
    killed, kept = sorted(answered)
    replacement = await _killed_and_replaced(workers, killed, kept)
    assert replacement in await _named(workers, [f"After{i}" for i in range(names)])
    labels = {
        s.labels["operation"]
        for s in await _samples(workers)
        if s.name == "og_graphql_operations_total"
    }
    assert "other" in labels
    assert len(labels - {"other", "anonymous"}) == OPERATION_NAMES_CAP
