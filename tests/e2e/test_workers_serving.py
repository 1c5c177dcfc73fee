"""Two running workers answer from one port and share the Redis cache and the
metrics. The tests only query them, so they share one pair (started once: three
interpreters); tests/e2e/test_workers.py stops and breaks pairs of its own."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from redis.asyncio import Redis

from sim.cluster import SimCluster, start_cluster
from tests.support.redis_server import RedisServer
from tests.support.workers import Workers, parent_pid, running_workers


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
