"""The exception queue on one gateway (in-memory cache): the start-up sweep fills it
from the seeded data in batches, it reads most severe then newest first, pages and
filters, shows a partner only its account's public exceptions, and an order whose
sources fail keeps its entry; each full sweep drops orders the OMS no longer lists."""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec
import pytest

from domain.exception_rules import ExceptionCode, Severity
from domain.queue_entries import ExceptionFact, QueueEntry, RaisedExceptions
from gateway.app import Components
from resolvers.relay import from_global_id
from services.exception_queue.index import ExceptionIndex
from sim.cluster import SimCluster, start_cluster
from sim.faults import FaultSpec
from sim.seed import Dataset
from sim.stats import StatsBody
from sources.adapters.registry import Upstreams
from sources.cache.backend import CacheUnavailable, Claim, IndexEntry, IndexPosition
from sources.cache.memory_backend import MemoryBackend
from sources.cache.upstreams import CachedUpstreams
from sources.events import ChangeEvent, EventType, tracking_tag
from sources.options import SourceConfig, default_policy
from sources.records import Order
from sources.webhooks import generate_secret
from tests.support.builders import line, order
from tests.support.deliveries import deliver
from tests.support.exception_builders import open_line_with_stock
from tests.support.gateways import (
    FIXED_NOW,
    MakeDataset,
    RunningGateway,
    gateway_at,
    in_process_gateway,
    settings_for,
)
from tests.support.redis_server import RedisServer
from tests.support.secured import TENANT_A, secured_gateway
from tests.support.waiting import eventually

RANK = {severity: rank for rank, severity in enumerate(Severity)}
SWEEPER_S = 30.0  # how long a wait for the sweeper may take before the test fails
INTERNAL_CODES = {"FRAUD_REVIEW", "UNANSWERED_TICKET"}
QUEUE = """query($first: Int!, $after: String, $filter: ExceptionQueueFilter) {
  exceptionQueue(first: $first, after: $after, filter: $filter) {
    edges { cursor node {
      orderId severity detectedAt codes evaluatedAt
      exceptions { code severity detectedAt }
    } }
    pageInfo { hasNextPage endCursor }
} }"""


@pytest.fixture(scope="module")
def data(make_dataset: MakeDataset) -> Dataset:
    return make_dataset()


@pytest.fixture(scope="module")
async def sources(data: Dataset) -> AsyncIterator[SimCluster]:
    async with await start_cluster(data) as cluster:
        yield cluster


class Swept:
    """A gateway whose start-up sweep is done, and what that sweep asked the sources."""

    def __init__(
        self, gateway: Components, running: RunningGateway, requests: dict[str, StatsBody]
    ) -> None:
        self.gateway = gateway
        self.running = running
        self.requests = requests


@pytest.fixture(scope="module")
async def swept(sources: SimCluster) -> AsyncIterator[Swept]:
    settings = settings_for(sources.urls, exception_queue=True, max_cost=100_000)
    gateway = gateway_at(settings)
    sources.reset_stats()
    async with in_process_gateway(settings, gateway=gateway) as running:
        index = gateway.exception_index
        assert index is not None
        await eventually(lambda: index.sweeper.completed == 1, "a sweep", timeout_s=SWEEPER_S)
        requests = {name: sources.stats(name).snapshot() for name in sources.urls}
        yield Swept(gateway, running, requests)


async def read_queue(
    gateway: RunningGateway, *, first: int = 100, filter: dict | None = None
) -> list[dict[str, Any]]:
    """Every entry of the queue, ``first`` at a time."""
    entries: list[dict[str, Any]] = []
    after = None
    while True:
        body = await gateway.query(QUEUE, {"first": first, "after": after, "filter": filter})
        assert "errors" not in body, body["errors"]
        page = body["data"]["exceptionQueue"]
        entries += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return entries
        after = page["pageInfo"]["endCursor"]


def order_of(global_id: str) -> str:
    return from_global_id(global_id)[1][0]


def sort_key(entry: dict[str, Any]) -> tuple[int, datetime]:
    return RANK[Severity(entry["severity"])], datetime.fromisoformat(entry["detectedAt"])


# The sweep ----------------------------------------------------------------------------


