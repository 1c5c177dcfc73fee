"""A caller's bad input is answered by the gateway (BAD_USER_INPUT, INVALID_ID or a
mutation's userErrors) and never reaches a source, where it used to count as a
source failure."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from domain.eligibility import cancellable_quantities, change_eligibility, line_cancel_problem
from resolvers.relay import to_global_id
from sim.cluster import SimCluster, start_cluster
from sim.seed import Dataset
from sources.records import FinancialStatus, FulfillmentStatus, Order
from tests.support.gateways import in_process_gateway, settings_for
from tests.support.global_ids import b64
from tests.support.proxy import intercepting_proxy
from tests.support.queries import CANCEL
from tests.support.secured import Secured, secured_gateway


def _cursor(oms_raw: str) -> str:
    """A gateway cursor around an OMS cursor whose decoded text is ``oms_raw``."""
    return b64("og2:" + b64(oms_raw, pad=False))


ORDERS_AFTER = "query($a: String) { orders(first: 1, after: $a) { nodes { id } } }"
FORGED_CURSORS = {
    "garbage after the prefix": b64("og2:garbage"),
    "a naive timestamp": _cursor("2026-11-01T10:00:00|ord_100001"),
    "ids with commas": _cursor("2026-11-01T10:00:00+00:00|" + ",".join(["ord_1"] * 150)),
    "an empty id": _cursor("2026-11-01T10:00:00+00:00|"),
    "not a time": _cursor("yesterday|ord_100001"),
    "100 KB": b64("og2:" + "A" * 100_000),
    "a well-formed OMS cursor, unsealed": _cursor("2026-11-01T10:00:00+00:00|ord_100001"),
    "the unsealed format of old": b64("og1:" + b64("2026-11-01T10:00:00+00:00|ord_1")),
}


@pytest.mark.parametrize("case", FORGED_CURSORS)
async def test_a_forged_cursor_is_refused_without_calling_the_oms(served, sim, case):
    sim.reset_stats()
    body = await served.query(ORDERS_AFTER, {"a": FORGED_CURSORS[case]})
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}, case
    assert sim.stats("oms").requests == 0, case


async def test_a_real_cursor_still_pages(served):
    first = await served.query(
        "{ orders(first: 2) { nodes { id } pageInfo { endCursor } } }",
    )
    page = first["data"]["orders"]
    body = await served.query(
        "query($a: String) { orders(first: 2, after: $a) { nodes { id } } }",
        {"a": page["pageInfo"]["endCursor"]},
    )
    assert "errors" not in body
    after = [node["id"] for node in body["data"]["orders"]["nodes"]]
    assert len(after) == 2 and not set(after) & {node["id"] for node in page["nodes"]}


BAD_IDS = {
    "150 comma-separated ids": to_global_id("Order", ",".join(f"ord_{n}" for n in range(150))),
    "a blank": to_global_id("Order", " "),
    "a 100 KB id": to_global_id("Order", "9" * 100_000),
    "a comma in a line's order id": to_global_id("LineItem", "ord_1,ord_2", "li_1"),
}


@pytest.mark.parametrize("case", BAD_IDS)
@pytest.mark.parametrize(
    "query",
    [
        "query($id: ID!) { order(id: $id) { id } }",
        "query($id: ID!) { node(id: $id) { id } }",
        "query($id: ID!) { nodes(ids: [$id]) { id } }",
    ],
)
async def test_an_id_outside_the_source_grammar_is_refused_without_a_call(served, sim, case, query):
    sim.reset_stats()
    body = await served.query(query, {"id": BAD_IDS[case]})
    codes = {error["extensions"]["code"] for error in body["errors"]}
    assert codes == {"INVALID_ID"}, (case, body["errors"])
    assert sim.stats("oms").requests == 0, case


async def test_an_id_is_taken_only_as_the_gateway_spells_it(served, dataset):
    """A real order's and line's ids respelled (parts percent-encoded) are INVALID_ID:
    the order used to be found under an id it did not answer with, the line not at all."""
    record = next(o for o in dataset.orders.values() if "_" in o.id and "_" in o.lines[0].id)
    parts = (record.id, record.lines[0].id)
    spelled = [to_global_id("Order", parts[0]), to_global_id("LineItem", *parts)]
    respelled = [
        b64(":".join(("Order", parts[0].replace("_", "%5F"))), pad=False),
        b64(":".join(("LineItem", *(part.replace("_", "%5F") for part in parts))), pad=False),
    ]
    body = await served.query(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": spelled + respelled}
    )
    assert body["data"]["nodes"] == [{"id": spelled[0]}, {"id": spelled[1]}, None, None]
    refused = {tuple(error["path"]): error["extensions"]["code"] for error in body["errors"]}
    assert refused == {("nodes", 2): "INVALID_ID", ("nodes", 3): "INVALID_ID"}


async def test_a_refused_timeline_cursor_nulls_that_timeline_only(served):
    """A bad ``after`` on one order's timeline is an error at that timeline's path; the
    page of orders around it stands."""
    query = """{ orders(first: 2) { nodes { number
        timeline(first: 2, after: "not-a-cursor") { edges { cursor } } } } }"""
    body = await served.query(query)
    nodes = body["data"]["orders"]["nodes"]
    assert len(nodes) == 2 and all(n["number"] and n["timeline"] is None for n in nodes)
    assert {error["extensions"]["code"] for error in body["errors"]} == {"BAD_USER_INPUT"}
    assert {tuple(error["path"]) for error in body["errors"]} == {
        ("orders", "nodes", 0, "timeline"),
        ("orders", "nodes", 1, "timeline"),
    }


@pytest.mark.parametrize("number", [",", "1001,1002", "#", " 12 34 ", "9" * 100_000, "10\x0001"])
async def test_an_order_number_outside_the_grammar_is_refused_without_a_call(served, sim, number):
    sim.reset_stats()
    body = await served.query(
        "query($n: String!) { orderByNumber(number: $n) { id } }", {"n": number}
    )
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "number"}
    assert len(error["message"]) < 200  # a 100 KB literal is not echoed back
    assert sim.stats("oms").requests == 0


async def test_a_valid_number_with_a_hash_still_finds_its_order(served, dataset):
    order = next(iter(dataset.orders.values()))
    body = await served.query(
        "query($n: String!) { orderByNumber(number: $n) { number } }",
        {"n": f" #{order.number} "},
    )
    assert body["data"]["orderByNumber"] == {"number": order.number}


# --- the orders filter: checked, and in UTC, before the OMS is asked -------------------

ORDERS_FILTERED = "query($f: OrderFilter) { orders(first: 5, filter: $f) { nodes { id } } }"
BAD_FILTERS = {
    # case: (filter, code, field)
    "a time before year 1 in UTC": (
        {"placedFrom": "0001-01-01T00:00:00+05:00"},
        "BAD_USER_INPUT",
        "filter.placedFrom",
    ),
    "a time after year 9999 in UTC": (
        {"updatedSince": "9999-12-31T23:00:00-05:00"},
        "BAD_USER_INPUT",
        "filter.updatedSince",
    ),
    "placedFrom after placedTo": (
        {"placedFrom": "2026-11-02T00:00:00Z", "placedTo": "2026-11-01T00:00:00Z"},
        "BAD_USER_INPUT",
        "filter.placedFrom",
    ),
    "placedFrom after placedTo, once both are UTC": (
        {"placedFrom": "2026-11-01T00:00:00", "placedTo": "2026-11-01T04:00:00+05:00"},
        "BAD_USER_INPUT",
        "filter.placedFrom",
    ),
    "an empty customerReference": (
        {"customerReference": ""},
        "INVALID_ID",
        "filter.customerReference",
    ),
    "a blank customerReference": (
        {"customerReference": " "},
        "INVALID_ID",
        "filter.customerReference",
    ),
    "two customers in one customerReference": (
        {"customerReference": "cus_1,cus_2"},
        "INVALID_ID",
        "filter.customerReference",
    ),
    "a 100 KB customerReference": (
        {"customerReference": "9" * 100_000},
        "INVALID_ID",
        "filter.customerReference",
    ),
    "more fulfillment statuses than there are": (
        {"fulfillmentStatuses": ["FULFILLED"] * (len(FulfillmentStatus) + 1)},
        "BAD_USER_INPUT",
        "filter.fulfillmentStatuses",
    ),
    "more financial statuses than there are": (
        {"financialStatuses": ["PAID"] * 10_000},
        "BAD_USER_INPUT",
        "filter.financialStatuses",
    ),
}


@pytest.mark.parametrize("case", BAD_FILTERS)
async def test_a_bad_orders_filter_is_refused_without_calling_the_oms(served, sim, case):
    given, code, field = BAD_FILTERS[case]
    sim.reset_stats()
    body = await served.query(ORDERS_FILTERED, {"f": given})
    (error,) = body["errors"]
    assert error["extensions"] == {"code": code, "field": field}, (case, error)
    assert len(error["message"]) < 200  # a 100 KB literal is not echoed back
    assert sim.stats("oms").requests == 0, case


async def test_repeated_statuses_reach_the_oms_once_each(sim):
    """Every status of both enums, some twice, in lists no longer than their enums: the
    OMS is asked for each status once, in the order first given."""
    asked: list[dict[str, str]] = []

    async def record(request: web.Request) -> None:
        if request.path == "/orders/search":
            asked.append(dict(request.query))

    fulfillment = ["ON_HOLD", "FULFILLED", "ON_HOLD"]
    financial = ["PAID"] * len(FinancialStatus)
    async with (
        intercepting_proxy(sim.urls["oms"], record) as oms_url,
        in_process_gateway(settings_for({**sim.urls, "oms": oms_url})) as gateway,
    ):
        body = await gateway.query(
            ORDERS_FILTERED,
            {"f": {"fulfillmentStatuses": fulfillment, "financialStatuses": financial}},
        )
    assert "errors" not in body
    assert [(q["status"], q["financialStatus"]) for q in asked] == [("ON_HOLD,FULFILLED", "PAID")]


async def test_the_simulated_oms_answers_400_to_a_cursor_with_a_naive_timestamp(
    sim: SimCluster,
):
    naive = b64("2026-11-01T10:00:00|ord_100001", pad=False)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sim.urls['oms']}/orders/search", params={"cursor": naive}) as resp,
    ):
        assert resp.status == 400
        body = await resp.json()
    assert body["code"] == "BAD_REQUEST" and "cursor" in body["message"]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($n: Int = 5) { orders(first: $n) { nodes { id } } }", {"n": None}),
        ('query($id: ID = "T3JkZXI6b3JkXzE") { order(id: $id) { id } }', {"id": None}),
    ],
)
async def test_a_null_variable_where_a_default_stood_is_the_callers_error(served, query, variables):
    """Valid GraphQL (a defaulted variable may fill a non-null argument), but null is
    no value there: graphql-core refuses the argument as it runs, and that is the
    caller's input, not an internal error."""
    body = await served.query(query, variables)
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "Internal error" not in error["message"]


