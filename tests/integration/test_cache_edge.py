"""The cache through the real edge (the embedded in-memory backend unless a test
says otherwise): warm reads
cost nothing upstream, stale data is served while refreshing or when a source
fails, concurrent misses share one fetch, and every answer says how fresh it is."""

from __future__ import annotations

import asyncio
import time

import pytest

from sim.cluster import start_cluster
from sim.faults import parse_fault_spec
from tests.support.gateways import SourceStats, gateway_at, in_process_gateway, settings_for
from tests.support.queries import ORDER_BY_NUMBER
from tests.support.timing import HANG_S
from tests.support.waiting import eventually

STATUS = """query($n: String!) { orderByNumber(number: $n) {
  customerStatus
  lineItems { availability { available } }
  shipments { tracking { status } }
  tickets { status }
  dataSources { source status fetchedAt ageSeconds }
} }"""


def _tracked_order_with_tickets(dataset):
    return next(
        order
        for order in dataset.orders.values()
        if order.shipments
        and all(s.tracking_number in dataset.trackings for s in order.shipments)
        and dataset.tickets.get(order.id)
    )


def _statuses(body) -> dict[str, str]:
    return {d["source"]: d["status"] for d in body["data"]["orderByNumber"]["dataSources"]}


async def test_a_warm_order_costs_no_upstream_request(sim, dataset, stats):
    number = _tracked_order_with_tickets(dataset).number
    async with in_process_gateway(settings_for(sim.urls)) as gateway:
        cold = await gateway.query(ORDER_BY_NUMBER, {"number": number})
        assert await stats.requests() == {"oms": 1, "inventory": 1, "carrier": 1, "ticketing": 1}
        await stats.reset()
        warm = await gateway.query(ORDER_BY_NUMBER, {"number": number})
        assert await stats.requests() == {"oms": 0, "inventory": 0, "carrier": 0, "ticketing": 0}
    assert warm["data"] == cold["data"]
    assert all(c["misses"] >= 1 and c["hits"] == 0 for c in cold["extensions"]["cache"].values())
    assert all(c["misses"] == 0 and c["stale"] == 0 for c in warm["extensions"]["cache"].values())
    assert all(c["hits"] >= 1 for c in warm["extensions"]["cache"].values())


async def test_data_sources_say_fresh_with_fetch_times(sim, dataset):
    number = _tracked_order_with_tickets(dataset).number
    async with in_process_gateway(settings_for(sim.urls)) as gateway:
        body = await gateway.query(STATUS, {"n": number})
    sources = body["data"]["orderByNumber"]["dataSources"]
    assert [s["source"] for s in sources] == ["OMS", "INVENTORY", "CARRIER", "TICKETING"]
    assert all(s["status"] == "FRESH" and 0 <= s["ageSeconds"] < 5 for s in sources)


async def test_unknown_numbers_are_remembered_briefly(sim, stats):
    async with in_process_gateway(settings_for(sim.urls)) as gateway:
        for _ in range(3):
            body = await gateway.query(ORDER_BY_NUMBER, {"number": "424242"})
            assert body["data"]["orderByNumber"] is None
    assert (await stats.requests())["oms"] == 1


async def test_twenty_concurrent_cold_queries_share_one_fetch_per_source(sim, dataset, stats):
    number = _tracked_order_with_tickets(dataset).number
    async with in_process_gateway(settings_for(sim.urls)) as gateway:
        bodies = await asyncio.gather(
            *(gateway.query(ORDER_BY_NUMBER, {"number": number}) for _ in range(20))
        )
    assert all(body["data"] == bodies[0]["data"] for body in bodies)
    assert await stats.requests() == {"oms": 1, "inventory": 1, "carrier": 1, "ticketing": 1}


@pytest.fixture(params=["memory", "redis"])
async def cache_url(request, redis_server) -> str:
    if request.param == "memory":
        return "memory://"
    await redis_server.flush()
    return redis_server.url


# The sources' latency once the entries are stale: long enough that a query that
# waited for it stands out from one merely slowed by a loaded machine (the bound on a
# stale answer is half of it; 200 ms was too close). Within the sources' timeouts.
SLOW_MS = 2000


