"""A gateway for tests: settings over the simulated sources, its process state on the
data set's clock, served by a real uvicorn on loopback, and the sources' counters."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp

from gateway.app import Components, create_app
from gateway.settings import Settings, SourceSettings
from sim.cluster import SimCluster, start_cluster
from sim.seed import Dataset
from sources.clock import ShiftedClock
from tests.support.in_process import Session, in_process
from tests.support.ports import free_socket
from tests.support.redis_server import PATIENT_TIMEOUT_S, RedisServer
from tests.support.serving import serving

FIXED_NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
PATIENT_DEADLINE_MS = 3_000  # settings_for's request deadline
MakeDataset = Callable[..., Dataset]  # the make_dataset fixture: (seed=, now=, orders=, ...)


class RunningGateway:
    """A gateway (served on a loopback port, or in process), with a client to query it."""

    def __init__(self, url: str, session: aiohttp.ClientSession | Session) -> None:
        self.url = url
        self.session = session

    async def query(
        self, query: str, variables: dict[str, Any] | None = None, *, status: int = 200
    ) -> dict[str, Any]:
        payload = {"query": query, "variables": variables or {}}
        async with self.session.post(f"{self.url}/graphql", json=payload) as resp:
            body = await resp.json()
            assert resp.status == status, body
            return body  # type: ignore[no-any-return]

    async def readyz(self) -> tuple[int, dict[str, Any]]:
        """``GET /readyz``: its status and body."""
        async with self.session.get(f"{self.url}/readyz") as resp:
            return resp.status, await resp.json()


def gateway_at(settings: Settings, now: datetime = FIXED_NOW) -> Components:
    """A gateway's process state on a clock that starts at ``now`` (the data set's),
    never the calendar's."""
    return Components(settings, ShiftedClock(now))


@contextlib.asynccontextmanager
async def running_gateway(
    settings: Settings, sock: socket.socket | None = None, gateway: Components | None = None
) -> AsyncIterator[RunningGateway]:
    """Run the gateway app under uvicorn until the block ends, on ``sock`` (a bound
    socket, when its address must be known in advance) or a free port; ``gateway``,
    when given, is the app's process state, for tests to look into (by default one on
    the data set's clock)."""
    gateway = gateway or gateway_at(settings)
    async with serving(create_app(settings, gateway), sock) as (url, session):
        yield RunningGateway(url, session)


@contextlib.asynccontextmanager
async def in_process_gateway(
    settings: Settings, gateway: Components | None = None
) -> AsyncIterator[RunningGateway]:
    """The gateway app in process (its lifespan run, requests through
    ``httpx.ASGITransport``) until the block ends; ``gateway`` as for
    :func:`running_gateway`."""
    gateway = gateway or gateway_at(settings)
    async with in_process(create_app(settings, gateway)) as (url, session):
        yield RunningGateway(url, session)


@contextlib.asynccontextmanager
async def changing_sources(
    dataset: Dataset, secret: str, *, vendors: bool = False
) -> AsyncIterator[tuple[SimCluster, RedisServer, socket.socket]]:
    """Sources over ``dataset`` that send their signed change events to the gateway
    that will serve on the returned socket, and a private Redis for gateways to share;
    with ``vendors``, the simulated vendor APIs too (sending theirs their vendors' way)."""
    server = RedisServer()
    await server.start()
    sock = free_socket()
    host, port = sock.getsockname()
    try:
        async with await start_cluster(
            dataset,
            webhook_url=f"http://{host}:{port}/webhooks",
            webhook_secret=secret,
            vendors=vendors,
            vendor_rate_per_s=1000,
        ) as cluster:
            yield cluster, server, sock
    finally:
        await server.stop()


def settings_for(
    urls: dict[str, str], source_options: dict[str, Any] | None = None, **options: Any
) -> Settings:
    """Settings for the given source URLs; ``source_options`` apply to every source.
    Dev mode (anonymous requests run as an internal console) unless told otherwise:
    the access tests turn it off. No exception queue unless asked for: its sweeps and
    evaluations would add requests to the sources' counters that tests assert. No
    shedding on loop lag unless asked for (tests/e2e/test_overload.py): on a machine
    busy with the rest of the suite, a test's gateway would refuse its requests. A
    request deadline of :data:`PATIENT_DEADLINE_MS`, not the 800 ms default, unless told
    otherwise: tests count the reads a query makes and compare answers, and a loaded
    host's reads ran out 800 ms; tests of deadlines set their own. Likewise a Redis
    timeout of :data:`~tests.support.redis_server.PATIENT_TIMEOUT_S` for the cache and
    the key store, not their 100 and 400 ms."""
    sources = {
        name: SourceSettings(url=url, **(source_options or {})) for name, url in urls.items()
    }
    defaults = {
        "dev_mode": True,
        "exception_queue": False,
        "max_loop_lag_ms": 0,
        "request_deadline_ms": PATIENT_DEADLINE_MS,
        "cache_timeout_ms": int(PATIENT_TIMEOUT_S * 1000),
        "keys_timeout_ms": int(PATIENT_TIMEOUT_S * 1000),
    }
    return Settings(sources=sources, **{**defaults, **options})


class SourceStats:
    """Reads and resets the simulated sources' ``/__stats`` counters."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls

    async def reset(self) -> None:
        async with aiohttp.ClientSession() as session:
            for url in self.urls.values():
                async with session.delete(f"{url}/__stats") as resp:
                    assert resp.status == 204

    async def read(self) -> dict[str, dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            result = {}
            for name, url in self.urls.items():
                async with session.get(f"{url}/__stats") as resp:
                    result[name] = await resp.json()
            return result

    async def requests(self) -> dict[str, int]:
        return {name: stats["requests"] for name, stats in (await self.read()).items()}
