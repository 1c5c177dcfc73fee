"""The source client's retries, deadline and breaker, against a real HTTP server on
loopback."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from sources.clients.http import SourceClient
from sources.failures import SourceError
from sources.options import SourceConfig
from sources.resilience import caller, deadline, throttle
from sources.resilience.breaker import CLOSED, OPEN


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


class Upstream:
    """A real HTTP server that answers with the statuses it is given, in turn."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.hits: dict[str, int] = {"GET": 0, "POST": 0}
        self.delay_s = 0.0
        self.retry_after: str | None = None  # sent with a 429
        self.once: dict[str, str] = {}  # sent with the next answer only

    async def handle(self, request: web.Request) -> web.Response:
        self.hits[request.method] += 1
        await asyncio.sleep(self.delay_s)
        status = self.statuses.pop(0) if self.statuses else 200
        headers = {"Retry-After": self.retry_after} if status == 429 and self.retry_after else {}
        headers |= self.once
        self.once = {}
        return web.json_response({"ok": True}, status=status, headers=headers)


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, str]]:
    server = Upstream()
    app = web.Application()
    app.router.add_route("*", "/thing", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)  # a handler still asleep is cancelled
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


@pytest.mark.parametrize("status", [400, 404])
async def test_a_batch_read_refused_whole_is_the_sources_failure(upstream, status):
    """A batch read carries ids the gateway checked or another source sent, and unknown
    ids belong in notFound: a 4xx refusing the batch (a moved route, a broken contract)
    is the source failing, reported so and counted by the breaker."""
    server, url = upstream
    client = Thing(SourceConfig(base_url=url, breaker_min_calls=4, retry_attempts=1))
    server.statuses = [status] * 4
    for _ in range(4):
        with pytest.raises(SourceError) as failure:
            await client.fetch_batch("/thing", "ids", ["a"], dict, key=str)
        assert failure.value.code == "SOURCE_BAD_RESPONSE"
    assert client.breaker.state == OPEN
    await client.close()


async def test_a_429_is_waited_out_and_never_a_failure_but_timeouts_are(upstream):
    """A source's 429 asks the gateway to slow down: the call waits what Retry-After
    says and goes again, a write too (a 429 was not processed), and the breaker hears
    of no failure. A 408 is the source's failure, never the caller's input."""
    server, url = upstream
    client = Thing(SourceConfig(base_url=url, breaker_min_calls=4, retry_attempts=1))
    server.retry_after = "0.05"
    server.statuses = [429] * 4
    started = time.monotonic()
    assert await client.request_json("GET", "/thing", dict) == {"ok": True}
    assert (server.hits["GET"], client.breaker.state) == (5, CLOSED)
    assert time.monotonic() - started >= 4 * 0.05
    server.statuses = [429]
    assert await client.request_json("POST", "/thing", dict, idempotent=False) == {"ok": True}
    assert server.hits["POST"] == 2
    server.statuses = [408] * 4
    for _ in range(4):
        with pytest.raises(SourceError) as failure:
            await client.request_json("GET", "/thing", dict)
        assert failure.value.code != "BAD_USER_INPUT"
    assert client.breaker.state == OPEN
    await client.close()


async def test_a_rate_limit_is_waited_out_only_within_the_deadline(upstream):
    """Asked to wait 100 ms again and again, a call with 350 ms left waits while the
    deadline leaves room for the wait and a call, then fails as rate limited."""
    server, url = upstream
    client = Thing(SourceConfig(base_url=url))
    server.retry_after = "0.1"
    server.statuses = [429] * 20
    deadline.start(0.35)
    started = time.monotonic()
    with pytest.raises(SourceError) as failure:
        await client.request_json("GET", "/thing", dict)
    assert failure.value.retryable and "rate limited" in str(failure.value)
    assert 2 <= server.hits["GET"] <= 4
    assert time.monotonic() - started < 0.35
    assert client.breaker.state == CLOSED
    await client.close()


HELD_S = 1.0  # the bound on a stated wait, for these tests


def _in_ms_from_now(seconds: float) -> str:
    return str(int((time.time() + seconds) * 1000))


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (429, {"Retry-After": "1e9"}),
        (429, {"Retry-After": "inf"}),
        # a Unix time in milliseconds, when read as seconds, 57,000 years away
        (200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": _in_ms_from_now(3600)}),
    ],
)
async def test_a_wait_stated_beyond_reason_holds_the_source_only_so_long(
    upstream, monkeypatch, status, said
):
    """Told once to wait for ever (or for a year), the client holds the source's calls
    back (a call with 100 ms left fails as rate limited, unsent) no longer than the
    bound on a stated wait: a call after it reaches the source again. Before the bound,
    nothing was sent, so no later answer could lift the hold."""
    monkeypatch.setattr(throttle, "MAX_STATED_WAIT_S", HELD_S)
    server, url = upstream
    client = Thing(SourceConfig(base_url=url))

    async def read_within(seconds: float) -> str:
        deadline.start(seconds)  # in a task of its own: the deadline stays there
        try:
            return str(await client.request_json("GET", "/thing", dict))
        except SourceError as exc:
            return str(exc)

    server.statuses, server.once = [status], said
    await asyncio.create_task(read_within(0.1))
    assert server.hits["GET"] == 1
    assert "rate limited" in await asyncio.create_task(read_within(0.1))
    assert server.hits["GET"] == 1  # held: not sent
    await asyncio.sleep(HELD_S)
    assert await asyncio.create_task(read_within(1.0)) == str({"ok": True})
    assert server.hits["GET"] == 2
    assert client.breaker.state == CLOSED
    await client.close()


async def test_a_call_gets_only_what_is_left_of_the_deadline(upstream):
    server, url = upstream
    client = Thing(SourceConfig(base_url=url))
    server.delay_s = 5.0  # past the client's own read timeout (2 s)
    deadline.start(0.2)
    started = time.monotonic()
    with pytest.raises(SourceError) as failure:
        await client.request_json("GET", "/thing", dict)
    assert failure.value.code == "SOURCE_TIMEOUT"
    # Cut at the deadline, not at the read timeout: the upper bound only has to tell
    # the two apart, with room for a loaded machine.
    assert time.monotonic() - started < 1.5
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
