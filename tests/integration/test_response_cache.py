"""The response cache (``OG_RESPONSE_CACHE``): whole answers of queries, never shared
across what callers may see, dropped by the change events that drop what they read,
and never kept when stale, partial, failed or a mutation's. (Dropped on every instance
by a change the sources send to a served one: tests/e2e/test_response_cache_delivered.py.)"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
from prometheus_client import REGISTRY

from gateway.response_cache import ResponseCache
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
from tests.support.cache_changes import NO_REQUESTS, SECRET
from tests.support.deliveries import deliver, in_transit
from tests.support.gateways import (
    FIXED_NOW,
    in_process_gateway,
    settings_for,
)
from tests.support.queries import CANCEL, ORDER_BY_NUMBER
from tests.support.response_cache import VIEW, hit, response_cached
from tests.support.secured import MANIFEST, ORDER_VIEW, secured_gateway
from tests.support.waiting import eventually

LIST = "query List { orders(first: 5) { nodes { id number updatedAt } } }"


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_repeated_query_is_answered_from_the_cache_without_reading_anything(
    sim, dataset, stats
):
    order, _ = in_transit(dataset)
    counted = {o: _metric("og_response_cache_total", outcome=o) for o in ("hit", "store")}
    async with in_process_gateway(response_cached(sim.urls)) as gateway:
        first = await gateway.query(ORDER_BY_NUMBER, {"number": order.number})
        assert "errors" not in first and not hit(first)
        await stats.reset()
        again = await gateway.query(ORDER_BY_NUMBER, {"number": order.number})
        assert hit(again)
        for outcome, before in counted.items():
            assert _metric("og_response_cache_total", outcome=outcome) == before + 1
        assert again["data"] == first["data"]
        assert again["extensions"]["cost"] == first["extensions"]["cost"]
        assert await stats.requests() == NO_REQUESTS
        # Other variables are another answer.
        other = next(o for o in dataset.orders.values() if o.number != order.number)
        assert not hit(await gateway.query(ORDER_BY_NUMBER, {"number": other.number}))


async def test_requests_for_an_answer_being_built_wait_for_it(sim, dataset):
    order, _ = in_transit(dataset)
    async with in_process_gateway(response_cached(sim.urls)) as gateway:
        answers = await asyncio.gather(
            *(gateway.query(ORDER_BY_NUMBER, {"number": order.number}) for _ in range(5))
        )
    assert [hit(answer) for answer in answers].count(False) == 1
    assert all(answer["data"] == answers[0]["data"] for answer in answers)


async def test_without_the_setting_nothing_is_kept(sim, dataset):
    order, _ = in_transit(dataset)
    async with in_process_gateway(settings_for(sim.urls, response_cache=False)) as gateway:
        await gateway.query(VIEW, {"n": order.number})
        assert not hit(await gateway.query(VIEW, {"n": order.number}))


async def _post(secured: Any, key: str, payload: dict[str, Any]) -> dict[str, Any]:
    status, body, _ = await secured.post(payload, key=key)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def test_tenants_never_share_an_answer(sim, tmp_path: Path):
    page = {"query": "query Mine { orders(first: 10) { nodes { id number } } }"}
    async with secured_gateway(sim.urls, tmp_path, response_cache=True) as secured:
        a = await _post(secured, "app_a", page)
        assert hit(await _post(secured, "app_a", page))
        b = await _post(secured, "app_b", page)
        assert not hit(b)
        assert a["data"]["orders"]["nodes"] and b["data"]["orders"]["nodes"]
        assert not {n["id"] for n in a["data"]["orders"]["nodes"]} & {
            n["id"] for n in b["data"]["orders"]["nodes"]
        }
        # A partner runs the trusted document; an app of the same tenant sending the
        # same document is another class of key, and gets its own answer.
        trusted = {"documentId": "orders-page"}
        partner = await _post(secured, "partner_a", trusted)
        assert hit(await _post(secured, "partner_a", trusted))
        app = await _post(secured, "app_a", {"query": MANIFEST["orders-page"]})
        assert not hit(app)
        assert app["data"] == partner["data"]


async def test_an_app_without_pii_never_gets_the_consoles_answer(sim, dataset, tmp_path: Path):
    order, _ = in_transit(dataset)
    view = {"query": ORDER_VIEW, "variables": {"n": order.number}}
    async with secured_gateway(sim.urls, tmp_path, response_cache=True) as secured:
        console = await _post(secured, "console", view)
        assert hit(await _post(secured, "console", view))
        masked = await _post(secured, "no_pii", view)
        assert not hit(masked)
        email = console["data"]["orderByNumber"]["customer"]["email"]
        assert email and masked["data"]["orderByNumber"]["customer"]["email"] != email
        assert hit(await _post(secured, "no_pii", view))


async def test_a_new_or_changed_order_drops_every_list_of_orders(sim, dataset, stats):
    settings = response_cached(sim.urls, webhook_secrets=[SECRET])
    async with in_process_gateway(settings) as gateway:
        await gateway.query(LIST)
        assert hit(await gateway.query(LIST))
        # An order no list held yet (a new one) may belong on any list.
        new = ChangeEvent(type=EventType.ORDER_UPDATED, occurred_at=FIXED_NOW, order_id="o-new")
        dropped = _metric("og_response_cache_invalidations_total")
        status, answer = await deliver(gateway, "oms", new, SECRET)
        assert status == 200, answer
        # The notice reaches this instance's listeners as a task: wait until it did.
        await eventually(
            lambda: _metric("og_response_cache_invalidations_total") > dropped,
            "the response cache hears of the change",
        )
        # A barrier: a second new order's notice, heard after the first's, so a first
        # notice heard twice would show by now.
        other = ChangeEvent(type=EventType.ORDER_UPDATED, occurred_at=FIXED_NOW, order_id="o-new2")
        status, answer = await deliver(gateway, "oms", other, SECRET)
        assert status == 200, answer
        await eventually(
            lambda: _metric("og_response_cache_invalidations_total") >= dropped + 2,
            "the response cache hears of the second change",
        )
        assert _metric("og_response_cache_invalidations_total") == dropped + 2
        await stats.reset()
        fresh = await gateway.query(LIST)
        assert not hit(fresh)
        assert (await stats.requests())["oms"] == 1  # the list was read again
        assert hit(await gateway.query(LIST))
        # A single order's answer is not touched by another order's change.
        order, _ = in_transit(dataset)
        await gateway.query(VIEW, {"n": order.number})
        status, _ = await deliver(gateway, "oms", new, SECRET)
        assert status == 200
        assert hit(await gateway.query(VIEW, {"n": order.number}))
        assert not hit(await gateway.query(LIST))


async def test_a_partial_answer_is_not_kept_and_keeps_its_error_codes(sim, dataset):
    order, _ = in_transit(dataset)
    async with in_process_gateway(response_cached(sim.urls)) as gateway:
        sim.set_faults("inventory", FaultSpec(error_rate=1))
        try:
            answers = [await gateway.query(VIEW, {"n": order.number}) for _ in range(2)]
        finally:
            sim.set_faults("inventory", None)
        for answer in answers:
            assert not hit(answer)
            codes = {e["extensions"]["code"] for e in answer["errors"]}
            assert codes and codes <= {"SOURCE_UNAVAILABLE", "SOURCE_BAD_RESPONSE"}
            assert answer["data"]["orderByNumber"]["number"] == order.number
        # Once the source answers, the answer is kept.
        assert "errors" not in await gateway.query(VIEW, {"n": order.number})
        assert hit(await gateway.query(VIEW, {"n": order.number}))


async def test_an_error_answer_is_never_kept(sim):
    async with in_process_gateway(response_cached(sim.urls)) as gateway:
        for _ in range(2):
            body = await gateway.query(VIEW, {"n": "999999"})
            assert not hit(body)
            assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]


async def test_an_answer_from_stale_data_is_not_kept(sim, dataset):
    order, _ = in_transit(dataset)
    ageing = {"cache_ttl_ms": 200, "cache_stale_ms": 60_000}
    async with in_process_gateway(response_cached(sim.urls, source_options=ageing)) as gateway:
        await gateway.query(VIEW, {"n": order.number})
        await asyncio.sleep(0.3)  # the entries and so the answer are past their TTL
        stale = await gateway.query(VIEW, {"n": order.number})
        assert not hit(stale)
        assert sum(c["stale"] for c in stale["extensions"]["cache"].values()) > 0
        assert not hit(await gateway.query(VIEW, {"n": order.number}))


async def test_mutations_are_never_kept(sim, dataset):
    order = next(o for o in dataset.orders.values() if o.cancelled_at is not None)
    payload = {"input": {"orderId": to_global_id("Order", order.id), "reason": "CUSTOMER"}}
    async with in_process_gateway(response_cached(sim.urls)) as gateway:
        first = await gateway.query(CANCEL, payload)
        second = await gateway.query(CANCEL, payload)
    assert "errors" not in first and first["data"]["orderCancel"]["userErrors"]
    assert second["data"] == first["data"] and not hit(second)


async def test_cache_headers_are_sent_only_when_asked_for(sim, dataset):
    order, _ = in_transit(dataset)
    payload = {"query": VIEW, "variables": {"n": order.number}}
    options = {"response_cache_control": True, "response_cache_tag_headers": True}
    async with in_process_gateway(response_cached(sim.urls, **options)) as gateway:
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
        in_process_gateway(response_cached(sim.urls)) as gateway,
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

        async def deleted() -> bool:  # delivered to subscribers as a task
            return await cache.lookup("k") is None

        await eventually(deleted, "the answer is deleted once the notice arrives")
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
