"""The circuit breaker through the real edge, counted at the source's /__stats:
repeated failures stop the calls, and after recovery half-open probes close it."""

from __future__ import annotations

import asyncio

from sources.sim.cluster import start_cluster
from sources.sim.faults import FaultSpec
from sources.sim.seed import generate
from tests.conftest import FIXED_NOW, running_gateway, settings_for

QUERY = "query($n: String!) { orderByNumber(number: $n) { lineItems { availability { sku } } } }"
NO_CACHE = {"cache_ttl_ms": 1, "cache_stale_ms": 0, "cache_keep_ms": 0}


async def test_breaker_opens_on_failures_and_closes_after_probes():
    dataset = generate(seed=7, now=FIXED_NOW, orders=300)
    number = next(o.number for o in dataset.orders.values() if o.lines)
    async with await start_cluster(dataset) as cluster:
        options = {**NO_CACHE, "breaker_min_calls": 5, "breaker_open_ms": 500, "retry_attempts": 1}
        async with running_gateway(settings_for(cluster.urls, options)) as gateway:

            async def ask() -> set[str]:
                body = await gateway.query(QUERY, {"n": number})
                return {error["extensions"]["code"] for error in body.get("errors", [])}

            cluster.set_faults("inventory", FaultSpec(error_rate=1.0, error_status=503))
            for _ in range(5):
                assert await ask() == {"SOURCE_UNAVAILABLE"}
            assert cluster.stats("inventory").requests == 5

            cluster.reset_stats()
            for _ in range(5):
                assert await ask() == {"CIRCUIT_OPEN"}
            assert cluster.stats("inventory").requests == 0  # failing fast

            cluster.set_faults("inventory", None)  # the source recovers
            await asyncio.sleep(0.6)  # the open period ends
            for _ in range(3):  # half-open: three successful probes close it
                assert await ask() == set()
            for _ in range(5):
                assert await ask() == set()
            assert cluster.stats("inventory").requests == 8
