"""The AfterShip adapter against the simulated AfterShip API: its key, its batch limit,
and its rate limit taken as back-pressure (waited out within the deadline, never a
source failure), counted through the simulated API's ``/__stats``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from sim.cluster import SimCluster
from sim.seed import Dataset
from sim.vendors.access import SIM_API_KEY
from sources.adapters.aftership import wire
from sources.adapters.aftership.adapter import AfterShipTracking
from sources.failures import SOURCE_UNAVAILABLE, SourceError
from sources.options import SourceConfig
from sources.resilience import deadline
from sources.resilience.throttle import throttle_wait
from sources.telemetry import UPSTREAM_THROTTLE_WAITS
from tests.support.vendors import next_window

RATE = 2  # calls a second the simulated account takes here


@pytest.fixture(scope="module")
def data(vendors: SimCluster) -> Dataset:
    return vendors.dataset


def adapter_for(vendors: SimCluster, **options: Any) -> AfterShipTracking:
    config = SourceConfig(base_url=vendors.urls["aftership"], credential=SIM_API_KEY, **options)
    return AfterShipTracking(config)


async def test_a_batch_of_fifty_numbers_is_one_call(vendors: SimCluster, data: Dataset):
    adapter = adapter_for(vendors)
    try:
        assert adapter.batch_size == wire.MAX_NUMBERS
        numbers = list(data.trackings)[: adapter.batch_size]
        vendors.reset_stats()
        answer = await adapter.trackings(numbers)
        assert answer == {n: data.trackings[n] for n in numbers}
        assert vendors.stats("aftership").batch_sizes == {wire.TRACKINGS_PATH: [50]}
    finally:
        await adapter.close()


async def test_the_rate_limit_is_waited_out_not_failed(vendors: SimCluster, data: Dataset):
    """Three times the account's rate at once: every read answers, the extra calls
    waited for the next windows (429, X-RateLimit-Remaining and -Reset), each read
    was admitted once, and the breaker saw no failure."""
    adapter = adapter_for(vendors)
    numbers = list(data.trackings)[:3]
    waits = UPSTREAM_THROTTLE_WAITS.labels("carrier")._value.get()
    try:
        await next_window()
        vendors.reset_stats()
        started = time.monotonic()
        answers = await asyncio.gather(*(adapter.trackings([n]) for n in numbers * RATE))
        assert [a for answer in answers for a in answer.values()] == [
            data.trackings[n] for n in numbers * RATE
        ]
        stats = vendors.stats("aftership")
        assert stats.requests - stats.throttled == 3 * RATE  # each read admitted once
        assert stats.throttled >= 2 * RATE  # the calls beyond the first window's
        assert UPSTREAM_THROTTLE_WAITS.labels("carrier")._value.get() - waits >= stats.throttled
        assert time.monotonic() - started >= 1.0  # the third window came
        assert adapter.breaker.state == "closed"
    finally:
        await adapter.close()


async def test_a_wait_longer_than_the_deadline_is_a_retryable_error_not_a_failure(
    vendors: SimCluster, data: Dataset
):
    adapter = adapter_for(vendors, breaker_min_calls=2, breaker_failure_ratio=0.5)
    number = next(iter(data.trackings))
    try:
        await next_window()
        await asyncio.gather(*(adapter.trackings([number]) for _ in range(RATE)))
        for _ in range(4):  # the window is spent: each would have to wait ~1 s

            async def within_100_ms() -> None:
                deadline.start(0.1)
                await adapter.trackings([number])

            with pytest.raises(SourceError) as raised:
                await within_100_ms()
            assert (raised.value.code, raised.value.retryable) == (SOURCE_UNAVAILABLE, True)
            assert "rate limited" in str(raised.value)
        assert adapter.breaker.state == "closed"
    finally:
        await adapter.close()


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"tracking_numbers": ",".join(f"N{n}" for n in range(51))}, 400),
        ({"limit": "201"}, 400),
        ({"limit": "0"}, 400),
        ({"page": "x"}, 400),
        ({"tracking_numbers": "N1", "limit": "200"}, 200),
    ],
)
async def test_the_simulated_api_holds_aftership_s_limits(vendors: SimCluster, params, status):
    resp, body = await admitted_get(vendors, params)
    assert resp.status == status, body
    assert body["meta"]["code"] == status
    assert resp.headers["X-RateLimit-Limit"] == str(RATE)


async def admitted_get(
    vendors: SimCluster, params: dict[str, str]
) -> tuple[aiohttp.ClientResponse, dict[str, Any]]:
    """``GET trackings`` straight at the simulated API, once its rate limit lets it
    in: a 429 is sent again at the reset it names."""
    headers = {wire.API_KEY_HEADER: SIM_API_KEY}
    url = vendors.urls["aftership"] + wire.TRACKINGS_PATH
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(url, params=params, headers=headers) as resp:
                body = await resp.json()
            if resp.status != 429:
                return resp, body
            await asyncio.sleep(throttle_wait(resp.headers))


async def test_the_simulated_api_pages_the_list(vendors: SimCluster, data: Dataset):
    pages = []
    for page in (1, 2):
        _, body = await admitted_get(vendors, {"limit": "3", "page": str(page)})
        pages.append(body["data"])
    assert [p["count"] for p in pages] == [len(data.trackings)] * 2
    listed = [t["tracking_number"] for p in pages for t in p["trackings"]]
    assert listed == list(data.trackings)[:6]
