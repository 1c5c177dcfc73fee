"""The end-to-end tier runs the gateway as users run it: under a real uvicorn on a
loopback port, or as an ``ordergraph`` process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sim.cluster import SimCluster
from tests.support.gateways import RunningGateway, running_gateway, settings_for


@pytest.fixture(scope="session")
async def served(sim: SimCluster) -> AsyncIterator[RunningGateway]:
    """One gateway over ``sim`` for the session, under uvicorn, for tests that only read."""
    async with running_gateway(settings_for(sim.urls)) as running:
        yield running
