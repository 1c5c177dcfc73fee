"""A saturated event loop: new /graphql requests are shed (503 OVERLOADED with
Retry-After) while health checks and the work in flight go on, and admission
resumes once the loop keeps up; a Redis call that timed out while the loop ran late
is not blamed on Redis. The loop is saturated for real, by a task in the gateway's
own loop that holds it in long slices."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import aiohttp

from resolvers.relay import to_global_id
from sim.cluster import start_cluster
from sim.seed import Dataset
from sources.cache import RedisBackend
from sources.resilience.loop_lag import LoopLag
from tests.support.gateways import SourceStats, running_gateway, settings_for
from tests.support.ports import hung_server
from tests.support.timing import HANG_S, TRIES

SLICE_S = 0.08  # how long the hog holds the loop at a time
MAX_LAG_MS = 40
ORDER_QUERY = "query($id: ID!) { order(id: $id) { number } }"


@contextlib.asynccontextmanager
async def saturated_loop() -> AsyncIterator[None]:
    """Hold this event loop in ``SLICE_S`` slices, yielding once between them, as a
    loop does that has far more ready work than it can run in time."""
    stop = asyncio.Event()

    async def hog() -> None:
        while not stop.is_set():
            time.sleep(SLICE_S)  # noqa: ASYNC251 - saturating the loop is the point
            await asyncio.sleep(0)

    task = asyncio.create_task(hog())
    try:
        yield
    finally:
        stop.set()
        await task


async def _post(session: aiohttp.ClientSession, url: str, variables: dict[str, str]) -> tuple:
    payload = {"query": ORDER_QUERY, "variables": variables}
    async with session.post(f"{url}/graphql", json=payload) as resp:
        return resp.status, resp.headers.get("retry-after"), await resp.json()


async def test_a_saturated_loop_sheds_new_requests_only(dataset: Dataset) -> None:
    order_ids = dataset.order_ids("in_transit")
    first, later = ({"id": to_global_id("Order", oid)} for oid in order_ids[:2])
    async with await start_cluster(dataset, latency_ms={"oms": 600}) as cluster:
        settings = settings_for(
            cluster.urls, max_loop_lag_ms=MAX_LAG_MS, request_deadline_ms=20_000
        )
        async with running_gateway(settings) as gateway:
            session, url = gateway.session, gateway.url
            assert (await _post(session, url, later))[0] == 200  # admitted while idle
            stats = SourceStats(cluster.urls)
            await stats.reset()
            in_flight = asyncio.create_task(_post(session, url, first))
            for _ in range(500):  # until it waits on the OMS: admitted, executing
                if (await stats.requests())["oms"]:
                    break
                await asyncio.sleep(0.01)

            async with saturated_loop():
                for _ in range(100):  # the lag must hold over a few ticks first
                    status, retry_after, body = await _post(session, url, later)
                    if status != 200:
                        break
                assert status == 503, body
                assert body["errors"][0]["extensions"]["code"] == "OVERLOADED"
                assert retry_after == "1"
                async with session.get(f"{url}/healthz") as resp:
                    assert resp.status == 200
                status, _, body = await in_flight  # admitted before: it runs to its end
                assert status == 200 and body["data"]["order"]["number"], body

            for _ in range(100):  # the loop keeps up again: admitted again
                status, _, body = await _post(session, url, later)
                if status == 200:
                    break
                await asyncio.sleep(0.02)
            assert status == 200, body


async def test_shedding_is_off_at_zero(dataset: Dataset, sim) -> None:
    order = {"id": to_global_id("Order", dataset.order_ids("in_transit")[0])}
    settings = settings_for(sim.urls, max_loop_lag_ms=0)
    async with running_gateway(settings) as gateway, saturated_loop():
        for _ in range(3):  # past the first ticks: the lag is held by the last
            status, _, body = await _post(gateway.session, gateway.url, order)
            assert status == 200, body


async def test_one_pause_is_not_saturation() -> None:
    lag = LoopLag()
    lag.start()
    await asyncio.sleep(0.05)
    time.sleep(0.3)  # noqa: ASYNC251 - one long pause, as a garbage collection makes
    await asyncio.sleep(0.05)
    assert lag.worst_since(time.monotonic() - 1) >= 0.2  # seen ...
    assert lag.sustained() < 0.1  # ... but not held
    async with saturated_loop():
        for _ in range(100):  # a few ticks, each some slices late
            if lag.sustained() >= SLICE_S:
                break
            await asyncio.sleep(SLICE_S)
        assert lag.sustained() >= SLICE_S
    await lag.close()


async def test_a_redis_timeout_while_the_loop_stalled_is_not_blamed_on_redis() -> None:
    """The call's own timer fires on time, yet the loop stalled until just before it
    (its answer could have been waiting unread): no cooldown. A stall that ended well
    before the timeout left the loop time to read an answer, and with the loop idle
    the same: the hung Redis is blamed."""
    lag = LoopLag()
    lag.start()
    heard = asyncio.Event()
    async with hung_server(heard) as url:
        cache = RedisBackend(url, timeout_s=0.1, cooldown_s=5, loop_lag=lag)
        pending = asyncio.create_task(cache.get_many(["a"]))
        # The call's 100 ms timer started before the hung Redis heard it (a few ms on a
        # quiet machine), so the stall below ends at least 93 ms into the call: past the
        # monitor's last tick before the timer (90 ms), just before the timer fires. A
        # fixed 10 ms wait then an 85 ms stall ended before that tick once on a loaded
        # machine, the call having started late.
        await asyncio.wait_for(heard.wait(), HANG_S)
        time.sleep(0.093)  # noqa: ASYNC251 - a stall that ends just before the timeout
        assert await pending == [None]
        assert cache.health().ok  # a miss, but Redis is not blamed

        for _ in range(TRIES):  # other tests' load can make the loop late too
            pending = asyncio.create_task(cache.get_many(["a"]))
            await asyncio.sleep(0.01)
            time.sleep(0.03)  # noqa: ASYNC251 - a stall that ends well before the timeout
            assert await pending == [None]
            if not cache.health().ok:
                break
        assert not cache.health().ok  # the loop had time to read an answer: Redis is hung
        await cache.close()
    await lag.close()
