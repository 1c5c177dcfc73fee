"""The response cache (``OG_RESPONSE_CACHE``): whole answers of queries, never shared
across what callers may see, dropped on every instance by the change events that drop
what they read, and never kept when stale, partial, failed or a mutation's."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from prometheus_client import REGISTRY

from gateway.response_cache import HIT_REPORT, ResponseCache
from resolvers.relay import to_global_id
from sim.faults import FaultSpec
from sources.adapters.registry import Upstreams
from sources.cache.invalidations import Invalidations
from sources.cache.memory_backend import MemoryBackend
from sources.cache.through import CacheCounts
from sources.cache.upstreams import INVALIDATION_CHANNEL, CachedUpstreams, ChangeNotice
from sources.clock import SYSTEM_CLOCK
from sources.events import ChangeEvent, EventType
from sources.options import SourceConfig, default_policy
from sources.webhooks import generate_secret
from tests.support.deliveries import deliver, in_transit
from tests.support.gateways import (
    FIXED_NOW,
    MakeDataset,
    RunningGateway,
    SourceStats,
    changing_sources,
    in_process_gateway,
    running_gateway,
    settings_for,
)
from tests.support.queries import CANCEL, ORDER_BY_NUMBER
from tests.support.secured import MANIFEST, ORDER_VIEW, secured_gateway

SECRET = generate_secret()
NOTHING = {"oms": 0, "inventory": 0, "carrier": 0, "ticketing": 0}
VIEW = """query View($n: String!) { orderByNumber(number: $n) {
  number updatedAt lineItems { sku availability { available } }
} }"""
LIST = "query List { orders(first: 5) { nodes { id number updatedAt } } }"


def _hit(body: dict[str, Any]) -> bool:
    return body.get("extensions", {}).get("cache") == HIT_REPORT


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _on(urls: dict[str, str], **options: Any) -> Any:
    return settings_for(urls, response_cache=True, **options)


async def test_a_repeated_query_is_answered_from_the_cache_without_reading_anything(
    sim, dataset, stats
):
    order, _ = in_transit(dataset)
    counted = {o: _metric("og_response_cache_total", outcome=o) for o in ("hit", "store")}
    async with in_process_gateway(_on(sim.urls)) as gateway:
        first = await gateway.query(ORDER_BY_NUMBER, {"number": order.number})
        assert "errors" not in first and not _hit(first)
        await stats.reset()
        again = await gateway.query(ORDER_BY_NUMBER, {"number": order.number})
        assert _hit(again)
        for outcome, before in counted.items():
            assert _metric("og_response_cache_total", outcome=outcome) == before + 1
        assert again["data"] == first["data"]
        assert again["extensions"]["cost"] == first["extensions"]["cost"]
        assert await stats.requests() == NOTHING
        # Other variables are another answer.
        other = next(o for o in dataset.orders.values() if o.number != order.number)
        assert not _hit(await gateway.query(ORDER_BY_NUMBER, {"number": other.number}))


async def test_requests_for_an_answer_being_built_wait_for_it(sim, dataset):
    order, _ = in_transit(dataset)
    async with in_process_gateway(_on(sim.urls)) as gateway:
        answers = await asyncio.gather(
            *(gateway.query(ORDER_BY_NUMBER, {"number": order.number}) for _ in range(5))
        )
    assert [_hit(answer) for answer in answers].count(False) == 1
    assert all(answer["data"] == answers[0]["data"] for answer in answers)


async def test_without_the_setting_nothing_is_kept(sim, dataset):
    order, _ = in_transit(dataset)
    async with in_process_gateway(settings_for(sim.urls, response_cache=False)) as gateway:
        await gateway.query(VIEW, {"n": order.number})
        assert not _hit(await gateway.query(VIEW, {"n": order.number}))


async def _post(secured: Any, key: str, payload: dict[str, Any]) -> dict[str, Any]:
    status, body, _ = await secured.post(payload, key=key)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def test_tenants_never_share_an_answer(sim, tmp_path: Path):
    page = {"query": "query Mine { orders(first: 10) { nodes { id number } } }"}
    async with secured_gateway(sim.urls, tmp_path, response_cache=True) as secured:
        a = await _post(secured, "app_a", page)
        assert _hit(await _post(secured, "app_a", page))
        b = await _post(secured, "app_b", page)
        assert not _hit(b)
        assert a["data"]["orders"]["nodes"] and b["data"]["orders"]["nodes"]
        assert not {n["id"] for n in a["data"]["orders"]["nodes"]} & {
            n["id"] for n in b["data"]["orders"]["nodes"]
        }
        # A partner runs the trusted document; an app of the same tenant sending the
        # same document is another class of key, and gets its own answer.
        trusted = {"documentId": "orders-page"}
        partner = await _post(secured, "partner_a", trusted)
        assert _hit(await _post(secured, "partner_a", trusted))
        app = await _post(secured, "app_a", {"query": MANIFEST["orders-page"]})
        assert not _hit(app)
        assert app["data"] == partner["data"]


async def test_an_app_without_pii_never_gets_the_consoles_answer(sim, dataset, tmp_path: Path):
    order, _ = in_transit(dataset)
    view = {"query": ORDER_VIEW, "variables": {"n": order.number}}
    async with secured_gateway(sim.urls, tmp_path, response_cache=True) as secured:
        console = await _post(secured, "console", view)
        assert _hit(await _post(secured, "console", view))
        masked = await _post(secured, "no_pii", view)
        assert not _hit(masked)
        email = console["data"]["orderByNumber"]["customer"]["email"]
        assert email and masked["data"]["orderByNumber"]["customer"]["email"] != email
        assert _hit(await _post(secured, "no_pii", view))


async def _view(gateway: RunningGateway, number: str) -> dict[str, Any]:
    body = await gateway.query(VIEW, {"n": number})
    assert "errors" not in body, body
    return body


CHANGES = {
    # source, admin path, body, what changes in the view
    "order touched": ("oms", "/admin/orders/{id}/touch", {}, "updatedAt"),
    "stock moved": ("inventory", "/admin/inventory/{sku}", None, "available"),
}


@pytest.mark.parametrize("name", CHANGES)
async def test_a_change_event_on_one_instance_drops_the_answer_on_another_within_a_second(
    name: str, make_dataset: MakeDataset
):
    source, path, body, _ = CHANGES[name]
    dataset = make_dataset()
    order, _ = in_transit(dataset)
    sku = order.lines[0].sku
    level = dataset.inventory[sku].levels[0]
    if body is None:
        body = {"locationId": level.location_id, "available": level.available + 7}
    async with changing_sources(dataset, SECRET) as (cluster, server, sock):
        counters = SourceStats(cluster.urls)
        settings = _on(cluster.urls, cache_url=server.url, webhook_secrets=[SECRET])
        # The sources send their events to the first instance; the second serves.
        async with running_gateway(settings, sock), in_process_gateway(settings) as second:
            before = await _view(second, order.number)
            assert _hit(await _view(second, order.number))
            await counters.reset()
            url = cluster.urls[source] + path.format(id=order.id, sku=sku)
            async with second.session.post(url, json=body) as resp:
                assert resp.status == 200, await resp.text()
            started = time.monotonic()
            while (after := await _view(second, order.number))["data"] == before["data"]:
                assert _hit(after)
                assert time.monotonic() - started < 1.0, f"{name}: still {after}"
                await asyncio.sleep(0.02)
            assert not _hit(after)
            # Exactly the changed source was read again: the rest came from the entity cache.
            assert await counters.requests() == NOTHING | {source: 1}
            assert _hit(await _view(second, order.number))


async def test_a_new_or_changed_order_drops_every_list_of_orders(sim, dataset, stats):
    settings = _on(sim.urls, webhook_secrets=[SECRET])
    async with in_process_gateway(settings) as gateway:
        await gateway.query(LIST)
        assert _hit(await gateway.query(LIST))
        # An order no list held yet (a new one) may belong on any list.
        new = ChangeEvent(type=EventType.ORDER_UPDATED, occurred_at=FIXED_NOW, order_id="o-new")
        dropped = _metric("og_response_cache_invalidations_total")
        status, answer = await deliver(gateway, "oms", new, SECRET)
        assert status == 200, answer
        await asyncio.sleep(0.05)  # the notice reaches this instance's listeners as a task
        assert _metric("og_response_cache_invalidations_total") == dropped + 1
        await stats.reset()
        fresh = await gateway.query(LIST)
        assert not _hit(fresh)
        assert (await stats.requests())["oms"] == 1  # the list was read again
        assert _hit(await gateway.query(LIST))
        # A single order's answer is not touched by another order's change.
        order, _ = in_transit(dataset)
        await gateway.query(VIEW, {"n": order.number})
        status, _ = await deliver(gateway, "oms", new, SECRET)
        assert status == 200
        assert _hit(await gateway.query(VIEW, {"n": order.number}))
        assert not _hit(await gateway.query(LIST))


async def test_a_partial_answer_is_not_kept_and_keeps_its_error_codes(sim, dataset):
    order, _ = in_transit(dataset)
    async with in_process_gateway(_on(sim.urls)) as gateway:
        sim.set_faults("inventory", FaultSpec(error_rate=1))
        try:
            answers = [await gateway.query(VIEW, {"n": order.number}) for _ in range(2)]
        finally:
            sim.set_faults("inventory", None)
        for answer in answers:
            assert not _hit(answer)
            codes = {e["extensions"]["code"] for e in answer["errors"]}
            assert codes and codes <= {"SOURCE_UNAVAILABLE", "SOURCE_BAD_RESPONSE"}
            assert answer["data"]["orderByNumber"]["number"] == order.number
        # Once the source answers, the answer is kept.
        assert "errors" not in await gateway.query(VIEW, {"n": order.number})
        assert _hit(await gateway.query(VIEW, {"n": order.number}))


async def test_an_error_answer_is_never_kept(sim):
    async with in_process_gateway(_on(sim.urls)) as gateway:
        for _ in range(2):
            body = await gateway.query(VIEW, {"n": "999999"})
            assert not _hit(body)
            assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]


async def test_an_answer_from_stale_data_is_not_kept(sim, dataset):
    order, _ = in_transit(dataset)
    ageing = {"cache_ttl_ms": 200, "cache_stale_ms": 60_000}
    async with in_process_gateway(_on(sim.urls, source_options=ageing)) as gateway:
        await gateway.query(VIEW, {"n": order.number})
        await asyncio.sleep(0.3)  # the entries and so the answer are past their TTL
        stale = await gateway.query(VIEW, {"n": order.number})
        assert not _hit(stale)
        assert sum(c["stale"] for c in stale["extensions"]["cache"].values()) > 0
        assert not _hit(await gateway.query(VIEW, {"n": order.number}))


async def test_mutations_are_never_kept(sim, dataset):
    order = next(o for o in dataset.orders.values() if o.cancelled_at is not None)
    payload = {"input": {"orderId": to_global_id("Order", order.id), "reason": "CUSTOMER"}}
    async with in_process_gateway(_on(sim.urls)) as gateway:
        first = await gateway.query(CANCEL, payload)
        second = await gateway.query(CANCEL, payload)
    assert "errors" not in first and first["data"]["orderCancel"]["userErrors"]
    assert second["data"] == first["data"] and not _hit(second)


async def test_cache_headers_are_sent_only_when_asked_for(sim, dataset):
    order, _ = in_transit(dataset)
    payload = {"query": VIEW, "variables": {"n": order.number}}
    options = {"response_cache_control": True, "response_cache_tag_headers": True}
    async with in_process_gateway(_on(sim.urls, **options)) as gateway:
        for _ in range(2):
            async with gateway.session.post(f"{gateway.url}/graphql", json=payload) as resp:
                headers = resp.headers
                assert headers["cache-control"].startswith("private, max-age=")
                assert f"order:{order.id}" in headers["cache-tag"].split(",")
                assert f"sku:{order.lines[0].sku}" in headers["surrogate-key"].split(" ")
        missing = {"query": VIEW, "variables": {"n": "999999"}}
        async with gateway.session.post(f"{gateway.url}/graphql", json=missing) as resp:
            assert resp.headers["cache-control"] == "no-store"
            assert "cache-tag" not in resp.headers
    async with (
        in_process_gateway(_on(sim.urls)) as gateway,
        gateway.session.post(f"{gateway.url}/graphql", json=payload) as resp,
    ):
        assert "cache-control" not in resp.headers and "cache-tag" not in resp.headers


async def test_the_memory_backend_is_bounded_in_bytes():
    cache = MemoryBackend(max_bytes=1_000)
    await cache.set_many([(f"k{i}", b"x" * 300, 60.0) for i in range(5)], {"t": ["k4"]})
    kept = [v for v in await cache.get_many([f"k{i}" for i in range(5)]) if v is not None]
    assert len(kept) == 3  # 3 entries of 2 + 300 bytes fit in 1,000; the oldest went
    assert await cache.get_many(["k0", "k4"]) == [None, b"x" * 300]
    await cache.set_many([("big", b"y" * 2_000, 60.0)], {})
    assert await cache.get_many(["big", "k4"]) == [None, b"x" * 300]  # too big: not kept
    await cache.set_many([("k4", b"z" * 900, 60.0)], {})  # grows in place: others go
    assert await cache.get_many(["k2", "k3", "k4"]) == [None, None, b"z" * 900]
    assert await cache.invalidate_tags(["t"]) == 1


async def _kept_answer(tags: list[str]) -> tuple[MemoryBackend, Invalidations, ResponseCache]:
    backend, invalidations = MemoryBackend(), Invalidations()
    await backend.start()
    cache = ResponseCache(backend, backend, invalidations, SYSTEM_CLOCK)
    counts = CacheCounts()
    counts.read(tags, SYSTEM_CLOCK.time() + 30)
    assert await cache.put("k", {"data": {"n": 1}}, counts, cache.epoch, 1) is not None
    return backend, invalidations, cache


async def test_an_answer_stored_just_before_its_change_was_heard_of_is_deleted_again(sim):
    # Another instance deleted the shared entries, then announced it: this instance
    # stored the answer in between, and its entity cache, listening as the gateway's
    # does, deletes it with its own entries under those tags once the notice arrives.
    backend, _, cache = await _kept_answer(["order:1", "sku:A"])
    names = ("oms", "inventory", "carrier", "ticketing")
    upstreams = Upstreams.open(*(SourceConfig(base_url=sim.urls[n]) for n in names))
    entities = CachedUpstreams.build(upstreams, backend, {n: default_policy(n) for n in names})
    entities.listen()
    notice = msgspec.json.encode(ChangeNotice(tags=["order:1"], origin="another instance"))
    try:
        await backend.publish(INVALIDATION_CHANNEL, notice)
        await asyncio.sleep(0.05)  # delivered to subscribers as a task
        assert await cache.lookup("k") is None
    finally:
        await backend.close()
        await upstreams.close()


async def test_an_answer_whose_entities_changed_while_it_was_built_is_not_kept():
    backend, invalidations, cache = await _kept_answer(["order:2"])
    since = cache.epoch
    invalidations.record(["order:1"])  # heard of while building
    counts = CacheCounts()
    counts.read(["order:1"], SYSTEM_CLOCK.time() + 30)
    assert await cache.put("k2", {"data": {"n": 2}}, counts, since, 1) is None
    assert await cache.lookup("k2") is None
    assert await cache.lookup("k") is not None  # another entity's answer stays
    await backend.close()
