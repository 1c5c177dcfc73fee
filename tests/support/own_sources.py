"""Simulated sources of a test's own, for tests that change what the sources hold or set
faults on them (the session's ``sim`` is every test's). Registered for every test
module by ``tests/conftest.py``; a module that asks for ``own_sim`` declares its own
``own_dataset``, per test or, when its tests share one data set, with
``scope="module"`` (which also keeps the module on one worker:
tests/support/scheduling.py). A module whose tests share one set of sources declares
its own module-scoped ``own_sim``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from sim.cluster import SimCluster, start_cluster
from sim.seed import Dataset


@pytest_asyncio.fixture
async def own_sim(own_dataset: Dataset) -> AsyncIterator[SimCluster]:
    """The four simulated sources over ``own_dataset``, for one test."""
    async with await start_cluster(own_dataset) as cluster:
        yield cluster
