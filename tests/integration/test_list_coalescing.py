"""A list of orders is read live: identical lists asked at once are one search at the
OMS (sources.resilience.coalesce), so an expiring page does not become a burst a
vendor's rate limit refuses; different lists are searched apart."""

from __future__ import annotations

import asyncio

from sim.cluster import start_cluster
from tests.support.gateways import SourceStats, in_process_gateway, settings_for

PAGE = """query($first: Int!, $filter: OrderFilter) {
  orders(first: $first, filter: $filter) { nodes { id number } } }"""


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