async def test_stale_is_served_at_once_and_refreshed_once_in_background(dataset, cache_url):
    number = _tracked_order_with_tickets(dataset).number
    short = {"cache_ttl_ms": 1000, "cache_stale_ms": 30_000, "read_timeout_ms": 5000,
             "total_timeout_ms": 5000}  # fmt: skip
    async with await start_cluster(dataset) as cluster:
        counters = SourceStats(cluster.urls)
        settings = settings_for(cluster.urls, short, cache_url=cache_url)
        async with in_process_gateway(settings) as gateway:
            await gateway.query(STATUS, {"n": number})
            await asyncio.sleep(1.05)
            for source in cluster.urls:
                cluster.set_latency(source, SLOW_MS)
            await counters.reset()
            # One after another for half the sources' latency: the refreshes the first
            # query started are still under way.
            stale_queries, until = 0, time.monotonic() + SLOW_MS / 1000 / 2
            while time.monotonic() < until:
                started = time.monotonic()
                stale = await gateway.query(STATUS, {"n": number})
                assert time.monotonic() - started < SLOW_MS / 1000 / 2  # not waiting for them
                assert set(_statuses(stale).values()) == {"STALE"}
                assert stale["extensions"]["cache"]["oms"]["stale"] == 1
                stale_queries += 1
            assert stale_queries >= 3

            async def refreshed() -> bool:  # the refreshes land
                fresh = await gateway.query(STATUS, {"n": number})
                return set(_statuses(fresh).values()) == {"FRESH"}

            await eventually(refreshed, "the refreshes land", timeout_s=HANG_S)
            assert await counters.requests() == {s: 1 for s in cluster.urls}


async def test_a_failed_source_is_replaced_by_stale_data(dataset, cache_url):
    number = _tracked_order_with_tickets(dataset).number
    cluster = await start_cluster(dataset)
    try:
        past_fresh = {"cache_ttl_ms": 100, "cache_stale_ms": 0, "cache_keep_ms": 60_000}
        settings = settings_for(cluster.urls, past_fresh, cache_url=cache_url)
        async with in_process_gateway(settings) as gateway:
            warm = await gateway.query(STATUS, {"n": number})
            await cluster.close()  # every source now refuses connections
            await asyncio.sleep(0.15)
            body = await gateway.query(STATUS, {"n": number})
    finally:
        await cluster.close()
    assert "errors" not in body
    assert (
        body["data"]["orderByNumber"]["customerStatus"]
        == (warm["data"]["orderByNumber"]["customerStatus"])
    )
    assert set(_statuses(body).values()) == {"STALE"}
    assert body["extensions"]["cache"]["carrier"]["stale"] >= 1


async def test_a_failed_source_with_nothing_kept_is_unavailable(dataset, cache_url):
    number = _tracked_order_with_tickets(dataset).number
    failing = {"carrier": parse_fault_spec("error=1@503")}
    async with await start_cluster(dataset, faults=failing) as cluster:
        settings = settings_for(cluster.urls, cache_url=cache_url)
        async with in_process_gateway(settings) as gateway:
            body = await gateway.query(STATUS, {"n": number})  # HTTP 200: a partial answer
    assert _statuses(body) == {
        "OMS": "FRESH",
        "INVENTORY": "FRESH",
        "CARRIER": "UNAVAILABLE",
        "TICKETING": "FRESH",
    }
    carrier = next(
        s for s in body["data"]["orderByNumber"]["dataSources"] if s["source"] == "CARRIER"
    )
    assert carrier["fetchedAt"] is None and carrier["ageSeconds"] is None
    assert {(e["extensions"]["code"], e["extensions"]["source"]) for e in body["errors"]} == {
        ("SOURCE_UNAVAILABLE", "carrier")
    }


async def test_the_default_fresh_ttls_are_orders_30_inventory_10_tracking_60_tickets_30(sim):
    settings = settings_for(sim.urls)
    state = gateway_at(settings)
    async with in_process_gateway(settings, gateway=state):
        assert state.cached is not None
        cached = state.cached
        ttls = {
            source.kind: source.policy.ttl_s
            for source in (
                cached.orders,
                cached.orders_by_number,
                cached.inventory,
                cached.trackings,
                cached.tickets,
            )
        }
    assert ttls == {
        "order": 30.0,
        "order-number": 30.0,
        "stock": 10.0,
        "tracking": 60.0,
        "tickets": 30.0,
    }
