"""The order graph through the real HTTP edge: lookups, Relay ids, pagination,
filters, input errors, and a failing source that does not take the order down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from tests.support.gateways import RunningGateway, in_process_gateway, settings_for
from tests.support.ports import refusing_url
from tests.support.queries import ORDER_BY_NUMBER, ORDERS_PAGE


def _order_with_shipments_and_tickets(dataset):
    return next(
        order
        for order in dataset.orders.values()
        if order.shipments and dataset.tickets.get(order.id) and len(order.lines) > 1
    )


async def test_order_by_number_assembles_all_four_sources(served, dataset):
    record = _order_with_shipments_and_tickets(dataset)
    for number in (record.number, f"#{record.number}"):
        body = await served.query(ORDER_BY_NUMBER, {"number": number})
        assert "errors" not in body
        order = body["data"]["orderByNumber"]
        assert order["number"] == record.number and order["name"] == f"#{record.number}"
        assert [line["sku"] for line in order["lineItems"]] == [line.sku for line in record.lines]
        assert all(line["availability"]["sku"] == line["sku"] for line in order["lineItems"])
        assert {s["trackingNumber"] for s in order["shipments"]} == {
            s.tracking_number for s in record.shipments
        }
        assert {t["reference"] for t in order["tickets"]} == {
            t.id for t in dataset.tickets[record.id]
        }


async def test_an_unknown_order_is_null_with_not_found(served):
    body = await served.query('{ orderByNumber(number: "99999999") { id } }')
    assert body["data"] == {"orderByNumber": None}
    (error,) = body["errors"]
    assert error["path"] == ["orderByNumber"] and error["extensions"] == {"code": "NOT_FOUND"}


async def test_every_node_round_trips_through_node_and_nodes(served, dataset):
    record = _order_with_shipments_and_tickets(dataset)
    body = await served.query(
        """query($n: String!) { orderByNumber(number: $n) {
             id lineItems { id } fulfillmentOrders { id } shipments { id } tickets { id } } }""",
        {"n": record.number},
    )
    order = body["data"]["orderByNumber"]
    ids = [order["id"]] + [
        child["id"]
        for key in ("lineItems", "fulfillmentOrders", "shipments", "tickets")
        for child in order[key]
    ]
    body = await served.query(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id __typename } }", {"ids": ids}
    )
    assert [node["id"] for node in body["data"]["nodes"]] == ids
    assert body["data"]["nodes"][0]["__typename"] == "Order"
    for node_id in ids:
        body = await served.query("query($id: ID!) { node(id: $id) { id } }", {"id": node_id})
        assert body["data"]["node"] == {"id": node_id}
    body = await served.query("query($id: ID!) { order(id: $id) { number } }", {"id": order["id"]})
    assert body["data"]["order"] == {"number": record.number}


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ('{ order(id: "not-an-id") { id } }', "INVALID_ID", "id"),
        ('{ node(id: "%%%") { id } }', "INVALID_ID", "id"),
        ('{ orders(first: 5, after: "bogus") { nodes { id } } }', "BAD_USER_INPUT", "after"),
        ('{ orderByNumber(number: "  ") { id } }', "BAD_USER_INPUT", "number"),
    ],
)
async def test_bad_arguments_get_coded_errors(served, query, code, field):
    body = await served.query(query)
    (error,) = body["errors"]
    assert error["extensions"] == {"code": code, "field": field}
    assert "Traceback" not in error["message"]


async def test_an_order_id_of_another_type_is_rejected(served, dataset):
    record = _order_with_shipments_and_tickets(dataset)
    body = await served.query(
        "query($n: String!) { orderByNumber(number: $n) { lineItems { id } } }",
        {"n": record.number},
    )
    line_id = body["data"]["orderByNumber"]["lineItems"][0]["id"]
    body = await served.query("query($id: ID!) { order(id: $id) { id } }", {"id": line_id})
    assert body["errors"][0]["extensions"]["code"] == "INVALID_ID"


async def test_nodes_reports_a_bad_id_at_its_own_index(served, dataset):
    record = next(iter(dataset.orders.values()))
    body = await served.query(
        "query($n: String!) { orderByNumber(number: $n) { id } }", {"n": record.number}
    )
    good = body["data"]["orderByNumber"]["id"]
    body = await served.query(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [good, "garbage"]}
    )
    assert body["data"]["nodes"] == [{"id": good}, None]
    assert body["errors"][0]["path"] == ["nodes", 1]


async def test_pages_walk_every_matching_order_once(served, dataset):
    customer = max(
        {o.customer.id for o in dataset.orders.values()},
        key=lambda c: sum(o.customer.id == c for o in dataset.orders.values()),
    )
    expected = {o.number for o in dataset.orders.values() if o.customer.id == customer}
    assert len(expected) > 2
    seen: list[str] = []
    after = None
    while True:
        body = await served.query(
            ORDERS_PAGE,
            {"first": 2, "after": after, "filter": {"customerReference": customer}},
        )
        assert "errors" not in body
        page = body["data"]["orders"]
        seen += [edge["node"]["number"] for edge in page["edges"]]
        placed = [edge["node"]["placedAt"] for edge in page["edges"]]
        assert placed == sorted(placed, reverse=True)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(expected)


async def test_an_edge_cursor_continues_after_that_edge(served):
    body = await served.query("{ orders(first: 4) { edges { cursor node { number } } } }")
    edges = body["data"]["orders"]["edges"]
    body = await served.query(
        "query($a: String) { orders(first: 2, after: $a) { nodes { number } } }",
        {"a": edges[1]["cursor"]},
    )
    assert [n["number"] for n in body["data"]["orders"]["nodes"]] == [
        e["node"]["number"] for e in edges[2:]
    ]


async def test_status_filter(served, dataset):
    body = await served.query(
        """{ orders(first: 100, filter: {fulfillmentStatuses: [ON_HOLD]}) {
             nodes { fulfillmentStatus } } }"""
    )
    statuses = {node["fulfillmentStatus"] for node in body["data"]["orders"]["nodes"]}
    assert statuses == {"ON_HOLD"}


async def test_statuses_of_seeded_scenarios(served, dataset):
    expected = {
        "cancelled": "CANCELLED",
        "backorder": "BACKORDERED",
        "just_placed": "ORDER_PLACED",
    }
    for scenario, status in expected.items():
        order_id = next(o for o, s in dataset.scenarios.items() if s == scenario)
        number = dataset.orders[order_id].number
        body = await served.query(
            "query($n: String!) { orderByNumber(number: $n) { customerStatus } }", {"n": number}
        )
        assert body["data"]["orderByNumber"]["customerStatus"] == status, scenario


async def test_return_status_is_the_oms_one(served, dataset):
    by_status = {order.return_status: order for order in dataset.orders.values()}
    assert len(by_status) == 5
    query = "query($n: String!) { orderByNumber(number: $n) { returnStatus } }"
    for status, order in by_status.items():
        body = await served.query(query, {"n": order.number})
        assert body["data"]["orderByNumber"]["returnStatus"] == status.value


@pytest.fixture(scope="module")
async def gateway_without_carrier_and_tickets(sim) -> AsyncIterator[RunningGateway]:
    url, _dead = refusing_url()
    urls = {**sim.urls, "carrier": url, "ticketing": url}
    async with in_process_gateway(settings_for(urls)) as running:
        yield running


async def test_failing_sources_null_only_their_fields(gateway_without_carrier_and_tickets, dataset):
    record = _order_with_shipments_and_tickets(dataset)
    body = await gateway_without_carrier_and_tickets.query(
        ORDER_BY_NUMBER, {"number": record.number}
    )
    order = body["data"]["orderByNumber"]
    assert order["number"] == record.number
    assert order["customerStatus"]  # derived from the OMS alone
    assert all(line["availability"] for line in order["lineItems"])
    assert order["tickets"] is None and order["estimatedDelivery"] is None
    assert all(shipment["tracking"] is None for shipment in order["shipments"])
    by_path = {tuple(error["path"]): error for error in body["errors"]}
    assert by_path[("orderByNumber", "tickets")]["extensions"] == {
        "code": "SOURCE_UNAVAILABLE",
        "source": "ticketing",
        "retryable": True,
    }
    assert by_path[("orderByNumber", "shipments", 0, "tracking")]["extensions"]["source"] == (
        "carrier"
    )


async def test_timeline_eligibility_and_moved_estimate(served, dataset):
    record = _order_with_shipments_and_tickets(dataset)
    query = """query($n: String!) { orderByNumber(number: $n) {
      changeEligibility { cancel { allowed reasonCode } changeAddress { allowed reasonCode } }
      previousEstimatedDelivery { earliest }
      timeline(first: 3) { edges { cursor node { at kind source visibility message } }
                           pageInfo { hasNextPage endCursor } }
    } }"""
    body = await served.query(query, {"n": record.number})
    assert "errors" not in body, body["errors"]
    order = body["data"]["orderByNumber"]
    assert order["changeEligibility"]["cancel"]["allowed"] is False  # it has shipped
    first_page = order["timeline"]["edges"]
    assert first_page[0]["node"]["kind"] == "PLACED"
    seen = [e["node"]["at"] for e in first_page]
    after = order["timeline"]["pageInfo"]["endCursor"]
    while after:
        body = await served.query(
            """query($n: String!, $a: String) { orderByNumber(number: $n) {
                 timeline(first: 3, after: $a) { edges { node { at visibility } }
                                                pageInfo { endCursor hasNextPage } } } }""",
            {"n": record.number, "a": after},
        )
        page = body["data"]["orderByNumber"]["timeline"]
        seen += [e["node"]["at"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None
    assert seen == sorted(seen, key=lambda at: datetime.fromisoformat(at))
    assert len(seen) > 3


async def test_a_backordered_order_shows_its_wait_for_stock(served, dataset):
    """The seeded backorders: each waiting line's BACKORDERED entry and its restock
    dates, the last one the inventory's current expected date."""
    query = """query($n: String!) { orderByNumber(number: $n) {
      timeline(first: 100) { edges { node { at kind source visibility message
                                            subjectReference } } } } }"""
    moved = 0
    for order_id in dataset.order_ids("backorder"):
        record = dataset.orders[order_id]
        (fo,) = record.fulfillment_orders
        body = await served.query(query, {"n": record.number})
        assert "errors" not in body, body["errors"]
        nodes = [e["node"] for e in body["data"]["orderByNumber"]["timeline"]["edges"]]
        stock = [node for node in nodes if node["source"] == "INVENTORY"]
        assert stock and all(node["visibility"] == "CUSTOMER" for node in stock), record.number
        for line in record.lines:
            levels = dataset.inventory[line.sku].levels
            (level,) = [lv for lv in levels if lv.location_id == fo.location.id]
            mine = [node for node in stock if node["subjectReference"] == line.id]
            if level.available >= 0:
                assert mine == [], record.number
                continue
            since = max(record.placed_at, level.oversold_since or record.placed_at)
            backordered, *restocks = mine
            assert backordered["kind"] == "BACKORDERED"
            assert datetime.fromisoformat(backordered["at"]) == since
            assert [node["kind"] for node in restocks] == ["RESTOCK_EXPECTED"] * len(restocks)
            later = [e for e in level.restock_history if e.set_at > since]
            assert [datetime.fromisoformat(n["at"]) for n in restocks[1:]] == [
                e.set_at for e in later
            ]
            current = level.incoming_expected_at
            assert current and f"{current.day} {current:%b}" in restocks[-1]["message"]
            moved += len(restocks) > 1
    assert moved, "no seeded backorder had its restock date moved while waiting"