async def test_the_startup_sweep_fills_the_queue_in_batches(swept: Swept, data: Dataset) -> None:
    entries = await read_queue(swept.running)
    assert len(entries) > 100
    # Every queued order really has those exceptions when asked on its own.
    sample = entries[:: len(entries) // 12][:12]
    ids = [entry["orderId"] for entry in sample]
    body = await swept.running.query(
        "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Order { id exceptions { code } } } }",
        {"ids": ids},
    )
    live = {node["id"]: {e["code"] for e in node["exceptions"]} for node in body["data"]["nodes"]}
    assert all(live[entry["orderId"]] == set(entry["codes"]) for entry in sample)
    # Cancelled orders raise nothing, so none is queued.
    cancelled = {o.id for o in data.orders.values() if o.cancelled_at is not None}
    assert cancelled and not cancelled & {order_of(entry["orderId"]) for entry in entries}
    # 1,200 orders: 12 list pages, and a handful of batch calls to each other source.
    oms = swept.requests["oms"].paths
    assert oms == {"/orders/search": 12}
    for source in ("inventory", "carrier", "ticketing"):
        assert swept.requests[source].requests <= 24, swept.requests[source]


@contextlib.asynccontextmanager
async def standalone_index(
    urls: dict[str, str], backend: MemoryBackend
) -> AsyncIterator[tuple[CachedUpstreams, ExceptionIndex]]:
    """An exception queue over ``urls`` and ``backend``, listening but not started (the
    test starts it), closed with all it opened when the block ends."""
    names = ("oms", "inventory", "carrier", "ticketing")
    upstreams = Upstreams.open(*(SourceConfig(base_url=urls[n]) for n in names))
    cached = CachedUpstreams.build(upstreams, backend, {n: default_policy(n) for n in names})
    index = ExceptionIndex(cached)
    cached.listen()
    index.listen()
    await backend.start()
    try:
        yield cached, index
    finally:
        await index.close()
        await backend.close()
        await upstreams.close()


class SkuIndexBlips(MemoryBackend):
    """A backend whose orders-of-SKU index fails ``blips`` reads, as Redis in a blip."""

    def __init__(self) -> None:
        super().__init__()
        self.blips = 0

    async def index_range(
        self, index: str, limit: int, after: IndexPosition | None = None
    ) -> list[IndexEntry]:
        if self.blips and ":sku:" in index:
            self.blips -= 1
            raise CacheUnavailable("blip")
        return await super().index_range(index, limit, after)


async def test_a_change_the_store_could_not_serve_is_evaluated_again(
    make_dataset: MakeDataset,
) -> None:
    """An evaluation the store fails (here: the orders waiting for a SKU cannot be
    read four times, one more than the store's own attempts) gives its claims back and
    runs again: the queue follows the change
    without waiting for the next sweep, nor taking an empty answer for "no orders"."""
    data = make_dataset(orders=300)
    backend = SkuIndexBlips()
    async with (
        await start_cluster(data) as cluster,
        standalone_index(cluster.urls, backend) as (cached, index),
    ):
        index.start()
        await eventually(lambda: index.sweeper.completed == 1, "a sweep", timeout_s=SWEEPER_S)
        queued = {entry.order_id: entry for entry in await index.store.every_entry()}
        waiting, sku, location = open_line_with_stock(data, queued)
        url = f"{cluster.urls['inventory']}/admin/inventory/{sku}"
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json={"locationId": location, "available": -1}) as resp,
        ):
            assert resp.status == 200, await resp.text()
        backend.blips = 4
        event = ChangeEvent(type=EventType.INVENTORY_CHANGED, occurred_at=FIXED_NOW, sku=sku)
        await cached.apply_change(event)

        async def backordered() -> bool:
            entries = {entry.order_id: entry for entry in await index.store.every_entry()}
            found = entries.get(waiting.id)
            codes = [] if found is None else [fact.code for fact in found.exceptions]
            return ExceptionCode.BACKORDERED in codes

        await eventually(backordered, "the waiting order is backordered", timeout_s=10)
        assert backend.blips == 0


