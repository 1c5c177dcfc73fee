"""Shared fixtures: the data-set factory, one seeded data set, the four simulated
sources on loopback and a private redis-server (each tier's conftest adds its ``served``
gateway). Session fixtures are
per process: under pytest-xdist every worker has its own sources and Redis.

The helpers these fixtures use live in ``tests/support``; tests import them from there,
never from a test module."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis

from gateway.server import settle_the_heap
from sim.cluster import SimCluster, start_cluster
from sim.seed import Dataset, generate
from tests.support.gateways import FIXED_NOW, MakeDataset, SourceStats
from tests.support.redis_server import RedisServer
from tests.support.scheduling import ModuleGroups
from tests.support.timing import slowdown

pytest_plugins = [
    "tests.support.webhook_receiver",  # receiver, cluster, http
    "tests.support.own_sources",  # own_sim
]
# The adapter contract kit lives outside tests/: its asserts get pytest's messages too.
pytest.register_assert_rewrite("sources.adapters.contract")

TESTS = Path(__file__).parent
TIERS = ("unit", "integration", "e2e")
UNIT = TESTS / "unit"
MAX_WORKERS = 8
HOST_SLOWDOWN = pytest.StashKey[float]()


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """How many workers ``-n auto`` (in addopts) starts. The unit tier and test files
    named one by one run in this process: starting workers would cost more than they
    save. A whole tier or the suite gets three workers a core: the tests mostly wait on
    servers and subprocesses. On 2 cores, one a core took 119 s against 66-84 s for
    two; two a core left the cores idle a third of the time (75 s, 96 s of CPU) against
    63-66 s for three, and four took 65 s. Tests bound what they time so that a loaded
    machine passes them (tests/support/timing.py)."""
    paths = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    if all(path.is_relative_to(UNIT) or path.is_file() for path in paths):
        return 0
    return min(MAX_WORKERS, 3 * (os.cpu_count() or 1))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks each test with its tier, its folder (``-m "not e2e"`` selects by it)."""
    for item in items:
        tier = item.path.relative_to(TESTS).parts[0]
        if tier in TIERS:
            item.add_marker(tier)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Settle the heap as the gateway does once it is up: what collection imported and
    built lives as long as the process, so the collector stops scanning it; without
    this, a worker spent about a quarter of its CPU in the collector."""
    settle_the_heap()


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[HOST_SLOWDOWN] = slowdown()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """How fast the host ran, at the start and at the end: the same suite took 81 s on
    a quiet 2-core machine and 119 s when the host ran it twice as slow."""
    if HOST_SLOWDOWN in config.stash:
        started, ended = config.stash[HOST_SLOWDOWN], slowdown()
        terminalreporter.write_line(
            f"host speed: the reference work ran {started:.2f}x (start) and {ended:.2f}x "
            "(end) as slow as on a quiet machine of this class (tests/support/timing.py)"
        )


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> ModuleGroups:
    """A module with module-scoped fixtures runs on one worker (tests/support/scheduling.py)."""
    return ModuleGroups(config, log)


@pytest.fixture(scope="session")
def make_dataset() -> MakeDataset:
    """Builds a fresh data set (sources change theirs, so none is shared): seed 7 at
    ``FIXED_NOW`` with the generator's sizes unless told otherwise; ask for fewer
    ``orders`` where the size is not the point. Each one is generated once a session
    (a third of a second for 1,200 orders) and handed out as copies."""
    generated: dict[tuple[int, datetime, frozenset[tuple[str, int]]], Dataset] = {}

    def make(*, seed: int = 7, now: datetime = FIXED_NOW, **sizes: int) -> Dataset:
        key = (seed, now, frozenset(sizes.items()))
        if key not in generated:
            generated[key] = generate(seed=seed, now=now, **sizes)
        return generated[key].copy()

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
