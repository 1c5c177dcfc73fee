"""A real webhook receiver on loopback for the simulated sources' change events,
and the module-scoped fixtures wiring a cluster to it (registered for every test
module by ``tests/conftest.py``; each module brings its own ``data``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from sim.cluster import SimCluster, start_cluster
from sim.seed import Dataset
from sources.events import EventType
from sources.webhooks import VerifiedEvent, WebhookError, generate_secret, verify

SECRET = generate_secret()


@dataclass
class Receiver:
    """A webhook endpoint that verifies deliveries and queues the accepted events."""

    url: str = ""
    events: asyncio.Queue[tuple[str, VerifiedEvent]] = field(default_factory=asyncio.Queue)
    attempts: list[str] = field(default_factory=list)  # webhook-id of every POST
    fail_next: int = 0  # answer this many next deliveries with 503

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts.append(request.headers.get("webhook-id", ""))
        if self.fail_next:
            self.fail_next -= 1
            return web.json_response({"code": "BUSY"}, status=503)
        source = request.match_info["source"]
        try:
            verified = verify(source, await request.read(), request.headers, [SECRET])
        except WebhookError as exc:
            return web.json_response({"code": exc.code}, status=exc.status)
        await self.events.put((source, verified))
        return web.json_response({"status": "applied"})

    async def next(self, source: str, event_type: EventType) -> VerifiedEvent:
        got_source, verified = await asyncio.wait_for(self.events.get(), timeout=5)
        assert (got_source, verified.event.type) == (source, event_type)
        return verified


@pytest_asyncio.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/webhooks/{source}", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhooks"
    yield rec
    await runner.cleanup()


@pytest.fixture
def quiet_receiver(receiver: Receiver) -> None:
    """Every test consumes the events it causes: none may be left from another test (a
    module asks for it with ``pytestmark = pytest.mark.usefixtures("quiet_receiver")``)."""
    assert receiver.events.empty()
    receiver.fail_next = 0


@pytest_asyncio.fixture(scope="module")
async def cluster(data: Dataset, receiver: Receiver) -> AsyncIterator[SimCluster]:
    async with await start_cluster(
        data, webhook_url=receiver.url, webhook_secret=SECRET
    ) as running:
        yield running


@pytest_asyncio.fixture(scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
