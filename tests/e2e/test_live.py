"""Live updates on two gateway instances sharing one Redis: a change delivered as a
webhook to instance A is pushed to subscribers on instance B, over graphql-transport-ws
(the gql client) and server-sent events (httpx-sse); other tenants get nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from gql.transport.exceptions import TransportQueryError

from domain.queue_entries import RaisedExceptions
from gateway.app import Components
from gateway.auth.keys import key_id_in
from resolvers.live import QUEUE_SIZE
from resolvers.relay import to_global_id
from sim.cluster import SimCluster
from sim.seed import Dataset
from sources.clients.http import SourceClient
from sources.records import Order
from sources.resilience.breaker import CircuitBreaker
from sources.webhooks import generate_secret
from tests.support.gateways import (
    FIXED_NOW,
    RunningGateway,
    changing_sources,
    gateway_at,
    running_gateway,
)
from tests.support.live_clients import ORDER_UPDATED, sse_stream, subscribe, within, ws_client
from tests.support.secured import TENANT_A, TENANT_B, secured_settings
from tests.support.timing import HANG_S
from tests.support.waiting import eventually

SECRET = generate_secret()


@dataclass
class Live:
    cluster: SimCluster
    a: RunningGateway  # receives the sources' webhooks
    b: RunningGateway
    keys: dict[str, str]
    a_state: Components
    b_state: Components

    @property
    def dataset(self) -> Dataset:
        return self.cluster.dataset


@pytest_asyncio.fixture(scope="module")
async def live(make_dataset, tmp_path_factory) -> AsyncIterator[Live]:
    dataset = make_dataset(seed=11, now=FIXED_NOW)  # its own: the sources' data changes
    async with changing_sources(dataset, SECRET) as (cluster, redis, sock):
        settings, keys = await secured_settings(
            cluster.urls,
            tmp_path_factory.mktemp("live-keys"),
            cache_url=redis.url,
            webhook_secrets=[SECRET],
            exception_queue=True,
        )
        first, second = gateway_at(settings), gateway_at(settings)
        async with (
            running_gateway(settings, sock, gateway=first) as a,
            running_gateway(settings, gateway=second) as b,
        ):
            indexes = [state.exception_index for state in (first, second)]
            await eventually(  # nothing is raised before the queue is filled once
                lambda: sum(index.sweeper.completed for index in indexes if index) > 0,
                "a sweep finished",
                timeout_s=30,
            )
            yield Live(cluster, a, b, keys, first, second)


def _orders_in_transit(dataset: Dataset, account: str) -> list[Order]:
    """Orders of ``account`` with one parcel in transit and a live carrier record."""
    return [
        order
        for order_id, scenario in dataset.scenarios.items()
        if scenario == "in_transit"
        and (order := dataset.orders[order_id]).account_id == account
        and len(order.shipments) == 1
        and order.shipments[0].tracking_number in dataset.trackings
    ]


def _gid(order: Order) -> str:
    return to_global_id("Order", order.id)


async def _advance(live: Live, order: Order, **body: str) -> float:
    """Move the order's parcel on at the carrier (which sends its webhook to A); when."""
    number = order.shipments[0].tracking_number
    url = f"{live.cluster.urls['carrier']}/admin/trackings/{number}/advance"
    async with live.a.session.post(url, json=body) as resp:
        assert resp.status == 200, await resp.text()
        return time.monotonic()


async def test_a_webhook_to_a_reaches_a_subscriber_on_b_within_a_second(live):
    mine = _orders_in_transit(live.dataset, TENANT_A)[0]
    theirs = _orders_in_transit(live.dataset, TENANT_B)[0]
    async with (
        ws_client(live.b.url, live.keys["app_a"]) as watcher,
        ws_client(live.b.url, live.keys["app_b"]) as stranger,
    ):
        updates = subscribe(watcher, ORDER_UPDATED, {"id": _gid(mine)})
        others = subscribe(stranger, ORDER_UPDATED, {"id": _gid(theirs)})
        first = await within(updates, 5)
        assert first["orderUpdated"]["customerStatus"] == "SHIPPED"
        assert (await within(others, 5))["orderUpdated"]["number"] == theirs.number

        changed_at = await _advance(live, mine)
        pushed = await within(updates, 1.0)
        latency = time.monotonic() - changed_at
        assert pushed["orderUpdated"]["customerStatus"] == "OUT_FOR_DELIVERY"
        tracking = pushed["orderUpdated"]["shipments"][0]["tracking"]
        assert tracking["status"] == "OUT_FOR_DELIVERY"
        assert latency < 1.0
        # The other tenant's subscriber hears nothing of it.
        with pytest.raises(TimeoutError):
            await within(others, 1.0)


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("app_b", "NOT_FOUND"),  # another tenant's order is as absent as a missing one
        ("tickets_only", "FORBIDDEN"),  # no orders:read
        ("partner_a", "PERSISTED_QUERY_REQUIRED"),  # partners run trusted documents only
    ],
)
async def test_a_subscription_is_refused_with_a_code(live, key, code):
    order = _orders_in_transit(live.dataset, TENANT_A)[1]
    async with ws_client(live.b.url, live.keys[key]) as session:
        with pytest.raises(TransportQueryError) as refused:
            await within(subscribe(session, ORDER_UPDATED, {"id": _gid(order)}), 5)
    assert refused.value.errors[0]["extensions"]["code"] == code