async def test_two_deliveries_that_say_the_same_are_both_evaluated(
    make_dataset: MakeDataset,
) -> None:
    """Two deliveries for one parcel within a second say the same (senders stamp whole
    seconds), yet are two changes: the second, sent once the parcel's delivery failed,
    is evaluated too, not taken for the first one again. An event is claimed by its
    delivery's id, the one the webhook receiver de-duplicates by."""
    data = make_dataset()  # its own: the carrier's data changes
    secret = generate_secret()
    redis = RedisServer()
    await redis.start()
    try:
        async with await start_cluster(data) as cluster:  # sends no webhooks: the test does
            settings = settings_for(
                cluster.urls,
                cache_url=redis.url,
                webhook_secrets=[secret],
                exception_queue=True,
                exception_sweep_interval_ms=3_600_000,  # no pass catches up meanwhile
            )
            gateway = gateway_at(settings)
            async with in_process_gateway(settings, gateway=gateway) as running:
                index = gateway.exception_index
                assert index is not None
                await eventually(
                    lambda: index.sweeper.completed == 1, "a sweep", timeout_s=SWEEPER_S
                )
                order, number = _queued_in_transit(data, await index.store.every_entry())
                said = ChangeEvent(
                    type=EventType.TRACKING_UPDATED,
                    occurred_at=gateway.clock.now().replace(microsecond=0),
                    tracking_number=number,
                )

                async def entry() -> QueueEntry | None:
                    entries = await index.store.every_entry()
                    return next((e for e in entries if e.order_id == order.id), None)

                async def evaluated_since(at: datetime) -> bool:
                    found = await entry()
                    return found is not None and found.evaluated_at >= at

                sent_at = gateway.clock.now()
                assert await _taken(running, said, secret, "msg_in_transit")
                await eventually(
                    lambda: evaluated_since(sent_at), "the first delivery is evaluated"
                )
                url = f"{cluster.urls['carrier']}/admin/trackings/{number}/advance"
                async with (
                    aiohttp.ClientSession() as session,
                    session.post(url, json={"status": "DELIVERY_ATTEMPTED"}) as resp,
                ):
                    assert resp.status == 200, await resp.text()
                assert await _taken(running, said, secret, "msg_attempt_failed")

                async def attempted() -> bool:
                    found = await entry()
                    codes = [] if found is None else [f.code for f in found.exceptions]
                    return ExceptionCode.DELIVERY_ATTEMPTED in codes

                await eventually(attempted, "the second delivery is evaluated too", timeout_s=10)
    finally:
        await redis.stop()


def _queued_in_transit(data: Dataset, entries: list[QueueEntry]) -> tuple[Order, str]:
    """A queued order whose one parcel is in transit, with no failed attempt yet."""
    queued = {entry.order_id: entry for entry in entries}
    for order_id, scenario in data.scenarios.items():
        entry, candidate = queued.get(order_id), data.orders[order_id]
        if scenario != "in_transit" or entry is None or len(candidate.shipments) != 1:
            continue
        number = candidate.shipments[0].tracking_number
        codes = {fact.code for fact in entry.exceptions}
        if number in data.trackings and ExceptionCode.DELIVERY_ATTEMPTED not in codes:
            return candidate, number
    raise AssertionError("no queued in-transit order in the data set")


async def _taken(running: RunningGateway, event: ChangeEvent, secret: str, msg_id: str) -> bool:
    """Deliver ``event`` to the carrier's webhook as delivery ``msg_id``: applied?"""
    status, answer = await deliver(running, "carrier", event, secret, msg_id=msg_id)
    return status == 200 and answer["status"] == "applied"


class ClaimsRefused(MemoryBackend):
    """A backend that cannot record a claim, as Redis when it is down."""

    async def claim_once(self, key: str, ttl_s: float) -> Claim | None:
        raise CacheUnavailable("down")


async def test_without_a_recorded_claim_no_event_is_evaluated_and_no_sweep_runs(
    sources: SimCluster, data: Dataset, caplog: pytest.LogCaptureFixture
) -> None:
    """Event claims and the sweep's lock are never assumed: were they, every instance
    would evaluate each event and sweep at once. Tried again a few times instead, then
    left (logged) to the sweep, which itself tries again sooner than its interval."""
    async with standalone_index(sources.urls, ClaimsRefused()) as (cached, index):
        sources.reset_stats()
        order_id = next(iter(data.orders))
        event = ChangeEvent(type=EventType.ORDER_UPDATED, occurred_at=FIXED_NOW, order_id=order_id)
        with caplog.at_level(logging.WARNING, logger="ordergraph.exception_queue"):
            index.start()
            await cached.apply_change(event)
            await eventually(
                lambda: (
                    "left to the sweep, the store failed 3 times" in caplog.text
                    and "no sweep, the store failed (next try in 2 s)" in caplog.text
                ),
                "the event and the sweep both give up on the store",
                timeout_s=SWEEPER_S,
            )
        assert sources.stats("oms").snapshot().requests == 0
        assert index.sweeper.completed == 0
        assert await index.store.every_entry() == []


