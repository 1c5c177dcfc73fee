"""Cost buckets (token buckets per key) in memory and on a real redis-server."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from gateway.admission.bucket import KEY_PREFIX, CostBucket
from sources.cache import MemoryBackend, RedisBackend
from tests.support.ports import free_socket, hung_server
from tests.support.redis_server import PATIENT_TIMEOUT_S, RedisServer
from tests.support.timing import TRIES


@pytest.fixture
async def memory_bucket() -> AsyncIterator[CostBucket]:
    yield CostBucket(MemoryBackend())


@pytest.fixture
async def redis_bucket(redis_server: RedisServer, redis_admin: Redis) -> AsyncIterator[CostBucket]:
    # These tests are about the bucket's arithmetic: a loaded host must not make a
    # call miss its 100 ms default (a miss admits, and would charge nothing).
    backend = RedisBackend(redis_server.url, timeout_s=PATIENT_TIMEOUT_S)
    yield CostBucket(backend)
    await backend.close()


@pytest.fixture(params=["memory_bucket", "redis_bucket"], ids=["memory", "redis"])
def bucket(request: pytest.FixtureRequest) -> CostBucket:
    return request.getfixturevalue(request.param)


SLOW = 0.001  # points per second: no visible refill during a test


async def test_charges_drain_the_bucket(bucket: CostBucket) -> None:
    first = await bucket.take("k", 4, 10, SLOW)
    assert (first.allowed, first.capacity, first.refill_per_s, first.retry_after_s) == (
        True,
        10,
        SLOW,
        0,
    )
    assert first.available == pytest.approx(6, abs=0.01)
    second = await bucket.take("k", 6, 10, SLOW)
    assert second.allowed
    assert second.available == pytest.approx(0, abs=0.01)


async def test_a_charge_over_the_available_is_refused(bucket: CostBucket) -> None:
    await bucket.take("k", 8, 10, SLOW)
    refused = await bucket.take("k", 5, 10, SLOW)
    assert not refused.allowed
    assert refused.available == pytest.approx(2, abs=0.01)
    assert refused.retry_after_s == pytest.approx((5 - 2) / SLOW, rel=0.01)
    after = await bucket.take("k", 1, 10, SLOW)  # the refusal charged nothing
    assert after.allowed
    assert after.available == pytest.approx(1, abs=0.01)


async def test_a_charge_over_the_capacity_is_never_allowed(bucket: CostBucket) -> None:
    state = await bucket.take("k", 11, 10, 2)
    assert (state.allowed, state.retry_after_s) == (False, math.inf)
    assert state.available == pytest.approx(10)


async def test_the_bucket_refills_over_time_up_to_its_capacity(bucket: CostBucket) -> None:
    assert (await bucket.take("k", 5, 5, 50)).allowed
    assert not (await bucket.take("k", 3, 5, 50)).allowed
    await asyncio.sleep(0.08)  # 4 points back
    refilled = await bucket.take("k", 3, 5, 50)
    assert refilled.allowed
    await asyncio.sleep(0.2)  # would be 10 more: capped at 5
    assert (await bucket.take("k", 0, 5, 50)).available == pytest.approx(5)


async def test_keys_are_independent(bucket: CostBucket) -> None:
    assert (await bucket.take("a", 10, 10, SLOW)).allowed
    assert not (await bucket.take("a", 1, 10, SLOW)).allowed
    other = await bucket.take("b", 1, 10, SLOW)
    assert other.allowed
    assert other.available == pytest.approx(9, abs=0.01)


async def test_the_rate_must_be_positive(bucket: CostBucket) -> None:
    with pytest.raises(ValueError):
        await bucket.take("k", 1, 10, 0)


async def test_memory_buckets_are_bounded() -> None:
    bucket = CostBucket(MemoryBackend(max_entries=2))
    for key in ("a", "b", "c"):
        await bucket.take(key, 10, 10, SLOW)
    assert (await bucket.take("a", 10, 10, SLOW)).allowed  # forgotten: full again
    assert not (await bucket.take("c", 10, 10, SLOW)).allowed


async def test_idle_redis_buckets_expire_once_full_again(
    redis_bucket: CostBucket, redis_admin: Redis
) -> None:
    await redis_bucket.take("k", 4, 10, 2)  # full again in 2 s
    ttl_ms = await redis_admin.pttl(KEY_PREFIX + "k")
    assert 2000 < ttl_ms <= 3000


async def test_redis_down_charges_this_process_buckets_quickly() -> None:
    """A Redis that refuses connections neither lifts the limit nor locks the key out:
    the charges go to this process's own bucket, which starts full."""
    with free_socket() as sock:  # bound, never listening: connections are refused
        host, port = sock.getsockname()
        backend = RedisBackend(f"redis://{host}:{port}/0")
        bucket = CostBucket(backend)
        times, states = [], []
        for _ in range(3):
            started = time.perf_counter()
            states.append(await bucket.take("k", 5, 10, SLOW))
            times.append(time.perf_counter() - started)
        assert [state.allowed for state in states] == [True, True, False]
        assert states[0].available == pytest.approx(5, abs=0.01)
        assert states[2].retry_after_s > 1000  # 5 points at SLOW a second
        assert (await bucket.take("other", 5, 10, SLOW)).allowed  # each key its own
        # The fastest of the three: a loaded machine only ever adds time.
        assert min(times) < 0.15, times
        await backend.close()


async def test_a_hung_redis_is_waited_for_only_the_timeout() -> None:
    async def timed(bucket: CostBucket) -> float:
        started = time.perf_counter()
        assert (await bucket.take("k", 5, 10, 1)).allowed
        return time.perf_counter() - started

    async def hung_then_cooling() -> tuple[float, float]:
        backend = RedisBackend(url, timeout_s=0.05)
        bucket = CostBucket(backend)
        hung = await timed(bucket)
        cooling = await timed(bucket)  # in the cooldown: no wait
        await backend.close()
        return hung, cooling

    async with hung_server() as url:
        # The fastest of a few fresh backends: a loaded machine only ever adds time.
        tries = [await hung_then_cooling()]
        while len(tries) < TRIES and not any(h < 0.15 and c < 0.05 for h, c in tries):
            tries.append(await hung_then_cooling())
    assert min(hung for hung, _ in tries) >= 0.05  # it did wait for the timeout
    assert any(hung < 0.15 and cooling < 0.05 for hung, cooling in tries), tries
