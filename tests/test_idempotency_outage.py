"""An idempotency key holds when the claim store does not: with the Redis cache paused
(SIGSTOP) a keyed mutation is refused with a retryable SERVICE_UNAVAILABLE (503,
Retry-After) and changes nothing; after Redis restarts empty the retry changes once."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import pytest

from resolvers.relay import to_global_id
from sources.records import Order
from sources.sim.cluster import SimCluster, start_cluster
from sources.sim.seed import generate
from tests.conftest import FIXED_NOW
from tests.queries import CANCEL, CREATE
from tests.redis_server import RedisServer
from tests.secured import Secured, secured_gateway

_keys = itertools.count(1)


class ManualClock:
    """The sources' clock, moved by the test (the idempotency keys' expiry)."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def time(self) -> float:
        return self.current.timestamp()


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock(FIXED_NOW)


@pytest.fixture(scope="module")
async def cluster(clock) -> AsyncIterator[SimCluster]:
    async with await start_cluster(generate(seed=7, now=FIXED_NOW), clock=clock) as running:
        yield running


@pytest.fixture(scope="module")
async def redis() -> AsyncIterator[RedisServer]:
    """A Redis of this module's own: the tests pause, kill and restart it."""
    server = RedisServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
async def on_redis(cluster, redis, tmp_path_factory) -> AsyncIterator[Secured]:
    directory = tmp_path_factory.mktemp("keys")
    async with secured_gateway(cluster.urls, directory, cache_url=redis.url) as running:
        yield running


@contextlib.contextmanager
def paused(server: RedisServer) -> Iterator[None]:
    """redis-server stopped (SIGSTOP) within the block: connections open, no answers."""
    process = server._process
    assert process is not None
    os.kill(process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)


def _cancellable_orders(cluster: SimCluster) -> Iterator[tuple[Order, str]]:
    """Orders not yet in fulfilment with a line of 2 or more units: cancelling one
    unit twice would show (2 cancelled) where once shows 1."""
    dataset = cluster.dataset
    for order_id, scenario in dataset.scenarios.items():
        order = dataset.orders[order_id]
        if scenario == "just_placed":
            for line in order.lines:
                if line.quantities.ordered >= 2:
                    yield order, line.id
                    break


class Write:
    """One keyed mutation, sent as often as a test likes, and what it changed."""

    def __init__(self, name: str, cluster: SimCluster, variables: dict[str, Any], count: Any):
        self.name = name
        self.cluster = cluster
        self.query = CANCEL if name == "orderCancel" else CREATE
        self.variables = variables
        self._count = count

    async def send(self, gateway: Secured, **changed: Any) -> tuple[int, dict[str, Any], Any]:
        variables = {"input": {**self.variables["input"], **changed}}
        return await gateway.post({"query": self.query, "variables": variables}, key="console")

    def changes(self) -> int:
        """How many times the source made the change."""
        return int(self._count())


def _write(name: str, cluster: SimCluster, used: set[str]) -> Write:
    key = f"outage-{next(_keys)}"
    dataset = cluster.dataset
    if name == "orderCancel":
        order, line_id = next((o, li) for o, li in _cancellable_orders(cluster) if o.id not in used)
        used.add(order.id)
        lines = [{"lineItemId": to_global_id("LineItem", order.id, line_id), "quantity": 1}]
        variables = {"input": {"orderId": to_global_id("Order", order.id), "reason": "CUSTOMER",
                               "lines": lines, "idempotencyKey": key}}  # fmt: skip

        def cancelled() -> int:
            line = next(li for li in dataset.orders[order.id].lines if li.id == line_id)
            return line.quantities.cancelled

        return Write(name, cluster, variables, cancelled)
    order = next(
        dataset.orders[o]
        for o, s in dataset.scenarios.items()
        if s == "in_transit" and o not in used
    )
    used.add(order.id)
    before = len(dataset.tickets.get(order.id, []))
    variables = {"input": {"orderId": to_global_id("Order", order.id), "subject": "Where is it?",
                           "body": "It has not arrived.", "idempotencyKey": key}}  # fmt: skip
    return Write(name, cluster, variables, lambda: len(dataset.tickets.get(order.id, [])) - before)


@pytest.fixture(scope="module")
def used() -> set[str]:
    """Orders a test has changed already: each test takes fresh ones."""
    return set()


def _payload(write: Write, status: int, body: dict[str, Any]) -> dict[str, Any]:
    assert status == 200, body
    payload: dict[str, Any] = body["data"][write.name]
    assert payload["userErrors"] == [], payload
    return payload


@pytest.mark.parametrize("name", ["ticketCreate", "orderCancel"])
@pytest.mark.parametrize("first_before_outage", [False], ids=["outage-first"])
async def test_a_redis_pause_then_an_empty_restart_changes_once(
    on_redis, cluster, redis, used, name, first_before_outage
):
    write = _write(name, cluster, used)
    first = None
    if first_before_outage:
        first = _payload(write, *(await write.send(on_redis))[:2])
        assert write.changes() == 1
    with paused(redis):
        answers = await asyncio.gather(write.send(on_redis), write.send(on_redis))
    for status, body, headers in answers:
        assert status == 503, body
        assert int(headers["Retry-After"]) >= 1
        assert body.get("data") is None
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert error["extensions"]["retryable"] is True
    assert write.changes() == (1 if first_before_outage else 0)  # the refusals changed nothing
    await redis.kill()
    await redis.start()  # empty: every claim and kept outcome is gone
    retried = _payload(write, *(await write.send(on_redis))[:2])
    assert write.changes() == 1
    if first is not None:
        assert retried == first  # the source replayed its first answer
