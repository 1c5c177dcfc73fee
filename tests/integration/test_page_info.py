"""``PageInfo`` per the Relay Cursor Connections spec, forward pagination: ``startCursor``
and ``endCursor`` are the first and last edges' cursors (null on an empty page);
``hasPreviousPage`` is exact on an order's timeline and, as the spec allows when it
cannot be told efficiently, false on ``orders`` (the OMS pages forward only)."""

from __future__ import annotations

from typing import Any

from tests.support.gateways import RunningGateway

ORDERS = """query($first: Int!, $after: String, $filter: OrderFilter) {
  orders(first: $first, after: $after, filter: $filter) {
    edges { cursor node { number } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
} }"""

TIMELINE = """query($n: String!, $first: Int!, $after: String) { orderByNumber(number: $n) {
  timeline(first: $first, after: $after) {
    edges { cursor node { kind } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
} } }"""


async def _orders(gateway: RunningGateway, **variables: Any) -> dict[str, Any]:
    body = await gateway.query(ORDERS, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]["orders"]


async def _timeline(
    gateway: RunningGateway, number: str, first: int, after: str | None = None
) -> dict[str, Any]:
    body = await gateway.query(TIMELINE, {"n": number, "first": first, "after": after})
    assert "errors" not in body, body["errors"]
    return body["data"]["orderByNumber"]["timeline"]


def _cursors_bound_the_edges(page: dict[str, Any]) -> None:
    info, edges = page["pageInfo"], page["edges"]
    assert edges
    assert info["startCursor"] == edges[0]["cursor"]
    assert info["endCursor"] == edges[-1]["cursor"]


async def test_orders_pages_name_their_first_and_last_edges(served: RunningGateway) -> None:
    first = await _orders(served, first=3)
    _cursors_bound_the_edges(first)
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False

    second = await _orders(served, first=3, after=first["pageInfo"]["endCursor"])
    _cursors_bound_the_edges(second)
    assert second["pageInfo"]["startCursor"] != first["pageInfo"]["startCursor"]
    numbers = [edge["node"]["number"] for edge in second["edges"]]
    assert not set(numbers) & {edge["node"]["number"] for edge in first["edges"]}
    # The OMS is read forward only: the spec's "false when it cannot be determined".
    assert second["pageInfo"]["hasPreviousPage"] is False


async def test_an_empty_orders_page_has_no_cursors(served: RunningGateway) -> None:
    empty = await _orders(served, first=5, filter={"customerReference": "nobody-at-all"})
    assert empty == {
        "edges": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }


async def test_timeline_pages_say_what_comes_before(served: RunningGateway, dataset) -> None:
    record = next(o for o in dataset.orders.values() if o.shipments and len(o.lines) > 1)
    whole = await _timeline(served, record.number, first=100)
    assert len(whole["edges"]) > 4
    cursors = [edge["cursor"] for edge in whole["edges"]]

    first = await _timeline(served, record.number, first=2)
    _cursors_bound_the_edges(first)
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert first["pageInfo"]["startCursor"] == cursors[0]

    second = await _timeline(served, record.number, 2, first["pageInfo"]["endCursor"])
    _cursors_bound_the_edges(second)
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert second["pageInfo"]["startCursor"] == cursors[2]
    assert second["pageInfo"]["endCursor"] == cursors[3]

    # After the last event: nothing left, but everything before it.
    empty = await _timeline(served, record.number, 2, cursors[-1])
    assert empty == {
        "edges": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": True,
            "startCursor": None,
            "endCursor": None,
        },
    }
