"""Shared fixtures: the data-set factory, one seeded data set, the four simulated
sources on loopback and a private redis-server (each tier's conftest adds its ``served``
gateway). Session fixtures are
per process: under pytest-xdist every worker has its own sources and Redis.

The helpers these fixtures use live in ``tests/support``; tests import them from there,
never from a test module."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime

import pytest
from redis.asyncio import Redis

from sim.cluster import SimCluster, start_cluster
from sim.seed import Dataset, generate
from tests.support.gateways import FIXED_NOW, SourceStats
from tests.support.redis_server import RedisServer

pytest_plugins = ["tests.support.webhook_receiver"]  # receiver, cluster, http

MakeDataset = Callable[..., Dataset]


@pytest.fixture(scope="session")
def make_dataset() -> MakeDataset:
    """Builds a fresh data set (sources change theirs, so none is shared): seed 7 at
    ``FIXED_NOW`` with the generator's sizes unless told otherwise; ask for fewer
    ``orders`` where the size is not the point."""

    def make(*, seed: int = 7, now: datetime = FIXED_NOW, **sizes: int) -> Dataset:
        return generate(seed=seed, now=now, **sizes)

    return make


@pytest.fixture(scope="session")
def dataset(make_dataset: MakeDataset) -> Dataset:
    return make_dataset()


@pytest.fixture(scope="session")
async def sim(dataset: Dataset) -> AsyncIterator[SimCluster]:
    cluster = await start_cluster(dataset)
    yield cluster
    await cluster.close()


@pytest.fixture
async def stats(sim: SimCluster) -> AsyncIterator[SourceStats]:
    counters = SourceStats(sim.urls)
    await counters.reset()
    yield counters


@pytest.fixture(scope="session")
async def redis_server() -> AsyncIterator[RedisServer]:
    """One private redis-server for the session (tests flush it as they need)."""
    server = RedisServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def redis_admin(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A plain client on the session's redis-server, flushed before each test."""
    client = Redis.from_url(redis_server.url)
    await client.flushall()
    yield client
    await client.aclose()
