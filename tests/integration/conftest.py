"""The integration tier runs the gateway app in process (no server, no port), still
against the simulated sources over loopback HTTP and a real redis-server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sim.cluster import SimCluster
from tests.support.gateways import MakeDataset, RunningGateway, in_process_gateway, settings_for
from tests.support.vendors import vendor_apis


@pytest.fixture(scope="session")
async def served(sim: SimCluster) -> AsyncIterator[RunningGateway]:
    """One gateway over ``sim`` for the session, in process, for tests that only read."""
    async with in_process_gateway(settings_for(sim.urls)) as running:
        yield running


@pytest.fixture(scope="module")
async def vendors(
    request: pytest.FixtureRequest, make_dataset: MakeDataset
) -> AsyncIterator[SimCluster]:
    """The sources and the simulated vendor APIs over a data set of the module's own,
    each API taking the calls a second the module's ``RATE`` says."""
    async with vendor_apis(make_dataset(orders=200), request.module.RATE) as cluster:
        yield cluster
