"""A live subscription when the change feed loses a change: instance B's pub/sub
connection is killed, and a change is announced by instance A before B is back. Once
B's listener is back it cannot know what it missed, so its subscriptions read their
order again: the subscriber still gets the order as it is now."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from gql.transport.exceptions import TransportQueryError
from redis.asyncio import Redis

from resolvers.relay import to_global_id
from sim.cluster import start_cluster
from sources.events import ChangeEvent, EventType
from tests.support.cache_changes import SECRET, shared_cache_settings
from tests.support.deliveries import deliver, in_transit
from tests.support.gateways import gateway_at, in_process_gateway, running_gateway
from tests.support.live_clients import ORDER_UPDATED, subscribe, within, ws_client
from tests.support.redis_server import RedisServer
from tests.support.timing import HANG_S
from tests.support.waiting import eventually


async def test_a_subscriber_gets_a_change_its_instance_did_not_hear(make_dataset):
    dataset = make_dataset(orders=60)  # its own: the carrier's data changes
    order, number = in_transit(dataset)
    redis = RedisServer()
    await redis.start()
    try:
        async with (
            await start_cluster(dataset) as sim,  # it sends no webhooks: the test does
            Redis.from_url(redis.url) as admin,
        ):
            settings = shared_cache_settings(sim.urls, redis.url)
            async with (
                in_process_gateway(settings) as a,
                running_gateway(settings) as b,
                ws_client(b.url, None) as watcher,
            ):
                updates = subscribe(watcher, ORDER_UPDATED, {"id": to_global_id("Order", order.id)})
                first = await within(updates, HANG_S)
                assert first["orderUpdated"]["customerStatus"] == "SHIPPED"
                # Drop every pub/sub connection and keep them away (no SUBSCRIBE) until
                # the change is announced.
                await admin.execute_command("ACL", "SETUSER", "default", "-subscribe")
                await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
                url = f"{sim.urls['carrier']}/admin/trackings/{number}/advance"
                async with a.session.post(url) as moved:
                    assert moved.status == 200
                event = ChangeEvent(
                    type=EventType.TRACKING_UPDATED,
                    occurred_at=datetime.now(UTC),
                    tracking_number=number,
                )
                status, answer = await deliver(a, "carrier", event, SECRET)
                assert status == 200, answer  # deleted and announced: to no one
                await admin.execute_command("ACL", "SETUSER", "default", "+subscribe")
                pushed = await within(updates, HANG_S)
                assert pushed["orderUpdated"]["customerStatus"] == "OUT_FOR_DELIVERY"
    finally:
        await redis.stop()


async def test_an_exception_subscriber_whose_instance_may_have_missed_some_is_told(make_dataset):
    """Raised announcements sent while B's pub/sub was away never reach it, and B
    cannot know which: each orderExceptionRaised subscription there ends with the
    retryable SUBSCRIBER_BEHIND, and the client re-reads the queue."""
    redis = RedisServer()
    await redis.start()
    try:
        async with (
            await start_cluster(make_dataset(orders=60)) as sim,
            Redis.from_url(redis.url) as admin,
        ):
            settings = shared_cache_settings(sim.urls, redis.url)
            b_state = gateway_at(settings)
            async with (
                running_gateway(settings, gateway=b_state) as b,
                ws_client(b.url, None) as console,
            ):
                raised = subscribe(
                    console, "subscription { orderExceptionRaised { order { id } } }", {}
                )
                ended = asyncio.create_task(anext(raised))
                hub = b_state.live.raised
                await eventually(lambda: len(hub.watches) == 1, "the subscription runs")
                await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
                with pytest.raises(TransportQueryError) as told:
                    await asyncio.wait_for(ended, HANG_S)
                (error,) = told.value.errors
                assert error["extensions"] == {"code": "SUBSCRIBER_BEHIND", "retryable": True}
                assert not hub.watches
    finally:
        await redis.stop()
