"""The shared cache on a real redis-server, with the simulated sources sending their
signed change events to a served gateway (they need its socket): a change delivered to
one instance reaches every instance. The rest of the shared cache's tests run in
process: tests/integration/test_cache_redis.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sim.cluster import SimCluster
from tests.support.cache_changes import SECRET, shared_cache_settings
from tests.support.deliveries import in_transit
from tests.support.gateways import (
    RunningGateway,
    changing_sources,
    in_process_gateway,
    running_gateway,
)
from tests.support.waiting import eventually

STATUS = "query($n: String!) { orderByNumber(number: $n) { customerStatus } }"


@pytest.fixture
async def live(make_dataset) -> AsyncIterator[tuple[SimCluster, RunningGateway, RunningGateway]]:
    """Own sources (their data changes), emitting signed webhooks to gateway A;
    gateways A and B share one Redis."""
    dataset = make_dataset()
    async with changing_sources(dataset, SECRET) as (cluster, server, sock):
        settings = shared_cache_settings(cluster.urls, server.url)
        async with running_gateway(settings, sock) as a, in_process_gateway(settings) as b:
            yield cluster, a, b


async def test_a_change_delivered_to_one_instance_reaches_the_other_within_a_second(live):
    cluster, _a, b = live
    order, number = in_transit(cluster.dataset)
    before = await b.query(STATUS, {"n": order.number})
    assert before["data"]["orderByNumber"]["customerStatus"] == "SHIPPED"
    # The carrier's admin change makes it emit a signed webhook to instance A.
    async with b.session.post(f"{cluster.urls['carrier']}/admin/trackings/{number}/advance") as r:
        assert r.status == 200
        assert (await r.json())["status"] == "OUT_FOR_DELIVERY"

    async def moved_on() -> bool:
        body = await b.query(STATUS, {"n": order.number})
        return body["data"]["orderByNumber"]["customerStatus"] == "OUT_FOR_DELIVERY"

    await eventually(moved_on, "instance B serves the new status", timeout_s=1.0)
