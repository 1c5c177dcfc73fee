"""Change events the simulated sources send to a served gateway (they need its socket)
on a real redis-server: each kind of event makes the next query read the changed source
again, and only that source. The other webhook tests run in process:
tests/integration/test_cache_webhooks.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from sim.seed import Dataset
from sources.records import Order, TicketStatus
from tests.support.cache_changes import NO_REQUESTS, SECRET
from tests.support.gateways import (
    RunningGateway,
    SourceStats,
    changing_sources,
    running_gateway,
    settings_for,
)

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
            assert await counters.requests() == NO_REQUESTS | {change.source: 1}
