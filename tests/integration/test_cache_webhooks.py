"""Change events through the gateway's ``POST /webhooks/{source}`` on a real
redis-server: secrets rotate, and an event Redis cannot apply is refused (503) without
being marked seen, so the sender's retry applies it. (Each kind of event, sent by the
sources to a served gateway, making the next query read the changed source again:
tests/e2e/test_cache_webhooks_delivered.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from sources.events import ChangeEvent, EventType
from sources.webhooks import generate_secret, new_msg_id
from tests.support.cache_changes import NO_REQUESTS, SECRET
from tests.support.deliveries import deliver, in_transit
from tests.support.gateways import (
    FIXED_NOW,
    in_process_gateway,
    settings_for,
)
from tests.support.queries import ORDER_BY_NUMBER
from tests.support.redis_server import RedisServer


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
        assert (status, answer["status"], answer["code"]) == (200, "duplicate", "WEBHOOK_REPLAYED")


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
        assert await stats.requests() == NO_REQUESTS | {"carrier": 1}
        status, answer = await deliver(gateway, "carrier", event, SECRET, msg_id=msg_id)
        assert (status, answer["status"]) == (200, "duplicate")


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
        assert (status, answer["status"], answer["code"]) == (200, "duplicate", "WEBHOOK_REPLAYED")


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