async def test_health_and_exceptions_of_a_lost_parcel(served, dataset):
    order_id = next(o for o, s in dataset.scenarios.items() if s == "lost")
    query = """query($n: String!) { orderByNumber(number: $n) {
      health exceptions { code severity detectedAt internal customerMessage recommendedAction
                          subject { kind id } evidence { key value } } } }"""
    body = await served.query(query, {"n": dataset.orders[order_id].number})
    assert "errors" not in body, body.get("errors")
    order = body["data"]["orderByNumber"]
    assert order["health"] == "FAILED"
    lost = next(e for e in order["exceptions"] if e["code"] == "LOST_OR_DAMAGED")
    assert lost["severity"] == "CRITICAL" and lost["subject"]["kind"] == "SHIPMENT"
    assert lost["customerMessage"] and lost["evidence"]
    assert all(e["detectedAt"].endswith("+00:00") for e in order["exceptions"])  # UTC
    body = await served.query(
        "query($id: ID!) { node(id: $id) { id } }", {"id": lost["subject"]["id"]}
    )
    assert body["data"]["node"] == {"id": lost["subject"]["id"]}
    severities = [e["severity"] for e in order["exceptions"]]
    rank = {"CRITICAL": 0, "WARNING": 1, "INFO": 2}
    assert severities == sorted(severities, key=rank.__getitem__)