async def test_each_full_sweep_drops_orders_the_oms_no_longer_lists(sources: SimCluster) -> None:
    settings = settings_for(sources.urls, exception_queue=True, exception_sweep_interval_ms=1000)
    gateway = gateway_at(settings)
    async with in_process_gateway(settings, gateway=gateway):
        index = gateway.exception_index
        assert index is not None
        index.sweeper.full_interval_s = 0  # every pass reads every order
        raised: list[RaisedExceptions] = []

        async def record(message: RaisedExceptions) -> None:
            raised.append(message)

        index.on_raised(record)
        await eventually(lambda: index.sweeper.completed == 1, "a sweep", timeout_s=SWEEPER_S)
        queued = len(await index.store.every_entry())
        ghost = msgspec.structs.replace(order([line()]), id="ord_gone")
        fact = ExceptionFact(
            code=ExceptionCode.LATE, severity=Severity.CRITICAL, detected_at=FIXED_NOW,
            internal=False, subject_kind="order", subject_id="ord_gone",
        )  # fmt: skip
        await index.store.write([(ghost, QueueEntry.of("ord_gone", "acct_x", [fact], FIXED_NOW))])
        await eventually(
            lambda: index.sweeper.completed == 3,  # one began after the write
            "3 sweeps",
            timeout_s=SWEEPER_S,
        )
        entries = await index.store.every_entry()
    assert "ord_gone" not in {entry.order_id for entry in entries}
    assert len(entries) == queued
    # The first sweep filled an empty queue: it announced nothing, though every one of
    # its exceptions was new to the queue. (Later sweeps announce what time raised.)
    assert len(raised) < 5 < queued


async def test_most_severe_then_newest_first_and_pages_join_up(swept: Swept) -> None:
    everything = await read_queue(swept.running)
    keys = [sort_key(entry) for entry in everything]
    assert keys == sorted(keys, reverse=True)
    assert any(a == b for a, b in itertools.pairwise(keys)), "the data has ties"
    assert everything[0]["severity"] == "CRITICAL" and everything[-1]["severity"] != "CRITICAL"
    for entry in everything:
        times = [entry["evaluatedAt"], *(e["detectedAt"] for e in entry["exceptions"])]
        assert all(t.endswith("+00:00") for t in times), entry  # the gateway's times are UTC
        detected = [datetime.fromisoformat(e["detectedAt"]) for e in entry["exceptions"]]
        assert datetime.fromisoformat(entry["detectedAt"]) == max(detected)
        assert entry["severity"] == max((e["severity"] for e in entry["exceptions"]), key=rank_of)
    small_pages = await read_queue(swept.running, first=7)
    assert [e["orderId"] for e in small_pages] == [e["orderId"] for e in everything]
    assert len({e["orderId"] for e in everything}) == len(everything)


def rank_of(severity: str) -> int:
    return RANK[Severity(severity)]


async def test_page_info_bounds_each_page_and_never_claims_a_previous_one(swept: Swept) -> None:
    query = QUEUE.replace(
        "hasNextPage endCursor", "hasNextPage hasPreviousPage startCursor endCursor"
    )
    after = None
    for _ in range(2):  # the first page, then the second
        body = await swept.running.query(query, {"first": 3, "after": after})
        assert "errors" not in body, body["errors"]
        page = body["data"]["exceptionQueue"]
        info, edges = page["pageInfo"], page["edges"]
        assert len(edges) == 3 and info["hasNextPage"]
        assert (
            info["startCursor"] == edges[0]["cursor"] and info["endCursor"] == edges[-1]["cursor"]
        )
        # Read forward only: the spec's "false when it cannot be determined efficiently".
        assert info["hasPreviousPage"] is False
        assert after is None or info["startCursor"] != after
        after = info["endCursor"]
    body = await swept.running.query(
        query, {"first": 3, "filter": {"since": "2100-01-01T00:00:00Z"}}
    )
    page = body["data"]["exceptionQueue"]
    assert page["edges"] == []
    assert page["pageInfo"]["startCursor"] is None and page["pageInfo"]["hasPreviousPage"] is False


