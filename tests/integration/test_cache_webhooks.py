"""Change events through the gateway's ``POST /webhooks/{source}`` on a real
redis-server: each kind of event makes the next query read the changed source again,
secrets rotate, and an event Redis cannot apply is refused (503) without being
marked seen, so the sender's retry applies it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis

from sim.seed import Dataset
from sources.events import ChangeEvent, EventType
from sources.records import Order, TicketStatus
from sources.webhooks import generate_secret, new_msg_id
from tests.support.deliveries import deliver, in_transit
from tests.support.gateways import (
    FIXED_NOW,
    RunningGateway,
    SourceStats,
    changing_sources,
    in_process_gateway,
    running_gateway,
    settings_for,
)
from tests.support.queries import ORDER_BY_NUMBER
from tests.support.redis_server import RedisServer

SECRET = generate_secret()
NOTHING = {"oms": 0, "inventory": 0, "carrier": 0, "ticketing": 0}


@pytest.fixture
async def own_redis() -> AsyncIterator[tuple[RedisServer, Redis]]:
    """A redis-server of the test's own (free to stop or lock down) and a client on it
    as a user of its own, which the gateway's (``default``) lock-downs do not touch."""
    server = RedisServer()
    await server.start()
    setup = Redis.from_url(server.url)
    await setup.execute_command("ACL", "SETUSER", "admin", "on", "nopass", "allkeys", "+@all")
    await setup.aclose()
    admin = Redis.from_url(server.url, username="admin")
    try:
        yield server, admin
    finally:
        await admin.aclose()
        await server.stop()


def _tracking_event(number: str) -> ChangeEvent:
    return ChangeEvent(
        type=EventType.TRACKING_UPDATED, occurred_at=FIXED_NOW, tracking_number=number
    )


async def test_an_event_while_redis_is_down_is_refused_and_its_retry_applies(
    sim, dataset, own_redis
):
    server, _ = own_redis
    order, number = in_transit(dataset)
    event, msg_id = _tracking_event(number), new_msg_id()
    settings = settings_for(sim.urls, cache_url=server.url, webhook_secrets=[SECRET])
    async with in_process_gateway(settings) as gateway:
        await gateway.query(ORDER_BY_NUMBER, {"number": order.number})
        await server.stop()
        status, answer = await deliver(gateway, "carrier", event, SECRET, msg_id=msg_id)
        assert (status, answer["code"]) == (503, "WEBHOOK_NOT_APPLIED")

        await server.start()
        status, answer = await deliver(gateway, "carrier", event, SECRET, msg_id=msg_id)
        assert (status, answer["status"]) == (200, "applied")
        status, answer = await deliver(gateway, "carrier", event, SECRET, msg_id=msg_id)
        assert (status, answer["code"]) == (409, "WEBHOOK_REPLAYED")


async def test_an_event_redis_refuses_to_invalidate_is_released_for_the_retry(
    sim, dataset, stats, own_redis
):
    server, admin = own_redis
    order, number = in_transit(dataset)
    event, msg_id = _tracking_event(number), new_msg_id()
    # No in-process copies: every read goes to Redis, so what it holds is what is served.
    settings = settings_for(
        sim.urls, cache_url=server.url, webhook_secrets=[SECRET], cache_local_ttl_ms=0
    )
    async with in_process_gateway(settings) as gateway:
        await gateway.query(ORDER_BY_NUMBER, {"number": order.number})
        warm = set(await admin.keys("og:*"))
        # The gateway may still claim event ids, but not touch the cache's tag indexes:
        # the claim succeeds, the invalidation fails.
        await admin.execute_command("ACL", "SETUSER", "default", "resetkeys", "~og:webhook:*")
        status, answer = await deliver(gateway, "carrier", event, SECRET, msg_id=msg_id)
        assert (status, answer["code"]) == (503, "WEBHOOK_NOT_APPLIED")
        assert set(await admin.keys("og:*")) == warm  # the claim is gone, nothing deleted

        await admin.execute_command("ACL", "SETUSER", "default", "allkeys")
        status, _ = await deliver(gateway, "carrier", event, SECRET, msg_id=msg_id)
        assert status == 200
        await stats.reset()
        await gateway.query(ORDER_BY_NUMBER, {"number": order.number})
        assert await stats.requests() == NOTHING | {"carrier": 1}
        status, _ = await deliver(gateway, "carrier", event, SECRET, msg_id=msg_id)
        assert status == 409


async def test_an_event_another_delivery_is_applying_is_answered_retry_later(
    sim, dataset, own_redis
):
    server, admin = own_redis
    _, number = in_transit(dataset)
    event, msg_id = _tracking_event(number), new_msg_id()
    settings = settings_for(sim.urls, cache_url=server.url, webhook_secrets=[SECRET])
    async with in_process_gateway(settings) as gateway:
        # Another instance holds the claim (its token) and has not finished applying.
        await admin.set(f"og:webhook:{msg_id}", "another-instance", px=10_000)
        status, answer = await deliver(gateway, "carrier", event, SECRET, msg_id=msg_id)
        assert (status, answer["code"]) == (503, "WEBHOOK_IN_PROGRESS")
        await admin.set(f"og:webhook:{msg_id}", "applied", px=10_000)  # it finished
        status, answer = await deliver(gateway, "carrier", event, SECRET, msg_id=msg_id)
        assert (status, answer["code"]) == (409, "WEBHOOK_REPLAYED")