async def test_server_sent_events_carry_the_same_updates(live):
    order = _orders_in_transit(live.dataset, TENANT_A)[2]
    payload = {"query": ORDER_UPDATED, "variables": {"id": _gid(order)}}
    async with sse_stream(live.b.url, payload, live.keys["app_a"]) as events:
        kind, first = await within(events, 5)
        assert kind == "next" and first["data"]["orderUpdated"]["customerStatus"] == "SHIPPED"
        changed_at = await _advance(live, order)
        kind, pushed = await within(events, 1.0)
        assert time.monotonic() - changed_at < 1.0
    assert kind == "next"
    assert pushed["data"]["orderUpdated"]["customerStatus"] == "OUT_FOR_DELIVERY"


async def test_every_event_of_an_event_stream_calls_the_sources_for_its_key(live, monkeypatch):
    """Each event is a request of the subscriber's key, the later ones too (an event
    stream runs each in a task of its own): its upstream calls pass the key's own
    breaker, and count on the source's shared one as that key's, never in full."""
    order = _orders_in_transit(live.dataset, TENANT_A)[5]
    carrier = live.b_state.cached.upstreams.carrier
    assert isinstance(carrier, SourceClient)
    breakers, callers = carrier.caller_breakers, []
    real_of = breakers.of

    def spy(caller: str) -> CircuitBreaker:  # consulted for every call made for a key
        callers.append(caller)
        return real_of(caller)

    monkeypatch.setattr(breakers, "of", spy)
    payload = {"query": ORDER_UPDATED, "variables": {"id": _gid(order)}}
    async with sse_stream(live.b.url, payload, live.keys["app_a"]) as events:
        kind, first = await within(events, 5)
        assert kind == "next" and first["data"]["orderUpdated"]["customerStatus"] == "SHIPPED"
        callers.clear()
        await _advance(live, order)  # its tracking is read again, from the carrier
        kind, pushed = await within(events, 5)
    assert kind == "next"
    assert pushed["data"]["orderUpdated"]["customerStatus"] == "OUT_FOR_DELIVERY"
    assert callers and set(callers) == {key_id_in(live.keys["app_a"])}


async def test_a_query_over_sse_is_one_event_then_complete(live):
    order = _orders_in_transit(live.dataset, TENANT_A)[2]
    payload = {
        "query": "query($n: String!) { orderByNumber(number: $n) { number } }",
        "variables": {"n": order.number},
    }
    async with sse_stream(live.a.url, payload, live.keys["app_a"]) as events:
        received = [event async for event in events]
    assert received == [("next", {"data": {"orderByNumber": {"number": order.number}},
                                  "extensions": received[0][1]["extensions"]}),
                        ("complete", None)]  # fmt: skip


async def test_a_refused_stream_is_a_plain_json_error(live):
    order = _orders_in_transit(live.dataset, TENANT_A)[2]
    payload = {"query": ORDER_UPDATED, "variables": {"id": _gid(order)}}
    headers = {"accept": "text/event-stream"}
    async with live.a.session.post(f"{live.a.url}/graphql", json=payload, headers=headers) as resp:
        assert resp.status == 401
        assert (await resp.json())["errors"][0]["extensions"]["code"] == "API_KEY_MISSING"


async def test_a_subscription_over_plain_http_is_refused(live):
    order = _orders_in_transit(live.dataset, TENANT_A)[2]
    headers = {"authorization": f"Bearer {live.keys['app_a']}"}
    payload = {"query": ORDER_UPDATED, "variables": {"id": _gid(order)}}
    async with live.a.session.post(f"{live.a.url}/graphql", json=payload, headers=headers) as resp:
        assert resp.status == 400
        body = await resp.json()
    assert body["errors"][0]["extensions"]["code"] == "SUBSCRIPTION_NEEDS_STREAM"


async def test_queries_run_over_the_websocket_too(live):
    order = _orders_in_transit(live.dataset, TENANT_A)[2]
    query = "query($n: String!) { orderByNumber(number: $n) { number } }"
    async with ws_client(live.b.url, live.keys["app_a"]) as session:
        results = [r async for r in subscribe(session, query, {"n": order.number})]
    assert results == [{"orderByNumber": {"number": order.number}}]