# --- orderCancel lines: checked against the order before the OMS is asked -----------


@pytest.fixture(scope="module")
async def cluster(make_dataset) -> AsyncIterator[SimCluster]:
    async with await start_cluster(make_dataset()) as running:
        yield running


@pytest.fixture(scope="module")
async def secured(cluster, tmp_path_factory) -> AsyncIterator[Secured]:
    async with secured_gateway(cluster.urls, tmp_path_factory.mktemp("keys")) as running:
        yield running


def _line_cancellable(cluster: SimCluster) -> Iterator[Order]:
    """Orders whose lines may still be cancelled, two lines or more."""
    for order in cluster.dataset.orders.values():
        if (
            change_eligibility(order).cancel_lines.allowed
            and len(cancellable_quantities(order)) > 1
        ):
            yield order


def _cancel_calls(cluster: SimCluster) -> int:
    return cluster.stats("oms").paths.get("/orders/{id}/cancel", 0)


async def _cancel_lines(secured: Secured, order: Order, lines: list[dict[str, Any]]):
    variables = {"input": {"orderId": to_global_id("Order", order.id), "reason": "CUSTOMER",
                           "lines": lines}}  # fmt: skip
    status, body, _ = await secured.post({"query": CANCEL, "variables": variables}, key="console")
    assert status == 200, body
    return body["data"]["orderCancel"]