@pytest.mark.parametrize(
    "filter",
    [
        {"codes": ["LATE", "BACKORDERED"]},
        {"severity": "CRITICAL"},
        {"since": "2026-11-19T15:00:00Z"},
        {"codes": ["UNANSWERED_TICKET"], "severity": "WARNING", "since": "2026-11-18T00:00:00"},
    ],
    ids=["codes", "severity", "since", "all-three"],
)
async def test_filters_list_orders_with_one_exception_meeting_all(
    swept: Swept, filter: dict[str, Any]
) -> None:
    everything = await read_queue(swept.running)
    since = filter.get("since")
    floor = datetime.fromisoformat(since).replace(tzinfo=UTC) if since else None

    def meets(exception: dict[str, Any]) -> bool:
        return (
            exception["code"] in filter.get("codes", [exception["code"]])
            and rank_of(exception["severity"]) >= rank_of(filter.get("severity", "INFO"))
            and (floor is None or datetime.fromisoformat(exception["detectedAt"]) >= floor)
        )

    expected = [e["orderId"] for e in everything if any(meets(x) for x in e["exceptions"])]
    found = await read_queue(swept.running, first=25, filter=filter)
    assert expected and [e["orderId"] for e in found] == expected
    assert len(found) < len(everything), "the filter leaves some out"


async def test_a_page_stops_reading_at_its_limit_and_says_where(swept: Swept) -> None:
    # FRAUD_REVIEW orders are few and WARNING: they sit far down the queue.
    body = await swept.running.query(QUEUE, {"first": 1, "filter": {"codes": ["FRAUD_REVIEW"]}})
    page = body["data"]["exceptionQueue"]
    assert page["edges"] and page["pageInfo"]["hasNextPage"]
    assert page["pageInfo"]["endCursor"] == page["edges"][0]["cursor"]
    everything = await read_queue(swept.running, filter={"codes": ["FRAUD_REVIEW"]})
    assert everything and all("FRAUD_REVIEW" in entry["codes"] for entry in everything)


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"first": 0}, "first"),
        ({"first": 101}, "first"),
        ({"first": 5, "after": "bm90LWEtY3Vyc29y"}, "after"),
        ({"first": 5, "after": "ZXExOm5vdC1hLXJhbmt8bzE="}, "after"),  # eq1:not-a-rank|o1
        ({"first": 5, "after": "%%%"}, "after"),
        ({"first": 5, "filter": {"since": "0001-01-01T00:00:00+05:00"}}, "filter.since"),
    ],
)
async def test_bad_arguments_are_bad_user_input(
    swept: Swept, variables: dict[str, Any], field: str
) -> None:
    body = await swept.running.query(QUEUE, variables)
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert field in error["message"]


async def test_the_entry_gives_its_live_order(swept: Swept) -> None:
    body = await swept.running.query(
        "{ exceptionQueue(first: 3) { nodes { orderId order { id number health } } } }"
    )
    nodes = body["data"]["exceptionQueue"]["nodes"]
    assert [node["order"]["id"] for node in nodes] == [node["orderId"] for node in nodes]
    assert all(node["order"]["health"] != "ON_TRACK" for node in nodes)
    # The connection 1, and 3 times: the entry 1, its order 1 + 1 (the OMS), health 3.
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1 + 3 * 6


# Tenants and internal exceptions -------------------------------------------------------


