"""The shared cache on a real redis-server: one MGET per source per level, warm
reads cost nothing upstream on any instance, stampedes are absorbed, bad webhooks
change nothing, and Redis trouble degrades to the sources instead of failing. (A change
event the sources send to one served instance reaching every instance:
tests/e2e/test_cache_redis_delivered.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import time

import msgspec
import redis.asyncio as redis

from sim.cluster import start_cluster
from sources.cache.redis_connection import OVERLOAD_LATENESS_S
from sources.events import ChangeEvent, EventType
from sources.webhooks import generate_secret, sign
from tests.support.cache_changes import SECRET, shared_cache_settings
from tests.support.deliveries import in_transit, post_webhook
from tests.support.gateways import (
    FIXED_NOW,
    RunningGateway,
    SourceStats,
    in_process_gateway,
    settings_for,
)
from tests.support.ports import hung_server
from tests.support.queries import ORDER_BY_NUMBER, ORDERS_PAGE
from tests.support.redis_server import RedisServer


async def _commands(client: redis.Redis, name: str) -> int:
    stats = await client.info("commandstats")
    return int(stats.get(f"cmdstat_{name}", {}).get("calls", 0))


async def _until_redis_is_healthy(gateway: RunningGateway) -> None:
    """Until /readyz says the cache answers (after a failed probe on a loaded machine
    the backend skips Redis for a cooldown, and a count of its commands would lie)."""
    for _ in range(100):
        async with gateway.session.get(f"{gateway.url}/readyz") as resp:
            if (await resp.json())["cache"]["ok"]:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the Redis cache never became healthy")


async def test_a_cold_page_reads_each_source_cache_once(sim, stats, redis_server, redis_admin):
    # The entity cache's reads are counted: no response cache in front of them.
    settings = shared_cache_settings(
        sim.urls, redis_server.url, max_cost=100_000, response_cache=False
    )
    async with in_process_gateway(settings) as gateway:
        await _until_redis_is_healthy(gateway)  # a slow start-up probe means a cooldown
        await redis_admin.config_resetstat()
        body = await gateway.query(ORDERS_PAGE, {"first": 50})
        assert "errors" not in body
        mgets = await _commands(redis_admin, "mget")
    # Inventory, carrier and ticketing: one MGET each (the page itself is a live list).
    assert mgets == 3
    assert await stats.requests() == {"oms": 1, "inventory": 1, "carrier": 1, "ticketing": 1}


async def test_warm_in_redis_means_no_upstream_request_on_another_instance(
    sim, dataset, stats, redis_server, redis_admin
):
    order, _ = in_transit(dataset)
    settings = shared_cache_settings(sim.urls, redis_server.url)
    async with in_process_gateway(settings) as first, in_process_gateway(settings) as second:
        cold = await first.query(ORDER_BY_NUMBER, {"number": order.number})
        await stats.reset()
        warm = await second.query(ORDER_BY_NUMBER, {"number": order.number})
    assert await stats.requests() == {"oms": 0, "inventory": 0, "carrier": 0, "ticketing": 0}
    assert warm["data"] == cold["data"]


async def test_twenty_cold_queries_fetch_once_and_two_instances_at_most_twice(
    sim, dataset, stats, redis_server, redis_admin
):
    order, _ = in_transit(dataset)
    settings = shared_cache_settings(sim.urls, redis_server.url)
    async with in_process_gateway(settings) as first, in_process_gateway(settings) as second:
        await asyncio.gather(
            *(first.query(ORDER_BY_NUMBER, {"number": order.number}) for _ in range(20))
        )
        assert await stats.requests() == {"oms": 1, "inventory": 1, "carrier": 1, "ticketing": 1}

        await redis_admin.flushall()
        await stats.reset()
        other = next(o for o in dataset.orders.values() if o.shipments and o.id != order.id)
        await asyncio.gather(
            *(gw.query(ORDER_BY_NUMBER, {"number": other.number}) for gw in (first, second))
        )
    assert all(count <= 2 for count in (await stats.requests()).values())


async def test_four_cold_instances_on_one_redis_fetch_each_source_once(
    dataset, redis_server, redis_admin
):
    order, _ = in_transit(dataset)
    # Sources slow enough (100 ms) that every instance misses before the first answer.
    async with await start_cluster(dataset, latency_ms=100) as cluster:
        counters = SourceStats(cluster.urls)
        settings = shared_cache_settings(cluster.urls, redis_server.url)
        async with contextlib.AsyncExitStack() as stack:
            gateways = [
                await stack.enter_async_context(in_process_gateway(settings)) for _ in range(4)
            ]
            await counters.reset()
            bodies = await asyncio.gather(
                *(gw.query(ORDER_BY_NUMBER, {"number": order.number}) for gw in gateways)
            )
        requests = await counters.requests()
    assert all("errors" not in body and body["data"] == bodies[0]["data"] for body in bodies)
    assert all(b["data"]["orderByNumber"]["number"] == order.number for b in bodies)
    # Each level's locks are taken in one atomic script call, so exactly one instance
    # fetches; the others read what it wrote. Without the lock: 4 per source.
    assert requests == {"oms": 1, "inventory": 1, "carrier": 1, "ticketing": 1}


async def test_bad_webhooks_are_refused_and_change_nothing(
    sim, dataset, stats, redis_server, redis_admin
):
    order, number = in_transit(dataset)
    event = ChangeEvent(
        type=EventType.TRACKING_UPDATED, occurred_at=FIXED_NOW, tracking_number=number
    )
    body = msgspec.json.encode(event)
    good = sign(SECRET, body)
    old = sign(SECRET, body, timestamp=FIXED_NOW.replace(year=2020))
    cases = [
        ("forged", body, sign(generate_secret(), body), 401),
        ("tampered", body.replace(b"tracking", b"trackinG"), good, 401),
        ("expired", body, old, 401),
        ("unsigned", body, {}, 401),
        ("malformed", b"{not json", sign(SECRET, b"{not json"), 400),
        ("wrong source", body, good, 400),
    ]
    async with in_process_gateway(shared_cache_settings(sim.urls, redis_server.url)) as gateway:
        await gateway.query(ORDER_BY_NUMBER, {"number": order.number})
        keys = await redis_admin.dbsize()
        for name, payload, headers, status in cases:
            source = "oms" if name == "wrong source" else "carrier"
            assert (await post_webhook(gateway, source, payload, headers))[0] == status, name
        assert await redis_admin.dbsize() == keys
        await stats.reset()
        await gateway.query(ORDER_BY_NUMBER, {"number": order.number})
        assert await stats.requests() == {"oms": 0, "inventory": 0, "carrier": 0, "ticketing": 0}

        # A valid event applies once: the next query fetches the tracking again.
        assert (await post_webhook(gateway, "carrier", body, good))[0] == 200
        await gateway.query(ORDER_BY_NUMBER, {"number": order.number})
        assert (await stats.requests())["carrier"] == 1
        # Re-warmed, the same delivery again is a duplicate: acknowledged, nothing changes.
        warm = await _snapshot(redis_admin)
        await stats.reset()
        assert await post_webhook(gateway, "carrier", body, good) == (
            200,
            {
                "status": "duplicate",
                "code": "WEBHOOK_REPLAYED",
                "message": "this event id was already processed; nothing was done again",
            },
        )
        assert await _snapshot(redis_admin) == warm
        await gateway.query(ORDER_BY_NUMBER, {"number": order.number})
        assert await stats.requests() == {"oms": 0, "inventory": 0, "carrier": 0, "ticketing": 0}


async def _snapshot(client: redis.Redis) -> dict[bytes, bytes | None]:
    """Every key of the cache and its serialised value (DUMP)."""
    return {key: await client.dump(key) for key in await client.keys("og:*")}


async def test_redis_killed_mid_test_falls_back_to_sources_and_recovers(sim, dataset):
    order, _ = in_transit(dataset)
    server = RedisServer()
    await server.start()
    counters = SourceStats(sim.urls)
    try:
        # No in-process copies: every read goes to Redis, so its loss shows at once.
        settings = shared_cache_settings(sim.urls, server.url, cache_local_ttl_ms=0)
        async with in_process_gateway(settings) as gateway:
            await gateway.query(ORDER_BY_NUMBER, {"number": order.number})
            await server.kill()
            await counters.reset()
            started = time.monotonic()
            body = await gateway.query(ORDER_BY_NUMBER, {"number": order.number})
            assert "errors" not in body and body["data"]["orderByNumber"]
            assert time.monotonic() - started < 1.0
            assert (await counters.requests())["oms"] == 1  # answered by the source
            async with gateway.session.get(f"{gateway.url}/readyz") as resp:
                ready = await resp.json()
            assert ready["status"] == "degraded" and ready["cache"]["ok"] is False

            await server.start()
            await asyncio.sleep(1.2)  # past the backend's cooldown
            await gateway.query(ORDER_BY_NUMBER, {"number": order.number})  # re-warms
            await counters.reset()
            body = await gateway.query(ORDER_BY_NUMBER, {"number": order.number})
            assert body["data"]["orderByNumber"]
            assert await counters.requests() == {
                "oms": 0,
                "inventory": 0,
                "carrier": 0,
                "ticketing": 0,
            }
    finally:
        await server.stop()


# Timers fire on the loop iteration after their deadline, and a query's own work differs
# a little from the baseline's: measured 2-7 ms over the 100 ms on an idle 2-core machine.
SLACK_S = 0.02


async def test_a_redis_that_never_answers_adds_at_most_100_ms(sim, dataset):
    """Each query against a hung Redis costs at most its 100 ms timeout over a fresh
    gateway's first query (the first meets the hang; the ones after it skip Redis).
    Noise on a loaded machine only ever adds time, so the hang's cost is the least
    of up to three fresh gateways' extra time, and likewise a query's in the cooldown."""
    order, _ = in_transit(dataset)
    extras: list[float] = []
    cooling: list[float] = []  # queries in the cooldown, over the cold one
    # The backend itself counts a timer firing up to OVERLOAD_LATENESS_S late as
    # Redis's fault: that much lateness is part of what a hung Redis may add.
    hang_bound_s = 0.1 + OVERLOAD_LATENESS_S + SLACK_S
    cooling_bound_s = SLACK_S + 0.05

    async def timed(gateway: RunningGateway) -> float:
        started = time.monotonic()
        body = await gateway.query(ORDER_BY_NUMBER, {"number": order.number})
        assert body["data"]["orderByNumber"]["number"] == order.number
        return time.monotonic() - started

    async with hung_server() as hung_url:
        # No in-process copies, so every read has to ask the hung Redis.
        settings = shared_cache_settings(
            sim.urls, hung_url, cache_local_ttl_ms=0, cache_timeout_ms=100
        )
        for _ in range(3):
            async with in_process_gateway(settings) as gateway:
                await asyncio.sleep(1.2)  # past the cooldown its start-up probe began
                # The baseline first: a fresh gateway's first query, in a process as
                # warm as the one the hung gateway's query then runs in.
                async with in_process_gateway(settings_for(sim.urls)) as baseline:
                    cold = await timed(baseline)
                extras.append(await timed(gateway) - cold)  # meets the hang
                for _ in range(2):  # in the cooldown: Redis is not asked
                    cooling.append(await timed(gateway) - cold)
            if min(cooling) <= cooling_bound_s and min(extras) <= hang_bound_s:
                break  # more gateways could only find faster times
    assert min(cooling) <= cooling_bound_s, cooling
    assert min(extras) <= hang_bound_s, extras


async def test_readyz_names_the_configured_redis_timeout_it_ran_out(sim, dataset):
    """OG_CACHE_TIMEOUT_MS reaches the backend, and /readyz says why the cache is down."""
    order, _ = in_transit(dataset)
    async with hung_server() as hung_url:
        settings = shared_cache_settings(
            sim.urls, hung_url, cache_local_ttl_ms=0, cache_timeout_ms=250
        )
        async with in_process_gateway(settings) as gateway:
            # A timeout the busy loop fired late is not blamed on Redis: ask again.
            for _ in range(20):
                async with gateway.session.get(f"{gateway.url}/readyz") as resp:
                    cache = (await resp.json())["cache"]
                if not cache["ok"]:
                    break
                await gateway.query(ORDER_BY_NUMBER, {"number": order.number})
    assert (cache["backend"], cache["ok"]) == ("redis", False)
    assert cache["detail"].startswith("no answer within 250 ms ("), cache
