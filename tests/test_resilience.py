"""Circuit breaker, retry budget, retries and the request deadline, against real
HTTP servers on loopback where a source is involved."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from sources.clients.http import SourceClient, SourceConfig
from sources.failures import SourceError
from sources.resilience import caller, deadline
from sources.resilience.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    CallerBreakers,
    CircuitBreaker,
    CircuitOpenError,
)
from sources.resilience.budget import RetryBudget


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _breaker(clock: Clock, moves: list[str]) -> CircuitBreaker:
    return CircuitBreaker(
        window=10, min_calls=4, failure_ratio=0.5, open_s=5, probes=2,
        on_change=moves.append, clock=clock,
    )  # fmt: skip


def _calls(breaker: CircuitBreaker, *outcomes: bool) -> None:
    for ok in outcomes:
        breaker.record(breaker.acquire(), ok)


def test_breaker_opens_on_the_failure_ratio_of_its_window():
    clock, moves = Clock(), []
    breaker = _breaker(clock, moves)
    _calls(breaker, True, False, True)  # too few calls to judge
    assert breaker.state == CLOSED
    _calls(breaker, False)  # 2 of 4 failed
    assert breaker.state == OPEN and moves == [OPEN]
    with pytest.raises(CircuitOpenError):
        breaker.acquire()


def test_breaker_probes_after_the_open_period_and_closes_on_success():
    clock, moves = Clock(), []
    breaker = _breaker(clock, moves)
    _calls(breaker, False, False, False, False)
    clock.now = 5.0
    first, second = breaker.acquire(), breaker.acquire()
    assert breaker.state == HALF_OPEN
    with pytest.raises(CircuitOpenError):
        breaker.acquire()  # only two probes at a time
    breaker.record(first, True)
    breaker.record(second, True)
    assert breaker.state == CLOSED and moves == [OPEN, HALF_OPEN, CLOSED]


def test_a_failed_probe_opens_it_again_and_stale_outcomes_are_ignored():
    clock, moves = Clock(), []
    breaker = _breaker(clock, moves)
    before = breaker.acquire()  # a slow call from the closed period
    _calls(breaker, False, False, False, False)
    clock.now = 5.0
    probe = breaker.acquire()
    breaker.record(before, True)  # arrives late: must not count as a probe
    breaker.record(probe, False)
    assert breaker.state == OPEN
    clock.now = 9.0
    with pytest.raises(CircuitOpenError):
        breaker.acquire()


def test_cancelled_probe_frees_its_slot():
    clock, moves = Clock(), []
    breaker = _breaker(clock, moves)
    _calls(breaker, False, False, False, False)
    clock.now = 5.0
    ticket = breaker.acquire()
    breaker.record(ticket, None)
    _calls(breaker, True, True)
    assert breaker.state == CLOSED


def _caller_calls(breaker: CircuitBreaker, caller: str | None, *outcomes: bool) -> None:
    for ok in outcomes:
        breaker.record(breaker.acquire(), ok, caller)


def test_one_caller_alone_cannot_open_the_breaker():
    """Whatever one key sends, its failures count for at most half of those needed."""
    clock, moves = Clock(), []
    breaker = _breaker(clock, moves)
    _caller_calls(breaker, "key_attacker", *[False] * 50)
    assert breaker.state == CLOSED and moves == []
    _caller_calls(breaker, "key_other", True, True)
    assert breaker.state == CLOSED


def test_failures_of_two_callers_open_it():
    clock, moves = Clock(), []
    breaker = _breaker(clock, moves)  # window 10, min 4, ratio 0.5: 2 of 4 must fail
    _caller_calls(breaker, "key_a", False, False, False)
    assert breaker.state == CLOSED  # key_a counts for at most 1 of the 2 needed
    _caller_calls(breaker, "key_b", False)
    assert breaker.state == OPEN and moves == [OPEN]


def test_failures_without_a_caller_count_in_full():
    """Dev mode and background work (no key) open it as before."""
    clock, moves = Clock(), []
    breaker = _breaker(clock, moves)
    _caller_calls(breaker, None, False, False, False, False)
    assert breaker.state == OPEN


async def test_the_client_counts_failures_for_the_caller_of_the_request(upstream):
    """``caller.start`` (set by the edge per request) reaches the breaker through the
    client call; one caller's 500s leave the breaker closed, two callers' open it."""
    server, url = upstream
    client = Thing(SourceConfig(base_url=url, breaker_min_calls=4, retry_attempts=1))

    async def fail_as(who: str, times: int) -> None:
        caller.start(who)
        server.statuses = [500] * times
        for _ in range(times):
            with pytest.raises(SourceError):
                await client.request_json("GET", "/thing", dict)

    await asyncio.create_task(fail_as("key_a", 20))
    assert client.breaker.state == CLOSED
    await asyncio.create_task(fail_as("key_b", 20))
    assert client.breaker.state == OPEN
    await client.close()


def test_retry_budget_is_ten_percent_of_calls():
    budget = RetryBudget(ratio=0.1, reserve=2, cap=10)
    granted = 0
    for _ in range(1000):
        budget.on_call()
        granted += budget.try_spend()
    assert 100 <= granted <= 102  # 10% plus the small reserve


class Upstream:
    """A real HTTP server that answers with the statuses it is given, in turn."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.hits: dict[str, int] = {"GET": 0, "POST": 0}
        self.delay_s = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        self.hits[request.method] += 1
        await asyncio.sleep(self.delay_s)
        status = self.statuses.pop(0) if self.statuses else 200
        return web.json_response({"ok": True}, status=status)


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, str]]:
    server = Upstream()
    app = web.Application()
    app.router.add_route("*", "/thing", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield server, f"http://{host}:{port}"
    await runner.cleanup()


class Thing(SourceClient):
    name = "thing"


async def test_an_idempotent_read_is_retried_on_503_and_succeeds(upstream):
    server, url = upstream
    client = Thing(SourceConfig(base_url=url))
    server.statuses = [503]
    assert await client.request_json("GET", "/thing", dict) == {"ok": True}
    assert server.hits["GET"] == 2
    await client.close()


async def test_a_non_idempotent_call_is_never_retried(upstream):
    server, url = upstream
    client = Thing(SourceConfig(base_url=url))
    server.statuses = [503]
    with pytest.raises(SourceError) as failure:
        await client.request_json("POST", "/thing", dict, body={"x": 1}, idempotent=False)
    assert failure.value.code == "SOURCE_UNAVAILABLE"
    assert server.hits["POST"] == 1
    await client.close()


async def test_a_client_error_is_not_retried(upstream):
    server, url = upstream
    client = Thing(SourceConfig(base_url=url))
    server.statuses = [400]
    with pytest.raises(SourceError) as failure:
        await client.request_json("GET", "/thing", dict)
    assert failure.value.code == "BAD_USER_INPUT" and server.hits["GET"] == 1
    assert not failure.value.retryable
    await client.close()


async def test_a_client_error_is_logged_with_the_sources_words_kept_from_the_caller(
    upstream, caplog
):
    server, url = upstream
    client = Thing(SourceConfig(base_url=url))
    server.statuses = [400]
    with (
        caplog.at_level(logging.INFO, logger="ordergraph.sources"),
        pytest.raises(SourceError) as failure,
    ):
        await client.request_json("GET", "/thing", dict)
    assert '{"ok": true}' in caplog.text and "HTTP 400" in caplog.text
    assert "ok" not in str(failure.value)
    await client.close()


@pytest.mark.parametrize("status", [400, 404, 413, 422])
async def test_client_errors_never_open_the_breaker(upstream, status):
    """A 4xx is the caller's input at fault, not the source: however many there are,
    the breaker stays closed and later calls still reach the source."""
    server, url = upstream
    client = Thing(SourceConfig(base_url=url, breaker_min_calls=4, retry_attempts=1))
    server.statuses = [status] * 20
    for _ in range(20):
        with pytest.raises(SourceError) as failure:
            await client.request_json("GET", "/thing", dict)
        assert failure.value.code == "BAD_USER_INPUT"
        assert "ok" not in str(failure.value)  # the source's own words stay out
    assert client.breaker.state == CLOSED
    assert await client.request_json("GET", "/thing", dict) == {"ok": True}
    assert server.hits["GET"] == 21
    await client.close()


async def test_throttling_and_timeouts_statuses_still_count_against_the_source(upstream):
    server, url = upstream
    client = Thing(SourceConfig(base_url=url, breaker_min_calls=4, retry_attempts=1))
    server.statuses = [429, 408, 429, 408]
    for _ in range(4):
        with pytest.raises(SourceError) as failure:
            await client.request_json("GET", "/thing", dict)
        assert failure.value.code != "BAD_USER_INPUT"
    assert client.breaker.state == OPEN
    await client.close()


async def test_a_call_gets_only_what_is_left_of_the_deadline(upstream):
    server, url = upstream
    client = Thing(SourceConfig(base_url=url))
    server.delay_s = 1.0
    deadline.start(0.2)
    started = time.monotonic()
    with pytest.raises(SourceError) as failure:
        await client.request_json("GET", "/thing", dict)
    assert failure.value.code == "SOURCE_TIMEOUT"
    assert time.monotonic() - started < 0.3
    with pytest.raises(SourceError):  # past the deadline: not even sent
        await client.request_json("GET", "/thing", dict)
    assert server.hits["GET"] == 1
    await client.close()


async def test_the_breaker_fails_fast_once_open(upstream):
    server, url = upstream
    client = Thing(SourceConfig(base_url=url, breaker_min_calls=4, retry_attempts=1))
    server.statuses = [500] * 4
    for _ in range(4):
        with pytest.raises(SourceError):
            await client.request_json("GET", "/thing", dict)
    with pytest.raises(SourceError) as failure:
        await client.request_json("GET", "/thing", dict)
    assert failure.value.code == "CIRCUIT_OPEN"
    assert server.hits["GET"] == 4
    await client.close()


def test_each_caller_has_a_breaker_of_its_own_and_the_oldest_is_forgotten():
    made: list[CircuitBreaker] = []

    def make() -> CircuitBreaker:
        made.append(CircuitBreaker(window=4, min_calls=2, failure_ratio=0.5))
        return made[-1]

    breakers = CallerBreakers(make, limit=2)
    a = breakers.of("key_a")
    for _ in range(2):
        a.record(a.acquire(), False)
    assert a.state == OPEN and breakers.of("key_b").state == CLOSED
    assert breakers.of("key_a") is a  # kept, and now the most recent
    breakers.of("key_c")  # one too many: key_b, the least recent, goes
    assert len(made) == 3 and breakers.of("key_a") is a
    assert breakers.of("key_b") is not made[1]
