"""The integration tier runs the gateway app in process (no server, no port), still
against the simulated sources over loopback HTTP and a real redis-server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sim.cluster import SimCluster
from tests.support.gateways import RunningGateway, in_process_gateway, settings_for


@pytest.fixture(scope="session")
async def served(sim: SimCluster) -> AsyncIterator[RunningGateway]:
    """One gateway over ``sim`` for the session, in process, for tests that only read."""
    async with in_process_gateway(settings_for(sim.urls)) as running:
        yield running