async def test_a_partner_sees_its_account_and_no_internal_exceptions(
    sources: SimCluster, data: Dataset, tmp_path_factory: pytest.TempPathFactory
) -> None:
    directory = tmp_path_factory.mktemp("queue-keys")
    async with secured_gateway(sources.urls, directory, exception_queue=True) as secured:

        async def read(key: str, filter: dict | None = None) -> list[dict[str, Any]]:
            nodes: list[dict[str, Any]] = []
            after = None
            while True:
                variables = {"after": after, "filter": filter}
                status, body, _ = await secured.post(
                    {"documentId": "exception-queue", "variables": variables}, key=key
                )
                assert status == 200 and "errors" not in body, body
                page = body["data"]["exceptionQueue"]
                nodes += page["nodes"]
                if not page["pageInfo"]["hasNextPage"]:
                    return nodes
                after = page["pageInfo"]["endCursor"]

        assert secured.state is not None
        index = secured.state.exception_index
        assert index is not None
        await eventually(lambda: index.sweeper.completed == 1, "a sweep", timeout_s=SWEEPER_S)
        console = await read("console")
        partner = await read("partner_queue_a")

        accounts = {o.id: o.account_id for o in data.orders.values()}
        assert {accounts[order_of(node["orderId"])] for node in partner} == {TENANT_A}
        assert all(node["order"]["id"] == node["orderId"] for node in partner)
        public = await read("app_queue")  # every account, as a customer channel sees them
        for seen, account in ((partner, TENANT_A), (public, None)):
            codes = {code for node in seen for code in node["codes"]}
            assert codes and not codes & INTERNAL_CODES
            # Exactly the orders with a public exception: internal-only ones are not.
            expected = [
                node["orderId"]
                for node in console
                if account in (None, accounts[order_of(node["orderId"])])
                and set(node["codes"]) - INTERNAL_CODES
            ]
            assert sorted(node["orderId"] for node in seen) == sorted(expected)
        assert any(set(node["codes"]) <= INTERNAL_CODES for node in console), "none to hide"
        assert await read("partner_queue_a", {"codes": ["FRAUD_REVIEW"]}) == []

        # A key without every source's read scope may not read the queue.
        _, body, _ = await secured.post({"documentId": "exception-queue"}, key="app_a")
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD"


# Failing sources and late writers ------------------------------------------------------


async def test_an_order_keeps_its_entry_while_a_source_fails(
    swept: Swept, sources: SimCluster, data: Dataset
) -> None:
    index, cached = swept.gateway.exception_index, swept.gateway.cached
    assert index is not None and cached is not None
    (first, *_) = await read_queue(swept.running, filter={"codes": ["STALLED_IN_TRANSIT"]})
    order_id = order_of(first["orderId"])
    numbers = [s.tracking_number for s in data.orders[order_id].shipments if s.tracking_number]
    await cached.invalidate([tracking_tag(number) for number in numbers])  # no kept copy
    sources.set_faults("carrier", FaultSpec(error_rate=1.0, error_status=503))
    try:
        evaluated = await index.evaluate([order_id])  # without the carrier nothing counts
    finally:
        sources.set_faults("carrier", None)
    assert [order.id for order in evaluated] == [order_id]
    again = await read_queue(swept.running, filter={"codes": ["STALLED_IN_TRANSIT"]})
    assert again[0] == first


async def test_an_evaluation_of_older_data_does_not_overwrite_a_newer_one(
    swept: Swept, data: Dataset
) -> None:
    index = swept.gateway.exception_index
    assert index is not None
    (first, *_) = await read_queue(swept.running, filter={"codes": ["LATE"]})
    order_id = order_of(first["orderId"])
    clock = swept.gateway.clock
    read_before = clock.time()
    await index.evaluate([order_id])  # reads the order now
    cancelled = msgspec.structs.replace(data.orders[order_id], cancelled_at=FIXED_NOW)
    await index.evaluate_orders([cancelled], read_before)  # e.g. a sweep page listed earlier
    assert order_id in {entry.order_id for entry in await index.store.every_entry()}
    await index.evaluate_orders([cancelled], clock.time())  # newer: it counts
    assert order_id not in {entry.order_id for entry in await index.store.every_entry()}


async def test_a_queue_that_cannot_be_read_is_a_retryable_error_not_an_empty_page(
    sources: SimCluster,
) -> None:
    server = RedisServer()
    await server.start()
    try:
        settings = settings_for(sources.urls, cache_url=server.url)
        async with in_process_gateway(settings) as gateway:
            await server.kill()
            body = await gateway.query(QUEUE, {"first": 5}, status=503)  # with Retry-After
    finally:
        await server.stop()
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["path"] == ["exceptionQueue"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["extensions"]["retryable"] is True
