"""An idempotency key holds when the claim store does not: with the Redis cache paused
(SIGSTOP) a keyed mutation is refused with a retryable SERVICE_UNAVAILABLE (503,
Retry-After) and changes nothing; after Redis restarts empty, or on another gateway
instance with a memory cache of its own, the key the gateway passed on to the source
(``Idempotency-Key``) makes the source replay its first answer instead of changing
anything twice. Then the simulated sources' ``Idempotency-Key`` contract itself."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import msgspec
import pytest

from resolvers.idempotency import ClaimUnavailable, InProgress, run_once
from resolvers.relay import to_global_id
from sim.cluster import SimCluster, start_cluster
from sim.idempotency import HEADER, KEEP, REPLAYED
from sim.openapi import build_document
from sources.cache.backend import CacheUnavailable, Claim
from sources.cache.memory_backend import MemoryBackend
from sources.records import Order, Ticket, TicketStatus
from tests.support.gateways import FIXED_NOW
from tests.support.queries import ADDRESS, CANCEL, COMMENT, CREATE, NEW_ADDRESS
from tests.support.redis_server import RedisServer
from tests.support.secured import Secured, secured_gateway

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
async def cluster(make_dataset, clock) -> AsyncIterator[SimCluster]:
    async with await start_cluster(make_dataset(), clock=clock) as running:
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
    # A paused Redis answers nothing: each claim waits out the cache timeout, so a
    # shorter one than the test gateways' patient default, yet well above 100 ms.
    async with secured_gateway(
        cluster.urls, directory, cache_url=redis.url, cache_timeout_ms=500
    ) as running:
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
        self.query = _QUERIES[name]
        self.variables = variables
        self._count = count

    async def send(self, gateway: Secured, **changed: Any) -> tuple[int, dict[str, Any], Any]:
        variables = {"input": {**self.variables["input"], **changed}}
        return await gateway.post({"query": self.query, "variables": variables}, key="console")

    def changes(self) -> int:
        """How many times the source made the change."""
        return int(self._count())


_QUERIES = {
    "orderCancel": CANCEL,
    "ticketCreate": CREATE,
    "ticketAddComment": COMMENT,
    "orderUpdateShippingAddress": ADDRESS,
}


def _write(name: str, cluster: SimCluster, used: set[str]) -> Write:
    key = f"outage-{next(_keys)}"
    dataset = cluster.dataset
    if name == "ticketAddComment":
        ticket = next(
            t
            for tickets in dataset.tickets.values()
            for t in tickets
            if t.status is TicketStatus.OPEN and t.order_id not in used
        )
        used.add(ticket.order_id)
        ticket_id = to_global_id("SupportTicket", ticket.order_id, ticket.id)
        variables = {"input": {"ticketId": ticket_id, "body": "Any news?", "author": "Agent Ann",
                               "idempotencyKey": key}}  # fmt: skip

        def comments() -> int:
            now = next(t for t in dataset.tickets[ticket.order_id] if t.id == ticket.id)
            return len(now.comments) - len(ticket.comments)

        return Write(name, cluster, variables, comments)
    if name == "orderUpdateShippingAddress":
        order_id = next(
            o for o, s in dataset.scenarios.items() if s == "just_placed" and o not in used
        )
        used.add(order_id)
        variables = {"input": {"orderId": to_global_id("Order", order_id), "address": NEW_ADDRESS,
                               "idempotencyKey": key}}  # fmt: skip
        seen = [dataset.orders[order_id].updated_at]

        def updates() -> int:
            """How often the order changed, as seen at each call (a change moves
            updatedAt on)."""
            if dataset.orders[order_id].updated_at != seen[-1]:
                seen.append(dataset.orders[order_id].updated_at)
            return len(seen) - 1

        return Write(name, cluster, variables, updates)
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
@pytest.mark.parametrize("first_before_outage", [False, True], ids=["outage-first", "done-first"])
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
    for _ in range(50):  # as a client does with a retryable 503, until Redis is back
        status, body, _ = await write.send(on_redis)
        if status != 503:
            break
        await asyncio.sleep(0.1)
    retried = _payload(write, status, body)
    assert write.changes() == 1
    if first is not None:
        assert retried == first  # the source replayed its first answer


async def test_the_memory_backends_claim_is_per_instance_so_the_source_key_holds(
    cluster, used, tmp_path_factory
):
    """Two gateway instances, each with its own memory cache (as after a restart): the
    second has no claim for the key, and the source replays the first's answer; for
    every mutation that takes a key."""
    directory = tmp_path_factory.mktemp("keys")
    for name in _QUERIES:
        write = _write(name, cluster, used)
        async with secured_gateway(cluster.urls, directory) as one:
            first = _payload(write, *(await write.send(one))[:2])
            assert write.changes() == 1
        async with secured_gateway(cluster.urls, directory) as two:
            again = _payload(write, *(await write.send(two))[:2])
            assert again == first
            assert write.changes() == 1
        # The same key with another request, on a third instance that has no claim
        # either: the source refuses it, nothing changes.
        async with secured_gateway(cluster.urls, directory) as three:
            other = {
                "ticketCreate": {"subject": "Something else"},
                "orderCancel": {"reason": "OTHER"},
                "ticketAddComment": {"body": "Something else"},
                "orderUpdateShippingAddress": {"address": {**NEW_ADDRESS, "city": "Leeds"}},
            }[name]
            status, body, _ = await write.send(three, **other)
            assert status == 200 and body["data"] is None, body
            assert body["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
            assert write.changes() == 1


async def test_a_cancels_lines_reach_the_source_in_one_order_so_its_key_holds(
    cluster, used, tmp_path_factory
):
    """The same cancel with its lines the other way round, on an instance without the
    claim: the OMS gets the same request under the key, and replays its answer. (Lines
    of 2 or more units, one cancelled: the second instance's own checks still pass.)"""
    dataset = cluster.dataset
    order, chosen = next(
        (order, twos[:2])
        for order_id, scenario in dataset.scenarios.items()
        if scenario == "just_placed" and order_id not in used
        for order in [dataset.orders[order_id]]
        for twos in [[line for line in order.lines if line.quantities.ordered >= 2]]
        if len(twos) >= 2
    )
    used.add(order.id)
    lines = [{"lineItemId": to_global_id("LineItem", order.id, line.id), "quantity": 1}
             for line in chosen]  # fmt: skip
    variables = {"input": {"orderId": to_global_id("Order", order.id), "reason": "CUSTOMER",
                           "lines": lines, "idempotencyKey": f"outage-{next(_keys)}"}}  # fmt: skip
    write = Write("orderCancel", cluster, variables, lambda: 0)
    directory = tmp_path_factory.mktemp("keys")
    async with secured_gateway(cluster.urls, directory) as one:
        first = _payload(write, *(await write.send(one))[:2])
    async with secured_gateway(cluster.urls, directory) as two:
        again = _payload(write, *(await write.send(two, lines=lines[::-1]))[:2])
    assert again == first
    now = {line.id: line.quantities.cancelled for line in dataset.orders[order.id].lines}
    assert [now[line.id] for line in chosen] == [1, 1]


# The simulated sources' contract.


async def _post(
    url: str, body: dict[str, Any], key: str | None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = {} if key is None else {"Idempotency-Key": key}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as resp,
    ):
        return resp.status, await resp.json(), dict(resp.headers)


def _ticket_request(cluster: SimCluster, used: set[str]) -> tuple[str, dict[str, Any]]:
    order_id = next(
        o for o, s in cluster.dataset.scenarios.items() if s == "delivered" and o not in used
    )
    used.add(order_id)
    return order_id, {"orderId": order_id, "subject": "Hello", "body": "A question."}


async def test_the_simulated_ticketing_replays_a_keys_first_answer(cluster, used):
    order_id, request = _ticket_request(cluster, used)
    url = f"{cluster.urls['ticketing']}/tickets"
    status, first, headers = await _post(url, request, "sim-key-1")
    assert status == 201 and "Idempotent-Replayed" not in headers
    status, again, headers = await _post(url, request, "sim-key-1")
    assert (status, again, headers["Idempotent-Replayed"]) == (201, first, "true")
    assert [t.id for t in cluster.dataset.tickets[order_id]].count(first["id"]) == 1
    assert msgspec.convert(first, Ticket).order_id == order_id
    # Another request under the same key: 422, nothing opened.
    count = len(cluster.dataset.tickets[order_id])
    status, error, _ = await _post(url, {**request, "subject": "Other"}, "sim-key-1")
    assert (status, error["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert len(cluster.dataset.tickets[order_id]) == count
    # Without a key every request is a new ticket, as before.
    await _post(url, request, None)
    await _post(url, request, None)
    assert len(cluster.dataset.tickets[order_id]) == count + 2


async def test_a_bad_key_is_a_400_and_changes_nothing(cluster, used):
    order_id, request = _ticket_request(cluster, used)
    url = f"{cluster.urls['ticketing']}/tickets"
    for key in ("x" * 256, "tab\there"):
        status, error, _ = await _post(url, request, key)
        assert (status, error["code"]) == (400, "INVALID_IDEMPOTENCY_KEY")
    assert order_id not in cluster.dataset.tickets or not cluster.dataset.tickets[order_id]


async def test_a_refusal_is_kept_but_a_malformed_request_is_not(cluster):
    """A refusal is the key's outcome (replayed); a 400 is not, so the key stays free."""
    url = f"{cluster.urls['ticketing']}/tickets"
    request = {"orderId": "ord_missing", "subject": "Hello", "body": "A question."}
    status, first, _ = await _post(url, request, "sim-key-refused")
    status_again, again, headers = await _post(url, request, "sim-key-refused")
    assert status == status_again == 404 and again == first
    assert headers["Idempotent-Replayed"] == "true"
    status, _, _ = await _post(url, {"subject": "no order"}, "sim-key-malformed")
    assert status == 400
    status, _, _ = await _post(url, request, "sim-key-malformed")
    assert status == 404  # carried out: the malformed try did not take the key


async def test_keys_expire_after_a_day_by_the_sources_clock(cluster, clock, used):
    _, request = _ticket_request(cluster, used)
    url = f"{cluster.urls['ticketing']}/tickets"
    status, first, _ = await _post(url, request, "sim-key-expiring")
    try:
        clock.current += KEEP - timedelta(seconds=1)
        status, again, headers = await _post(url, request, "sim-key-expiring")
        assert again == first and headers["Idempotent-Replayed"] == "true"
        clock.current += timedelta(seconds=2)
        status, later, headers = await _post(url, request, "sim-key-expiring")
        assert status == 201 and "Idempotent-Replayed" not in headers
        assert later["id"] != first["id"]
    finally:
        clock.current = FIXED_NOW


async def test_the_simulated_oms_cancel_honours_the_key(cluster, used):
    order, line_id = next((o, li) for o, li in _cancellable_orders(cluster) if o.id not in used)
    used.add(order.id)
    url = f"{cluster.urls['oms']}/orders/{order.id}/cancel"
    request = {"reason": "CUSTOMER", "lines": [{"lineId": line_id, "quantity": 1}]}
    status, first, _ = await _post(url, request, "sim-cancel-1")
    status_again, again, headers = await _post(url, request, "sim-cancel-1")
    assert status == status_again == 200 and again == first
    assert headers["Idempotent-Replayed"] == "true"
    line = next(li for li in cluster.dataset.orders[order.id].lines if li.id == line_id)
    assert line.quantities.cancelled == 1


def test_the_contracts_document_the_key_on_every_change_endpoint():
    changes = {
        "oms": [("/orders/{id}/cancel", "200"), ("/orders/{id}/shipping-address", "200")],
        "ticketing": [("/tickets", "201"), ("/tickets/{id}/comments", "201")],
    }
    for source, endpoints in changes.items():
        paths = build_document(source)["paths"]
        for path, success in endpoints:
            post = paths[path]["post"]
            assert HEADER in [p["name"] for p in post["parameters"] if p["in"] == "header"]
            assert REPLAYED in post["responses"][success]["headers"]
            assert "IDEMPOTENCY_KEY_REUSED" in post["responses"]["422"]["description"]
            assert "IDEMPOTENCY_IN_PROGRESS" in post["responses"]["409"]["description"]


# run_once against a claim store that fails at one step.


class FailingStore(MemoryBackend):
    """A memory backend whose strict calls of one kind fail, as Redis's do when down."""

    def __init__(self, failing: str) -> None:
        super().__init__()
        self.failing = failing

    async def claim_once(self, key: str, ttl_s: float) -> Claim | None:
        if self.failing == "claim":
            raise CacheUnavailable("down")
        return await super().claim_once(key, ttl_s)

    async def get_many(self, keys: Sequence[str], *, strict: bool = False) -> list[bytes | None]:
        if self.failing == "read":  # as Redis answers when in trouble: a miss, or a refusal
            if strict:
                raise CacheUnavailable("down")
            return [None] * len(keys)
        return await super().get_many(keys, strict=strict)

    async def set_many(
        self,
        entries: Sequence[tuple[str, bytes, float]],
        tags: Mapping[str, Sequence[str]],
        *,
        strict: bool = False,
    ) -> None:
        if self.failing == "outcome" and strict:
            raise CacheUnavailable("down")
        await super().set_many(entries, tags, strict=strict)


async def test_no_recorded_claim_runs_nothing():
    runs: list[int] = []

    async def compute() -> bytes:
        runs.append(1)
        return b"done"

    with pytest.raises(ClaimUnavailable) as refused:
        await run_once(FailingStore("claim"), "k", compute, wait_s=1.0)
    assert refused.value.extensions == {
        "code": "SERVICE_UNAVAILABLE",
        "retryable": True,
        "retryAfter": 1,
    }
    assert runs == []


async def test_an_outcome_that_cannot_be_kept_is_answered_and_logged(caplog):
    store = FailingStore("outcome")

    async def compute() -> bytes:
        return b"done"

    with caplog.at_level(logging.WARNING, logger="ordergraph.idempotency"):
        assert await run_once(store, "k", compute, wait_s=1.0) == b"done"
    assert "outcome not kept" in caplog.text
    # The claim was released: a repeat may claim again (and reach the source, which
    # replays its answer for the same key).
    assert await store.claim_once("og:idem:k:lock", 1) is not None


async def test_an_outcome_that_cannot_be_read_is_never_made_again():
    """The first request's outcome is kept, but the store cannot read it now: a repeat
    that takes the claim must not take "no answer" for "no outcome" and run again."""
    store = FailingStore("read")
    await MemoryBackend.set_many(store, [("og:idem:k", b"first", 60)], {})
    runs: list[int] = []

    async def compute() -> bytes:
        runs.append(1)
        return b"second"

    with pytest.raises(ClaimUnavailable):
        await run_once(store, "k", compute, wait_s=1.0)
    assert runs == []
    assert await store.claim_once("og:idem:k:lock", 1) is not None  # the claim was released


async def test_a_claim_held_elsewhere_is_a_retryable_in_progress():
    store = MemoryBackend()
    await store.claim_once("og:idem:k:lock", 60)  # another request's claim

    async def compute() -> bytes:
        raise AssertionError("must not run while another request holds the claim")

    with pytest.raises(InProgress) as running:
        await run_once(store, "k", compute, wait_s=0.0)
    assert running.value.extensions == {"code": "IDEMPOTENCY_IN_PROGRESS", "retryable": True}


async def test_a_waiter_runs_the_request_itself_when_the_first_keeps_nothing():
    """The first request's answer is not kept (it raised: a refusal of its input, say):
    a repeat waiting on its claim takes the claim then and runs, not IN_PROGRESS."""
    store = MemoryBackend()
    started, release = asyncio.Event(), asyncio.Event()

    async def refused() -> bytes:
        started.set()
        await release.wait()
        raise LookupError("answered, not kept")

    async def compute() -> bytes:
        return b"done"

    first = asyncio.create_task(run_once(store, "k", refused, wait_s=1.0))
    await started.wait()
    second = asyncio.create_task(run_once(store, "k", compute, wait_s=5.0))
    await asyncio.sleep(0)  # the second finds the claim held, and waits
    assert not second.done()
    release.set()
    with pytest.raises(LookupError):
        await first
    assert await second == b"done"