async def test_completing_a_subscription_stops_it_and_frees_its_slot(live):
    order = _orders_in_transit(live.dataset, TENANT_A)[3]
    async with ws_client(live.b.url, live.keys["app_a"]) as session:
        for _ in range(3):
            updates = subscribe(session, ORDER_UPDATED, {"id": _gid(order)})
            await within(updates, 5)
            await updates.aclose()  # gql sends `complete`
        await eventually(
            lambda: not live.b_state.live.changes.watches,
            "the completed subscriptions stop watching",
            timeout_s=HANG_S,
        )
        updates = subscribe(session, ORDER_UPDATED, {"id": _gid(order)})
        assert (await within(updates, 5))["orderUpdated"]["number"] == order.number
        assert live.b_state.live.changes.watches  # this one is watching
        await updates.aclose()
    await eventually(
        lambda: not live.b_state.live.changes.watches,
        "nothing keeps watching once the clients are gone",
        timeout_s=2,
    )


EXCEPTION_RAISED = """subscription Raised($filter: ExceptionQueueFilter) {
  orderExceptionRaised(filter: $filter) {
    order { id number health }
    exceptions { code severity customerMessage subject { kind id } }
    raisedAt
} }"""


async def test_a_failed_delivery_raises_an_exception_for_consoles_on_every_instance(live):
    order = _orders_in_transit(live.dataset, TENANT_A)[4]
    attempted = {"filter": {"codes": ["DELIVERY_ATTEMPTED"]}}
    async with (
        ws_client(live.b.url, live.keys["console"]) as console,
        ws_client(live.b.url, live.keys["console"]) as narrow,
        ws_client(live.a.url, live.keys["queue_b"]) as stranger,
    ):
        raised = asyncio.create_task(anext(subscribe(console, EXCEPTION_RAISED, attempted)))
        other_code = {"filter": {"codes": ["LOST_OR_DAMAGED"]}}
        unrelated = asyncio.create_task(anext(subscribe(narrow, EXCEPTION_RAISED, other_code)))
        theirs = asyncio.create_task(anext(subscribe(stranger, EXCEPTION_RAISED, {})))
        on_a, on_b = live.a_state.live.raised, live.b_state.live.raised
        await eventually(
            lambda: len(on_a.watches) >= 1 and len(on_b.watches) >= 2,
            "the three subscriptions are running",
            timeout_s=HANG_S,
        )
        changed_at = await _advance(live, order, status="DELIVERY_ATTEMPTED")
        pushed = (await asyncio.wait_for(raised, 3))["orderExceptionRaised"]
        latency = time.monotonic() - changed_at
        # A later exception that both other subscriptions hear: every instance hears the
        # raised exceptions in order, so anything the first one brought them came before.
        lost = _orders_in_transit(live.dataset, TENANT_B)[1]
        await _advance(live, lost, status="EXCEPTION", subtag="Exception_013")
        for later in (unrelated, theirs):
            told = (await asyncio.wait_for(later, HANG_S))["orderExceptionRaised"]
            assert told["order"]["number"] == lost.number, told
    assert pushed["order"]["number"] == order.number
    assert pushed["order"]["health"] == "ACTION_REQUIRED"
    codes = [e["code"] for e in pushed["exceptions"]]
    assert codes == ["DELIVERY_ATTEMPTED"]
    assert pushed["exceptions"][0]["customerMessage"]
    assert latency < 2.0


async def test_a_raised_burst_beyond_the_buffer_ends_the_subscription_retryably(live):
    """Each announcement is another order: a subscriber that falls more than the
    buffer behind is not left to miss some silently, its subscription ends with a
    retryable SUBSCRIBER_BEHIND (the client subscribes again and re-reads the queue)."""
    index = live.b_state.exception_index
    assert index is not None
    entries = await index.store.every_entry()
    burst = [
        RaisedExceptions(
            order_id=entry.order_id,
            account_id=entry.account_id,
            exceptions=entry.exceptions,
            raised_at=entry.evaluated_at,
        )
        for entry in entries[: QUEUE_SIZE + 16]
    ]
    assert len(burst) > QUEUE_SIZE  # more than the subscriber's buffer holds
    hub = live.b_state.live.raised
    told: list[dict] = []
    async with ws_client(live.b.url, live.keys["console"]) as console:
        stream = subscribe(console, "subscription { orderExceptionRaised { order { id } } }", {})
        first = asyncio.create_task(anext(stream))
        await eventually(lambda: len(hub.watches) == 1, "the subscription runs", timeout_s=HANG_S)
        for raised in burst:  # as the feed hands them on, faster than they are read
            await hub.publish(raised)
        with pytest.raises(TransportQueryError) as ended:
            told.append(await asyncio.wait_for(first, HANG_S))
            while len(told) < len(burst):  # without an end, every one must be told
                told.append(await within(stream, HANG_S))
    (error,) = ended.value.errors
    assert error["extensions"] == {"code": "SUBSCRIBER_BEHIND", "retryable": True}, error
    assert len(told) < len(burst)
    assert not hub.watches  # it stopped watching as it fell behind