async def test_both_secrets_of_a_rotation_are_accepted_and_no_other(sim, dataset, redis_server):
    old, new, other = generate_secret(), generate_secret(), generate_secret()
    _, number = in_transit(dataset)
    event = _tracking_event(number)
    settings = settings_for(sim.urls, cache_url=redis_server.url, webhook_secrets=[old, new])
    async with in_process_gateway(settings) as gateway:
        assert (await deliver(gateway, "carrier", event, old))[0] == 200
        assert (await deliver(gateway, "carrier", event, new))[0] == 200
        status, answer = await deliver(gateway, "carrier", event, other)
    assert (status, answer["code"]) == (401, "WEBHOOK_SIGNATURE_INVALID")


CHANGE_VIEW = """query($n: String!) { orderByNumber(number: $n) {
  updatedAt customerStatus
  lineItems { availability { available } }
  tickets { status }
} }"""


def _changeable(dataset: Dataset) -> Order:
    """An order every change below applies to: nothing shipped (cancellable), stock
    known for its lines, and a ticket still NEW or OPEN."""
    return next(
        order
        for order in dataset.orders.values()
        if order.cancelled_at is None
        and not any(line.quantities.shipped for line in order.lines)
        and all(line.sku in dataset.inventory for line in order.lines)
        and any(t.status in (TicketStatus.NEW, TicketStatus.OPEN) for t in _tickets(dataset, order))
    )


def _tickets(dataset: Dataset, order: Order) -> list[Any]:
    return dataset.tickets.get(order.id, [])


@dataclass(frozen=True)
class Change:
    """An admin change at ``source`` (which then sends its change event), and how the
    order's view shows it."""

    source: str
    path: Callable[[Dataset, Order], str]
    body: Callable[[Dataset, Order], dict[str, Any]]
    shows: Callable[[dict[str, Any], dict[str, Any]], bool]  # (before, after)


def _open_ticket(dataset: Dataset, order: Order) -> str:
    return next(
        t.id for t in _tickets(dataset, order) if t.status in (TicketStatus.NEW, TicketStatus.OPEN)
    )


def _first_level(dataset: Dataset, order: Order) -> Any:
    return dataset.inventory[order.lines[0].sku].levels[0]


def _statuses(view: dict[str, Any]) -> list[str]:
    return [ticket["status"] for ticket in view["tickets"]]


CHANGES = {
    "order updated": Change(
        "oms",
        lambda _, order: f"/admin/orders/{order.id}/touch",
        lambda _d, _o: {},
        lambda before, after: after["updatedAt"] > before["updatedAt"],
    ),
    "order cancelled": Change(
        "oms",
        lambda _, order: f"/admin/orders/{order.id}/cancel",
        lambda _d, _o: {"reason": "STAFF"},
        lambda _, after: after["customerStatus"] == "CANCELLED",
    ),
    "inventory changed": Change(
        "inventory",
        lambda _, order: f"/admin/inventory/{order.lines[0].sku}",
        lambda data, order: {
            "locationId": _first_level(data, order).location_id,
            "available": _first_level(data, order).available + 7,
        },
        lambda before, after: (
            after["lineItems"][0]["availability"]["available"]
            == before["lineItems"][0]["availability"]["available"] + 7
        ),
    ),
    "ticket updated": Change(
        "ticketing",
        lambda data, order: f"/admin/tickets/{_open_ticket(data, order)}",
        lambda _d, _o: {"status": "PENDING"},
        lambda before, after: (
            _statuses(after).count("PENDING") == _statuses(before).count("PENDING") + 1
        ),
    ),
}


async def _view(gateway: RunningGateway, order: Order) -> dict[str, Any]:
    body = await gateway.query(CHANGE_VIEW, {"n": order.number})
    assert "errors" not in body, body
    return body["data"]["orderByNumber"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", CHANGES)
async def test_a_change_event_makes_the_next_query_read_the_changed_source_again(
    make_dataset, name
):
    change, dataset = CHANGES[name], make_dataset()
    order = _changeable(dataset)
    path, body = change.path(dataset, order), change.body(dataset, order)
    async with changing_sources(dataset, SECRET) as (cluster, server, sock):
        counters = SourceStats(cluster.urls)
        settings = settings_for(cluster.urls, cache_url=server.url, webhook_secrets=[SECRET])
        async with running_gateway(settings, sock) as gateway:
            before = await _view(gateway, order)
            await counters.reset()
            # The source changes, then sends its signed change event to the gateway.
            async with gateway.session.post(cluster.urls[change.source] + path, json=body) as r:
                assert r.status == 200, await r.text()
            started = time.monotonic()
            while not change.shows(before, after := await _view(gateway, order)):
                assert time.monotonic() - started < 1.0, f"{name}: still {after}"
                await asyncio.sleep(0.02)
            # Until the event landed, queries were served warm; then exactly the changed
            # source was read again, once.
            assert await counters.requests() == NOTHING | {change.source: 1}