def _line(order: Order, line_id: str, quantity: int) -> dict[str, Any]:
    return {"lineItemId": to_global_id("LineItem", order.id, line_id), "quantity": quantity}


BAD_LINES = {
    "quantity 0": (lambda o, a, b: [_line(o, a, 0)], "INVALID_QUANTITY"),
    "a negative quantity": (lambda o, a, b: [_line(o, a, -1)], "INVALID_QUANTITY"),
    "the same line twice": (lambda o, a, b: [_line(o, a, 1), _line(o, a, 1)], "DUPLICATE_LINE"),
    "no line at all": (lambda o, a, b: [], "NO_LINES"),
    "a line of another order": (
        lambda o, a, b: [{"lineItemId": to_global_id("LineItem", "ord_1", a), "quantity": 1}],
        "INVALID_ID",
    ),
    "an id the order does not have": (lambda o, a, b: [_line(o, "li_0", 1)], "NOT_A_LINE"),
    "a forged line id": (lambda o, a, b: [{"lineItemId": "%%%", "quantity": 1}], "INVALID_ID"),
    "more than is left": (lambda o, a, b: [_line(o, a, 1), _line(o, b, 10_000)], "TOO_MANY"),
}


@pytest.mark.parametrize("case", BAD_LINES)
async def test_bad_cancel_lines_are_user_errors_and_never_reach_the_oms(secured, cluster, case):
    order = next(_line_cancellable(cluster))
    first, second = list(cancellable_quantities(order))[:2]
    lines, code = BAD_LINES[case]
    cluster.reset_stats()
    payload = await _cancel_lines(secured, order, lines(order, first, second))
    assert payload["order"] is None
    (error,) = payload["userErrors"]
    assert (error["field"], error["code"]) == (["lines"], code), case
    assert _cancel_calls(cluster) == 0
    assert cluster.dataset.orders[order.id].cancelled_at is None


