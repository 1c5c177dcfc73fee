"""The response cache with the simulated sources sending their change events to a
served gateway (they need its socket): a change event on one instance drops the answer
on another within a second. The rest of the response cache's tests run in process:
tests/integration/test_response_cache.py."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.support.cache_changes import NO_REQUESTS, SECRET
from tests.support.deliveries import in_transit
from tests.support.gateways import (
    MakeDataset,
    RunningGateway,
    SourceStats,
    changing_sources,
    in_process_gateway,
    running_gateway,
)
from tests.support.response_cache import VIEW, hit, response_cached


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
        settings = response_cached(cluster.urls, cache_url=server.url, webhook_secrets=[SECRET])
        # The sources send their events to the first instance; the second serves.
        async with running_gateway(settings, sock), in_process_gateway(settings) as second:
            before = await _view(second, order.number)
            assert hit(await _view(second, order.number))
            await counters.reset()
            url = cluster.urls[source] + path.format(id=order.id, sku=sku)
            async with second.session.post(url, json=body) as resp:
                assert resp.status == 200, await resp.text()
            started = time.monotonic()
            while (after := await _view(second, order.number))["data"] == before["data"]:
                assert hit(after)
                assert time.monotonic() - started < 1.0, f"{name}: still {after}"
                await asyncio.sleep(0.02)
            assert not hit(after)
            # Exactly the changed source was read again: the rest came from the entity cache.
            assert await counters.requests() == NO_REQUESTS | {source: 1}
            assert hit(await _view(second, order.number))
