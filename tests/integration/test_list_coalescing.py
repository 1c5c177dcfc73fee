"""A list of orders is read live: identical lists asked at once are one search at the
OMS (sources.resilience.coalesce), so an expiring page does not become a burst a
vendor's rate limit refuses; different lists are searched apart, and so is a list
asked after an order changed, apart from the search begun before the change."""

from __future__ import annotations

import asyncio
from typing import Any

from resolvers.relay import to_global_id
from sim.cluster import start_cluster
from sources.adapters.search import OrderSearch
from sources.records import OrderPage
from tests.support.gateways import SourceStats, gateway_at, in_process_gateway, settings_for
from tests.support.queries import CANCEL
from tests.support.waiting import eventually

PAGE = """query($first: Int!, $filter: OrderFilter) {
  orders(first: $first, filter: $filter) { nodes { id number } } }"""
STATUSES = """query($first: Int!) { orders(first: $first) { nodes { id customerStatus } } }"""
ONE = """query($id: ID!) { order(id: $id) { customerStatus } }"""


async def test_identical_lists_at_once_are_one_search(make_dataset):
    async with await start_cluster(make_dataset(orders=60), latency_ms={"oms": 80}) as sim:
        stats = SourceStats(sim.urls)
        settings = settings_for(sim.urls, response_cache=False)
        async with in_process_gateway(settings) as gateway:
            await stats.reset()
            on_hold = {"first": 20, "filter": {"fulfillmentStatuses": ["ON_HOLD"]}}
            asked = [*[{"first": 20}] * 4, on_hold]
            answers = await asyncio.gather(*(gateway.query(PAGE, v) for v in asked))
            counts = (await stats.read())["oms"]["paths"]
    assert counts == {"/orders/search": 2}  # the four identical ones shared one
    assert all(answer == answers[0] for answer in answers[:4])
    assert all("errors" not in answer for answer in answers)
    assert len(answers[0]["data"]["orders"]["nodes"]) == 20


async def test_a_list_asked_after_a_change_does_not_take_a_search_begun_before_it(make_dataset):
    """R1's search is under way when an order on its page is cancelled; R2 asks the same
    list (another selection: no shared answer) after the cancel. R2 must not take R1's
    page, as its own, post-change reads would then store the order as it was, for the
    entity cache's and the response cache's full TTLs."""
    dataset = make_dataset(orders=40)
    async with await start_cluster(dataset) as sim:
        settings = settings_for(sim.urls, response_cache=True)
        gateway = gateway_at(settings)
        async with in_process_gateway(settings, gateway) as client:
            assert gateway.cached is not None
            oms, flights = gateway.cached.upstreams.oms, gateway.cached.searches
            search, run = oms.search_orders, flights.run
            searched, release = asyncio.Event(), asyncio.Event()
            asked = 0

            async def held(
                query: OrderSearch, *, limit: int, cursor: str | None = None
            ) -> OrderPage:
                page = await search(query, limit=limit, cursor=cursor)
                searched.set()
                await release.wait()  # the answer is on its way back
                return page

            async def counted(*args: Any) -> OrderPage:
                nonlocal asked
                asked += 1
                return await run(*args)

            oms.search_orders = held  # type: ignore[method-assign]
            flights.run = counted  # type: ignore[method-assign]
            first = asyncio.create_task(client.query(PAGE, {"first": 40}))
            await searched.wait()
            placed = next(o for o, kind in dataset.scenarios.items() if kind == "just_placed")
            gid = to_global_id("Order", placed)
            cancel = await client.query(CANCEL, {"input": {"orderId": gid, "reason": "CUSTOMER"}})
            assert cancel["data"]["orderCancel"]["order"]["customerStatus"] == "CANCELLED"
            second = asyncio.create_task(client.query(STATUSES, {"first": 40}))
            await eventually(lambda: asked == 2, "the second list asks for its search")
            release.set()
            await first

            def status(body: dict[str, Any]) -> str:
                (node,) = (n for n in body["data"]["orders"]["nodes"] if n["id"] == gid)
                return node["customerStatus"]

            assert status(await second) == "CANCELLED"
            # Neither the order's entry nor the list's kept answer holds it as it was.
            single = await client.query(ONE, {"id": gid})
            assert single["data"]["order"]["customerStatus"] == "CANCELLED"
            assert status(await client.query(STATUSES, {"first": 40})) == "CANCELLED"