async def test_a_well_formed_line_cancel_still_reaches_the_oms(secured, cluster):
    order = list(_line_cancellable(cluster))[-1]
    first = next(iter(cancellable_quantities(order)))
    cluster.reset_stats()
    payload = await _cancel_lines(secured, order, [_line(order, first, 1)])
    assert payload["userErrors"] == [] and payload["order"] is not None
    assert _cancel_calls(cluster) == 1


def test_line_cancel_problem_names_the_first_line_at_fault(make_dataset):
    order = next(_line_cancellable_in(make_dataset(orders=300)))
    first, second = list(cancellable_quantities(order))[:2]
    assert line_cancel_problem(order, [(first, 1), (second, 1)]) is None
    problem = line_cancel_problem(order, [(first, 1), (second, 0)])
    assert problem is not None and (problem.index, problem.code) == (1, "INVALID_QUANTITY")
    problem = line_cancel_problem(order, [(first, 1), (first, 2)])
    assert problem is not None and (problem.index, problem.code) == (1, "DUPLICATE_LINE")


def _line_cancellable_in(dataset: Dataset) -> Iterator[Order]:
    for order in dataset.orders.values():
        if (
            change_eligibility(order).cancel_lines.allowed
            and len(cancellable_quantities(order)) > 1
        ):
            yield order


# --- a source's 4xx on a change: a user error, not an outage ------------------------


@contextlib.asynccontextmanager
async def _refusing_proxy(target: str, path_part: str) -> AsyncIterator[tuple[list[str], str]]:
    """A real proxy in front of a simulated source that answers 400 (with words of
    its own) to any POST whose path holds ``path_part``, and forwards the rest."""
    refused: list[str] = []

    async def intercept(request: web.Request) -> web.StreamResponse | None:
        if request.method != "POST" or path_part not in request.path:
            return None
        refused.append(request.path)
        return web.json_response(
            {"code": "BAD_REQUEST", "message": "internal detail: table orders_v2"},
            status=400,
        )

    async with intercepting_proxy(target, intercept) as url:
        yield refused, url


async def test_an_oms_400_on_a_cancel_is_a_user_error_and_not_a_failure(make_dataset, tmp_path):
    dataset = make_dataset(orders=300)
    async with (
        await start_cluster(dataset) as cluster,
        _refusing_proxy(cluster.urls["oms"], "/cancel") as (refused, proxy_url),
        secured_gateway({**cluster.urls, "oms": proxy_url}, tmp_path) as secured,
    ):
        order = next(_line_cancellable_in(dataset))
        payload = await _cancel_lines(secured, order, [])
        assert [e["code"] for e in payload["userErrors"]] == ["NO_LINES"] and refused == []
        first = next(iter(cancellable_quantities(order)))
        for _ in range(30):  # more than the breaker's min_calls (20)
            payload = await _cancel_lines(secured, order, [_line(order, first, 1)])
            assert payload["order"] is None
            (error,) = payload["userErrors"]
            assert error["code"] == "BAD_USER_INPUT" and "orders_v2" not in error["message"]
        assert len(refused) == 30
        assert secured.state is not None and secured.state.cached is not None
        assert secured.state.cached.upstreams.oms.breaker.state == "closed"
