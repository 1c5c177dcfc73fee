"""Access through the real edge with API keys: tenant isolation on every path and in
the cache, scopes on fields, masked personal data, trusted documents and APQ, the
cost bucket, and the audit trail."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import math
import re
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from graphql import (
    GraphQLObjectType,
    Undefined,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
    is_non_null_type,
)
from graphql.execution.values import get_variable_values

from gateway.admission import gate
from gateway.admission.gate import Admitted
from gateway.auth.keys import generate_key, parse_key
from gateway.auth.principal import TIERS
from gateway.auth.store import open_key_store
from gateway.persisted import APQ_DOCUMENTS_PER_KEY
from gateway.response_cache import ResponseCache
from resolvers.access import ScopeMap
from resolvers.relay import to_global_id
from resolvers.schema import build_schema
from resolvers.scopes import ALL_SCOPES
from tests.support.cross_tenant import order_of
from tests.support.proxy import intercepting_proxy
from tests.support.queries import CANCEL
from tests.support.secured import (
    MANIFEST,
    ORDER_VIEW,
    PEPPER,
    TENANT_A,
    TENANT_B,
    Secured,
    audit_entries,
    secured_gateway,
)


@pytest.fixture(scope="module")
async def secured(sim, tmp_path_factory) -> AsyncIterator[Secured]:
    async with secured_gateway(sim.urls, tmp_path_factory.mktemp("keys")) as running:
        yield running


async def test_each_tenant_sees_its_own_order(secured, dataset):
    """Another tenant's ids, through every path, are the attack suite's."""
    for key, tenant in (("app_a", TENANT_A), ("app_b", TENANT_B)):
        order = order_of(dataset, tenant)
        status, body, _ = await secured.post(
            {"query": ORDER_VIEW, "variables": {"n": order.number}}, key=key
        )
        assert status == 200 and body["data"]["orderByNumber"]["number"] == order.number


async def test_the_order_list_holds_only_the_callers_account(secured, dataset):
    query = "{ orders(first: 100) { nodes { number } } }"
    _, body, _ = await secured.post({"query": query}, key="app_a")
    numbers = {node["number"] for node in body["data"]["orders"]["nodes"]}
    own = {o.number for o in dataset.orders.values() if o.account_id == TENANT_A}
    assert numbers and numbers <= own


@contextlib.asynccontextmanager
async def _oms_ignoring_accounts(target: str) -> AsyncIterator[str]:
    """A real proxy in front of the OMS that lists orders of every account whatever
    ``accountId`` it is asked for: an adapter that does not apply the search's account."""

    async def unscoped(request: web.Request) -> web.StreamResponse | None:
        if request.path != "/orders/search":
            return None
        query = [(name, value) for name, value in request.query.items() if name != "accountId"]
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{target}/orders/search", params=query) as upstream,
        ):
            body = await upstream.read()
            return web.Response(
                body=body, status=upstream.status, content_type=upstream.content_type
            )

    async with intercepting_proxy(target, unscoped) as url:
        yield url


CAREFUL_PAGES = """query($after: String) {
  orders(first: 100, after: $after, filter: {placedFrom: "2026-11-16T00:00:00Z"}) {
    nodes { number } pageInfo { hasNextPage endCursor } } }"""


async def test_the_order_list_holds_only_the_callers_account_whatever_the_oms_lists(
    sim, dataset, tmp_path, caplog
):
    """Over an OMS adapter that lists every account's orders, a tenant's pages still
    hold its own orders only, each once, all of them (each page resumes after what it
    dropped), and the adapter is named in a warning."""
    placed_from = datetime(2026, 11, 16, tzinfo=UTC)
    own = {
        o.number
        for o in dataset.orders.values()
        if o.account_id == TENANT_A and o.placed_at >= placed_from
    }
    listed: list[str] = []
    async with (
        _oms_ignoring_accounts(sim.urls["oms"]) as oms_url,
        secured_gateway({**sim.urls, "oms": oms_url}, tmp_path) as careless,
    ):
        after = None
        with caplog.at_level(logging.WARNING, logger="ordergraph.sources"):
            for _ in range(len(dataset.orders) // 100 + 1):
                payload = {"query": CAREFUL_PAGES, "variables": {"after": after}}
                _, body, _ = await careless.post(payload, key="app_a")
                page = body["data"]["orders"]
                listed += [node["number"] for node in page["nodes"]]
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
    assert own and sorted(listed) == sorted(own)
    warnings = [r.getMessage() for r in caplog.records if r.name == "ordergraph.sources"]
    assert warnings and all("OmsClient" in warning for warning in warnings)


async def test_a_warm_cache_never_crosses_tenants(secured, dataset):
    order_b = order_of(dataset, TENANT_B)
    payload = {"query": ORDER_VIEW, "variables": {"n": order_b.number}}
    _, warm, _ = await secured.post(payload, key="app_b")  # tenant B warms the cache
    assert warm["data"]["orderByNumber"]["number"] == order_b.number
    _, body, _ = await secured.post(payload, key="app_a")  # the same query from tenant A
    assert body["data"] == {"orderByNumber": None}
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_fields_out_of_scope_are_null_with_an_error_and_pii_is_masked(secured, dataset):
    order = order_of(dataset, TENANT_A)
    payload = {"query": ORDER_VIEW, "variables": {"n": order.number}}
    _, body, _ = await secured.post(payload, key="app_a")  # no inventory:read, no pii:read
    view = body["data"]["orderByNumber"]
    assert view["customer"]["email"] is None and view["customer"]["phone"] is None
    assert view["customer"]["name"]  # not personal in the sense of the scopes
    if view["shippingAddress"]:
        assert view["shippingAddress"]["line1"] is None and view["shippingAddress"]["city"]
    assert all(line["availability"] is None for line in view["lineItems"])
    assert view["tickets"] is not None and view["shipments"][0]["tracking"] is not None
    denied = {tuple(p for p in e["path"] if isinstance(p, str)) for e in body["errors"]}
    assert denied == {("orderByNumber", "lineItems", "availability")}
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UNAUTHORIZED_FIELD"}

    _, body, _ = await secured.post(payload, key="app_a_pii")  # pii:read, no tickets:read
    view = body["data"]["orderByNumber"]
    assert view["customer"]["email"] == order.customer.email
    assert view["tickets"] is None
    assert all(line["availability"] for line in view["lineItems"])


CARRIER_VIEW = """query($n: String!) { orderByNumber(number: $n) {
  customerStatus health exceptions { code } timeline(first: 100) { edges { node { source } } }
} }"""


async def test_without_inventory_read_the_timeline_tells_no_stock_wait(secured, dataset):
    order_id = dataset.order_ids("backorder")[0]
    payload = {"query": CARRIER_VIEW, "variables": {"n": dataset.orders[order_id].number}}
    _, full, _ = await secured.post(payload, key="app")  # inventory:read, customer's view
    assert "INVENTORY" in {
        e["node"]["source"] for e in full["data"]["orderByNumber"]["timeline"]["edges"]
    }
    _, limited, _ = await secured.post(payload, key="orders_only")
    edges = limited["data"]["orderByNumber"]["timeline"]["edges"]
    assert edges and "INVENTORY" not in {e["node"]["source"] for e in edges}


@pytest.mark.parametrize(
    ("scenario", "carrier_status", "carrier_health"),
    [
        ("out_for_delivery", "OUT_FOR_DELIVERY", None),  # on track or late, by the clock
        ("return_to_sender", "RETURNING_TO_SENDER", "FAILED"),
        ("lost", "SHIPPED", "FAILED"),
    ],
)
async def test_without_shipments_read_nothing_comes_from_the_carrier(
    secured, dataset, scenario, carrier_status, carrier_health
):
    order_id = next(o for o, s in dataset.scenarios.items() if s == scenario)
    payload = {"query": CARRIER_VIEW, "variables": {"n": dataset.orders[order_id].number}}
    _, full, _ = await secured.post(payload, key="app")  # the customer's view, all of it
    view = full["data"]["orderByNumber"]
    assert view["customerStatus"] == carrier_status and view["health"]
    assert carrier_health in (None, view["health"])
    assert "CARRIER" in {e["node"]["source"] for e in view["timeline"]["edges"]}

    _, limited, _ = await secured.post(payload, key="orders_only")
    view = limited["data"]["orderByNumber"]
    # The OMS alone: shipped, and no health claimed over a parcel it cannot see.
    assert view["customerStatus"] == "SHIPPED"
    assert view["health"] is None
    ((path, code),) = [(e["path"], e["extensions"]["code"]) for e in limited["errors"]]
    assert (path, code) == (["orderByNumber", "health"], "UNAUTHORIZED_FIELD")
    carrier_codes = {e["code"] for e in full["data"]["orderByNumber"]["exceptions"]}
    assert not carrier_codes & {e["code"] for e in view["exceptions"]}
    assert "CARRIER" not in {e["node"]["source"] for e in view["timeline"]["edges"]}


async def test_without_pii_read_the_signers_name_is_masked_everywhere(secured, dataset):
    order = next(
        o for o in dataset.orders.values()
        if any((t := dataset.trackings.get(s.tracking_number or "")) and t.signed_by
               for s in o.shipments)
    )  # fmt: skip
    signer = next(
        t.signed_by for s in order.shipments
        if (t := dataset.trackings.get(s.tracking_number or "")) and t.signed_by
    )  # fmt: skip
    query = """query($n: String!) { orderByNumber(number: $n) {
      shipments { tracking { signedBy message events { message } } }
      timeline(first: 100) { edges { node { message } } } } }"""
    payload = {"query": query, "variables": {"n": order.number}}
    _, full, _ = await secured.post(payload, key="console")
    assert signer in json.dumps(full["data"])
    _, masked, _ = await secured.post(payload, key="no_pii")
    assert "errors" not in masked  # masked, as the other personal data
    assert signer not in json.dumps(masked["data"]).upper()
    shipments = masked["data"]["orderByNumber"]["shipments"]
    assert all(s["tracking"]["signedBy"] is None for s in shipments if s["tracking"])
    assert "[name withheld]" in json.dumps(masked["data"])


async def test_partners_run_trusted_documents_only(secured, dataset):
    order = order_of(dataset, TENANT_A)
    variables = {"n": order.number}
    status, body, _ = await secured.post(
        {"query": ORDER_VIEW, "variables": variables}, key="partner_a"
    )
    assert (status, body["errors"][0]["extensions"]["code"]) == (403, "PERSISTED_QUERY_REQUIRED")
    status, body, _ = await secured.post(
        {"documentId": "order-by-number", "variables": variables}, key="partner_a"
    )
    assert status == 200 and body["data"]["orderByNumber"]["number"] == order.number
    assert body["data"]["orderByNumber"]["tickets"] is None  # a partner without tickets:read


async def test_a_partner_runs_a_trusted_document_over_get(secured, dataset):
    """What a CDN can cache: the document named in the URL, as over POST."""
    order = order_of(dataset, TENANT_A)
    params = {"documentId": "order-by-number", "variables": json.dumps({"n": order.number})}
    headers = {"authorization": f"Bearer {secured.keys['partner_a']}"}
    gateway = secured.gateway
    async with gateway.session.get(
        f"{gateway.url}/graphql", params=params, headers=headers
    ) as resp:
        status, body = resp.status, await resp.json(content_type=None)
    assert status == 200, body
    assert body["data"]["orderByNumber"]["number"] == order.number


async def test_automatic_persisted_queries(secured):
    query = "{ orders(first: 1) { nodes { number } } }"
    digest = hashlib.sha256(query.encode()).hexdigest()
    apq = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    status, body, _ = await secured.post({"extensions": apq}, key="app")
    assert (status, body["errors"][0]["extensions"]["code"]) == (200, "PERSISTED_QUERY_NOT_FOUND")
    status, body, _ = await secured.post({"query": query, "extensions": apq}, key="app")
    assert status == 200 and body["data"]["orders"]["nodes"]
    status, body, _ = await secured.post({"extensions": apq}, key="app")  # now known
    assert status == 200 and body["data"]["orders"]["nodes"]
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    status, body, _ = await secured.post({"query": query, "extensions": wrong}, key="app")
    assert (status, body["errors"][0]["extensions"]["code"]) == (
        400,
        "PERSISTED_QUERY_HASH_MISMATCH",
    )


async def test_each_key_may_store_only_so_many_apq_documents(sim, tmp_path):
    """Past its budget a key's new documents run but are not kept; those it stored
    and another key's are."""

    def apq(query: str) -> dict[str, Any]:
        digest = hashlib.sha256(query.encode()).hexdigest()
        return {"persistedQuery": {"version": 1, "sha256Hash": digest}}

    queries = [f"{{ n{n}: __typename }}" for n in range(APQ_DOCUMENTS_PER_KEY + 1)]
    async with secured_gateway(sim.urls, tmp_path) as fresh:  # budgets full
        for query in queries:
            status, body, _ = await fresh.post(
                {"query": query, "extensions": apq(query)}, key="app"
            )
            assert status == 200 and body["data"], body  # each one runs
        other = "{ other: __typename }"
        await fresh.post({"query": other, "extensions": apq(other)}, key="app_a")
        found = {}
        for query in (queries[0], queries[-2], queries[-1], other):
            _, body, _ = await fresh.post({"extensions": apq(query)}, key="app")
            found[query] = "data" in body
    assert found == {queries[0]: True, queries[-2]: True, queries[-1]: False, other: True}


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        # the variable does not coerce (an Int), so nothing runs
        ("query($n: Int!) { orders(first: $n) { nodes { number } } }", {"n": 100.5}),
        # the document fails validation
        ("query($n: Int!) { orders(first: $n) { nodes { numbr } } }", {"n": 100}),
    ],
)
async def test_a_request_refused_before_it_runs_is_charged_a_point_not_its_cost(
    secured, query, variables
):
    """A client's bug cannot spend its budget on refusals (each is priced at about
    101 points, half the free tier's bucket), yet a flood of them still spends it."""
    left = []
    for _ in range(3):
        status, body, _ = await secured.post(
            {"query": query, "variables": variables}, key="free_attacker"
        )
        assert status == 400, body
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        report = body["extensions"]["cost"]
        assert report["requestedQueryCost"] > 100
        left.append(report["throttleStatus"]["currentlyAvailable"])
    # Each repeat (the document analysed once) takes a point; the bucket refills meanwhile.
    assert all(before - after <= 1.05 for before, after in itertools.pairwise(left)), left


async def test_a_request_refused_for_its_cost_is_refused_before_its_variables_are_coerced(
    secured, monkeypatch
):
    """Coercing 20,000 ids costs about 10 ms of the event loop (a request refused at
    once took 15 ms, not 4): a request over the cost limit is refused unread."""
    coerced = []

    def spy(*args: Any) -> Any:
        coerced.append(args)
        return get_variable_values(*args)

    monkeypatch.setattr(gate, "get_variable_values", spy)
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    ids = [to_global_id("Order", "ord_000001")] * 20_000
    status, body, _ = await secured.post({"query": query, "variables": {"ids": ids}}, key="app")
    assert status == 400, body
    assert body["errors"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    assert coerced == []
    status, body, _ = await secured.post({"query": query, "variables": {"ids": ids[:2]}}, key="app")
    assert status == 200, body
    assert len(coerced) == 1  # the spy sees what an affordable request coerces


async def test_the_cost_bucket_throttles_when_drained_and_recovers(secured, dataset):
    # The free tier holds 200 points and refills 20 a second.
    query = "{ orders(first: 20) { nodes { number lineItems { sku } } } }"
    status, body, _ = await secured.post({"query": query}, key="free")
    cost = body["extensions"]["cost"]
    assert status == 200 and cost["requestedQueryCost"] > 50
    assert cost["throttleStatus"]["maximumAvailable"] == 200
    throttled = None
    for _ in range(5):
        status, body, headers = await secured.post({"query": query}, key="free")
        if status == 429:
            throttled = (body, headers)
            break
    assert throttled is not None, "the bucket never ran dry"
    body, headers = throttled
    extensions = body["errors"][0]["extensions"]
    assert extensions["code"] == "THROTTLED"
    # Like Shopify's: what was asked, what is left, and how fast it comes back.
    report = extensions["cost"]
    bucket = report["throttleStatus"]
    assert report["requestedQueryCost"] == cost["requestedQueryCost"]
    assert bucket["maximumAvailable"] == 200 and bucket["restoreRate"] == 20
    # (the bucket is reported to 0.1: at worst equal to the cost, and the wait is
    # worked out from the unrounded level, so it may differ by a second)
    assert 0 <= bucket["currentlyAvailable"] <= report["requestedQueryCost"]
    missing = report["requestedQueryCost"] - bucket["currentlyAvailable"]
    wait = max(1, math.ceil(missing / bucket["restoreRate"]))
    assert abs(int(headers["retry-after"]) - wait) <= 1
    await asyncio.sleep(int(headers["retry-after"]))
    status, _, _ = await secured.post({"query": query}, key="free")
    assert status == 200


async def test_a_query_a_key_can_never_afford_is_refused_for_good(secured):
    """Above the key's bucket (free: 200) but within the gateway's limit (1,000): no
    429 with a Retry-After that could never come true."""
    query = "{ orders(first: 60) { nodes { number lineItems { sku } } } }"
    status, body, headers = await secured.post({"query": query}, key="free")
    assert status != 429 and "retry-after" not in headers
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    report = error["extensions"]["cost"]
    assert report["maximumAvailable"] == 200 and 200 < report["requestedQueryCost"] <= 1000
    assert f"{report['requestedQueryCost']}" in error["message"] and "200" in error["message"]
    assert "data" not in body


async def test_the_actual_cost_is_what_the_answer_holds(secured, dataset):
    customer = next(o.customer.id for o in dataset.orders.values() if o.account_id == TENANT_A)
    query = """query($c: String) { orders(first: 20, filter: {customerReference: $c}) {
      nodes { number lineItems { sku } } } }"""
    _, body, _ = await secured.post({"query": query, "variables": {"c": customer}}, key="app_a")
    nodes = body["data"]["orders"]["nodes"]
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 1 + 20 * (1 + 5)  # 20 orders of 5 lines assumed
    # The connection, and each order returned with its lines.
    assert cost["actualQueryCost"] == 1 + sum(1 + len(n["lineItems"]) for n in nodes)
    assert 0 < len(nodes) < 20 and cost["actualQueryCost"] < cost["requestedQueryCost"]


async def test_batches_when_enabled_are_capped_and_charged_per_operation(sim, tmp_path):
    """Off by default (the attack suite's BATCHING_DISABLED); enabled, at most
    ``max_batch`` operations, each admitted and charged on its own."""
    async with secured_gateway(sim.urls, tmp_path, batching=True, max_batch=3) as batching:
        status, body, _ = await batching.post([{"query": "{ __typename }"}] * 4, key="app")
        assert (status, body["errors"][0]["extensions"]["code"]) == (400, "BATCH_TOO_LARGE")
        status, body, _ = await batching.post([{"query": "{ __typename }"}] * 3, key="app")
        assert (
            status == 200 and [answer["data"] for answer in body] == [{"__typename": "Query"}] * 3
        )
        # 121 points each; the free tier holds 200: the bucket has room for one of two.
        query = "{ orders(first: 20) { nodes { number lineItems { sku } } } }"
        status, body, _ = await batching.post([{"query": query}] * 2, key="free")
        assert status == 200
        ran = [answer for answer in body if "data" in answer]
        throttled = [
            answer["errors"][0]["extensions"]["code"] for answer in body if "data" not in answer
        ]
        assert len(ran) == 1 and throttled == ["THROTTLED"]
        assert ran[0]["extensions"]["cost"]["requestedQueryCost"] == 121


def _broken(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug: keying the answer of an operation named ``Broken`` raises (as keying
    variables nested deeper than orjson writes did)."""
    key = ResponseCache.key

    def broken(self: ResponseCache, admitted: Admitted) -> str:
        if admitted.analysis.name == "Broken":
            raise RuntimeError("a bug")
        return key(self, admitted)

    monkeypatch.setattr(ResponseCache, "key", broken)


def _masked(error: dict[str, Any], records: list[logging.LogRecord]) -> None:
    """``error`` is masked, its correlation id on the logged traceback."""
    assert error["message"] == "Internal error." and "a bug" not in json.dumps(error)
    extensions = error["extensions"]
    assert extensions["code"] == "INTERNAL_SERVER_ERROR", error
    (logged,) = [r for r in records if extensions["correlationId"] in r.getMessage()]
    assert logged.exc_info is not None and "a bug" in str(logged.exc_info[1])


async def test_an_operation_failing_in_a_batch_is_masked_and_its_siblings_answers_stand(
    sim, tmp_path, monkeypatch, caplog
):
    """The batch is a 200 with every answer: the siblings ran (a mutation too), only
    the failing operation's is INTERNAL_SERVER_ERROR."""
    _broken(monkeypatch)
    cancel = {"query": CANCEL, "variables": {"input": {
        "orderId": to_global_id("Order", "ord_999999"), "reason": "CUSTOMER"}}}  # fmt: skip
    batch = [cancel, {"query": "query Broken { __typename }"}, {"query": "{ __typename }"}]
    async with secured_gateway(sim.urls, tmp_path, batching=True) as batching:
        with caplog.at_level(logging.ERROR, logger="ordergraph.errors"):
            status, body, _ = await batching.post(batch, key="writer_a")
    assert status == 200, body
    cancelled, failed, read = body
    assert cancelled["data"]["orderCancel"]["userErrors"], cancelled
    (error,) = failed["errors"]
    _masked(error, caplog.records)
    assert "data" not in failed and read["data"] == {"__typename": "Query"}


async def test_an_unexpected_failure_is_a_masked_500_in_json(secured, monkeypatch, caplog):
    _broken(monkeypatch)
    with caplog.at_level(logging.ERROR, logger="ordergraph.errors"):
        status, body, headers = await secured.post(
            {"query": "query Broken { __typename }"}, key="app"
        )
    assert status == 500 and headers["content-type"].startswith("application/"), body
    (error,) = body["errors"]
    _masked(error, caplog.records)


async def test_outside_dev_mode_the_page_a_keyed_request_comes_from_is_no_matter(secured):
    """The origin rule is dev mode's, where a request without a key is the console."""
    for headers in ({"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}):
        status, body, _ = await secured.post(
            {"query": "{ __typename }"}, key="app", headers=headers
        )
        assert status == 200 and body["data"] == {"__typename": "Query"}, body


async def test_denials_are_audited_without_variables(secured, dataset, caplog):
    order = order_of(dataset, TENANT_A)
    with caplog.at_level(logging.INFO, logger="ordergraph.audit"):
        await secured.post({"query": ORDER_VIEW, "variables": {"n": order.number}}, key="app_a")
        await secured.post({"query": "{ __typename }"}, headers={"x-api-key": "og_live_bad"})
    lines = audit_entries(caplog.records)
    scoped = next(line for line in lines if line["code"] == "UNAUTHORIZED_FIELD")
    assert scoped["tenant"] == TENANT_A and scoped["keyId"]
    assert scoped["operation"] == "OrderView" and len(scoped["documentHash"]) == 64
    assert {"LineItem.availability", "Customer.email"} <= set(scoped["denied"])
    assert any(line["code"] == "API_KEY_MALFORMED" for line in lines)
    # Never variable values: the number as a word of its own (a request id's hex may
    # hold its digits).
    assert re.search(rf"\b{order.number}\b", json.dumps(lines)) is None, lines


async def test_a_query_with_fields_out_of_scope_is_one_audit_line(sim, tmp_path, caplog):
    """UNAUTHORIZED_FIELD once it is admitted; refused by the cost bucket, only
    THROTTLED, naming the fields out of scope."""
    query = "{ orders(first: 10) { nodes { number lineItems { availability { sku } } } } }"
    async with secured_gateway(sim.urls, tmp_path) as fresh:  # a full bucket
        codes = []
        for _ in range(2):  # 161 points each; the free tier holds 200
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="ordergraph.audit"):
                status, _, _ = await fresh.post({"query": query}, key="free")
            (line,) = audit_entries(caplog.records)
            assert line["outcome"] == "denied" and "LineItem.availability" in line["denied"]
            codes.append((status, line["code"]))
    assert codes == [(200, "UNAUTHORIZED_FIELD"), (429, "THROTTLED")]


UNKNOWN_KEY = "og_test_abcdefghijkl_" + "S3cr3t" * 7 + "x"


REFUSALS = [
    ("over a limit", {"json": {"query": "{ " + "a { " * 11 + "b" + " }" * 12}},
     "MAX_DEPTH_EXCEEDED", "app"),
    ("over the cost limit", {"json": {"query": "{ a: orders(first: 100) { nodes { "
                                       "lineItems { availability { sku } } } } }"}},
     "COST_LIMIT_EXCEEDED", "app"),
    ("a batch", {"json": [{"query": "{ __typename }"}] * 2}, "BATCHING_DISABLED", "app"),
    ("invalid JSON", {"data": b"{", "headers": {"content-type": "application/json"}},
     "BAD_REQUEST", None),
    ("text/plain (CSRF)", {"data": b"{}", "headers": {"content-type": "text/plain"}},
     "UNSUPPORTED_MEDIA_TYPE", None),
    ("a body too large", {"json": {"query": "{ __typename }", "pad": "x" * 1_100_000}},
     "PAYLOAD_TOO_LARGE", None),
    ("an unknown key", {"json": {"query": "{ __typename }"},
                        "headers": {"authorization": f"Bearer {UNKNOWN_KEY}"}},
     "API_KEY_INVALID", ("abcdefghijkl", None)),
    ("an expired key", {"json": {"query": "{ __typename }"}}, "API_KEY_EXPIRED", "expired"),
    ("a mutation out of scope", {"json": {"query": "mutation M { orderCancel(input: "
                                          "{orderId: \"x\", reason: CUSTOMER}) "
                                          "{ userErrors { code } } }"}},
     "FORBIDDEN", "app"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "request_options", "code", "who"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
async def test_every_refusal_is_audited_once(secured, caplog, case, request_options, code, who):
    """Refusals before execution are denials in the audit trail, with the key's id
    once the key is read (a refused key's too), or the id the request presents when it
    is refused before that (unverified); never a secret."""
    options = dict(request_options)
    headers = {"accept": "application/graphql-response+json", **options.pop("headers", {})}
    if isinstance(who, str):
        headers["authorization"] = f"Bearer {secured.keys[who]}"
        key_id, tenant = parse_key(secured.keys[who]).key_id, "*"
    elif who is not None:
        key_id, tenant = who
        headers.setdefault("authorization", f"Bearer {secured.keys['app']}")
    else:  # refused before the key is read: the id it presents, unverified
        key_id, tenant = parse_key(secured.keys["app"]).key_id, None
        headers["authorization"] = f"Bearer {secured.keys['app']}"
    with caplog.at_level(logging.INFO, logger="ordergraph.audit"):
        async with secured.gateway.session.post(
            f"{secured.gateway.url}/graphql", headers=headers, **options
        ) as resp:
            body = await resp.json(content_type=None)
            assert resp.status >= 400
    assert body["errors"][0]["extensions"]["code"] == code
    (line,) = audit_entries(caplog.records)
    assert (line["outcome"], line["code"]) == ("denied", code)
    assert (line["keyId"], line["tenant"]) == (key_id, tenant)
    assert line["time"] and line["correlationId"] != "-"
    assert "S3cr3t" not in caplog.text and secured.keys["app"] not in caplog.text


# --- every guarded field is enforced: a walk over the schema's @requiresScopes ----------

SCHEMA = build_schema()
GUARDED = ScopeMap(SCHEMA).guarded  # "Type.field" -> the scope sets that allow it


def _lacking(coordinate: str) -> frozenset[str]:
    """Scopes a key must lack to be refused ``coordinate``: all it could use."""
    return frozenset().union(*GUARDED[coordinate])


def _readable(coordinate: str, lacking: frozenset[str]) -> bool:
    return any(not (needed & lacking) for needed in GUARDED.get(coordinate, (frozenset(),)))


def _argument(type_: Any, values: dict[str, str]) -> str | None:
    named = get_named_type(type_).name
    if named not in values:
        return None
    return f"[{values[named]}]" if is_list_type(get_nullable_type(type_)) else values[named]


def _selection(owner: GraphQLObjectType, name: str, values: dict[str, str]) -> str | None:
    """``name`` with its required arguments filled from ``values``, or None."""
    arguments = []
    for arg_name, arg in owner.fields[name].args.items():
        if is_non_null_type(arg.type) and arg.default_value is Undefined:
            value = _argument(arg.type, values)
            if value is None:
                return None
            arguments.append(f"{arg_name}: {value}")
    return f"{name}({', '.join(arguments)})" if arguments else name


def _path_to(
    target: str, lacking: frozenset[str], values: dict[str, str]
) -> tuple[GraphQLObjectType, list[str]]:
    """The root and shortest chain of selections from it to an object of ``target``
    that a key lacking ``lacking`` may read: from Query where one leads there, else
    from Mutation (a payload)."""
    for root in (SCHEMA._schema.query_type, SCHEMA._schema.mutation_type):
        assert root is not None
        frontier: deque[tuple[GraphQLObjectType, list[str]]] = deque([(root, [])])
        seen = {root.name}
        while frontier:
            type_, path = frontier.popleft()
            if type_.name == target:
                return root, path
            for name, definition in type_.fields.items():
                named = get_named_type(definition.type)
                selection = _selection(type_, name, values)
                if (
                    isinstance(named, GraphQLObjectType)
                    and named.name not in seen
                    and selection is not None
                    and _readable(f"{type_.name}.{name}", lacking)
                ):
                    seen.add(named.name)
                    frontier.append((named, [*path, selection]))
    raise AssertionError(f"no readable path to {target}")


def _at(data: Any, names: list[str]) -> list[Any]:
    """The values under ``names``, through lists; a null on the way counts as null."""
    if data is None:
        return [None]
    if isinstance(data, list):
        return [value for item in data for value in _at(item, names)]
    if not names:
        return [data]
    return _at(data.get(names[0]), names[1:])


def _rich_order(dataset):
    """An order with every personal field filled, tickets and a signed parcel: so a
    masked null is a masking, not an absence."""
    return next(
        o for o in dataset.orders.values()
        if (a := o.shipping_address) and all([a.name, a.line1, a.line2, a.postal_code, a.phone,
                                               o.customer.email, o.customer.phone])
        and dataset.tickets.get(o.id)
        and any((t := dataset.trackings.get(s.tracking_number or "")) and t.signed_by
                for s in o.shipments)
    )  # fmt: skip


async def test_every_guarded_field_is_enforced(secured, dataset):
    """For each field carrying @requiresScopes, a key without its scopes gets it
    masked (pii:read: null, no error) or null with UNAUTHORIZED_FIELD at its path
    (queries), or the operation refused whole (mutations, subscriptions, and a
    mutation selecting a guarded field of its payload). A new guarded field whose
    resolver forgets to check fails here."""
    assert secured.state is not None
    order = _rich_order(dataset)
    mutation = SCHEMA._schema.mutation_type
    assert mutation is not None
    inputs = {
        get_named_type(arg.type).name: "$input"
        for definition in mutation.fields.values()
        for arg in definition.args.values()
    }
    values = {"ID": json.dumps(to_global_id("Order", order.id)),
              "String": json.dumps(order.number), "Int": "1", **inputs}  # fmt: skip
    store = open_key_store(secured.state.settings.keys_url)
    keys: dict[frozenset[str], str] = {}
    try:
        for coordinate in GUARDED:
            lacking = _lacking(coordinate)
            if lacking not in keys:
                keys[lacking], record = generate_key(
                    pepper=PEPPER, env="test", tenant="*", scopes=sorted(ALL_SCOPES - lacking),
                    client_class="app", tier="internal",
                )  # fmt: skip
                await store.put(record)
    finally:
        await store.close()
    assert {
        "Shipment.tracking",
        "Order.tickets",
        "LineItem.availability",
        "TicketAddCommentPayload.ticket",
        "OrderCancelPayload.order",
    } <= GUARDED.keys()

    async def ask(query: str, key: str, headers: dict[str, str] | None = None):
        async with secured.gateway.session.post(
            f"{secured.gateway.url}/graphql",
            json={"query": query},
            headers={"authorization": f"Bearer {key}", **(headers or {})},
        ) as resp:
            return resp.status, await resp.json(content_type=None)

    for coordinate in GUARDED:
        type_name, field_name = coordinate.split(".")
        lacking = _lacking(coordinate)
        if type_name in ("Mutation", "Subscription"):
            stream = {"accept": "text/event-stream"} if type_name == "Subscription" else {}
            status, body = await ask(
                f"{type_name.lower()} {{ {field_name} {{ __typename }} }}", keys[lacking], stream
            )
            assert (status, body["errors"][0]["extensions"]["code"]) == (403, "FORBIDDEN")
            continue
        owner = SCHEMA._schema.get_type(type_name)
        assert isinstance(owner, GraphQLObjectType)
        root, path = _path_to(type_name, lacking, values)
        leaf = _selection(owner, field_name, values)
        assert leaf is not None, coordinate
        if is_composite_type(get_named_type(owner.fields[field_name].type)):
            leaf += " { __typename }"
        query = "{ " + " { ".join([*path, leaf]) + " }" * (len(path) + 1)
        names = [p.split("(")[0] for p in path] + [field_name]
        if root is mutation:
            # $input is never sent: were the mutation admitted, it could not run.
            (argument,) = mutation.fields[names[0]].args.values()
            query = f"mutation($input: {argument.type}) {query}"
            status, body = await ask(query, keys[lacking])
            assert (status, body["errors"][0]["extensions"]["code"]) == (403, "FORBIDDEN")
            _, body = await ask(query, secured.keys["console"])
            # With the scopes it is admitted, and stops at the missing $input.
            code = body["errors"][0]["extensions"]["code"]
            assert code == "GRAPHQL_VALIDATION_FAILED", (coordinate, body)
            continue

        _, full = await ask(query, secured.keys["console"])
        assert "errors" not in full, (coordinate, full)
        _, limited = await ask(query, keys[lacking])
        assert all(value is None for value in _at(limited["data"], names)), (coordinate, limited)
        if GUARDED[coordinate] == (frozenset({"pii:read"}),):  # personal data: masked
            assert any(value is not None for value in _at(full["data"], names)), coordinate
            assert "errors" not in limited, (coordinate, limited)
        else:
            errors = limited.get("errors", [])
            assert errors and all(
                e["extensions"]["code"] == "UNAUTHORIZED_FIELD"
                and [p for p in e["path"] if isinstance(p, str)] == names
                for e in errors
            ), (coordinate, limited)


def test_manifest_documents_are_valid_operations():
    assert all(doc.lstrip().startswith("query") for doc in MANIFEST.values())


async def test_app_keys_see_customer_events_only(secured, dataset):
    order = next(
        o for o in dataset.orders.values()
        if o.account_id == TENANT_A and dataset.tickets.get(o.id)
    )  # fmt: skip
    query = """query($n: String!) { orderByNumber(number: $n) {
      timeline(first: 100) { edges { node { visibility kind } } } } }"""
    _, body, _ = await secured.post({"query": query, "variables": {"n": order.number}}, key="app_a")
    kinds = {e["node"]["visibility"] for e in body["data"]["orderByNumber"]["timeline"]["edges"]}
    assert kinds == {"CUSTOMER"}
    _, body, _ = await secured.post(
        {"query": query, "variables": {"n": order.number}},
        key="console",
    )
    kinds = {e["node"]["visibility"] for e in body["data"]["orderByNumber"]["timeline"]["edges"]}
    assert "INTERNAL" in kinds  # the console sees the tickets' events


async def test_internal_exceptions_are_for_consoles_only(secured, dataset):
    order_id = next(o for o, s in dataset.scenarios.items() if s == "fraud_hold")
    query = """query($n: String!) { orderByNumber(number: $n) {
      health exceptions { code internal } } }"""
    payload = {"query": query, "variables": {"n": dataset.orders[order_id].number}}
    _, console, _ = await secured.post(payload, key="console")
    _, app, _ = await secured.post(payload, key="app")
    console_codes = {e["code"] for e in console["data"]["orderByNumber"]["exceptions"]}
    app_codes = {e["code"] for e in app["data"]["orderByNumber"]["exceptions"]}
    assert "FRAUD_REVIEW" in console_codes and "FRAUD_REVIEW" not in app_codes
    assert not any(e["internal"] for e in app["data"]["orderByNumber"]["exceptions"])


GUESSED = "{ orderz(first: 1) { nodes { number } } }"


async def test_suggestions_and_introspection_follow_the_introspection_scope(secured):
    """Whoever asks first, the validation cache never hands one caller's allowance to
    another: the same document is answered with and without suggestions in turn."""
    for key, suggests in [("console", True), ("app", False), ("console", True), ("app", False)]:
        status, body, _ = await secured.post({"query": GUESSED}, key=key)
        (error,) = body["errors"]
        assert (status, error["extensions"]["code"]) == (400, "GRAPHQL_VALIDATION_FAILED")
        assert error["message"].startswith("Cannot query field 'orderz' on type 'Query'.")
        assert ("Did you mean 'order' or 'orders'?" in error["message"]) is suggests, key
    status, body, _ = await secured.post({"query": "{ __schema { queryType { name } } }"},
                                         key="console")  # fmt: skip
    assert status == 200 and body["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    status, body, _ = await secured.post({"query": "{ __schema { queryType { name } } }"},
                                         key="app")  # fmt: skip
    assert (status, body["errors"][0]["extensions"]["code"]) == (403, "INTROSPECTION_DISABLED")


BIG_MUTATION = """mutation Cancel($input: OrderCancelInput!) { orderCancel(input: $input) {
  order { number lineItems { availability { locations { available } } }
          shipments { tracking { events { message } } }
          timeline(first: 100) { edges { node { kind } } } }
  userErrors { code } } }"""


async def test_a_mutation_over_get_is_405_before_scopes_and_the_bucket(secured, dataset):
    order = order_of(dataset, TENANT_A)
    variables = {"input": {"orderId": to_global_id("Order", order.id), "reason": "CUSTOMER"}}
    params = {"query": BIG_MUTATION, "variables": json.dumps(variables)}
    for key in ("app_a", "writer_a"):  # without orders:write, and with it
        headers = {"authorization": f"Bearer {secured.keys[key]}"}
        async with secured.gateway.session.get(
            f"{secured.gateway.url}/graphql", params=params, headers=headers
        ) as resp:
            body = await resp.json()
            assert (resp.status, resp.headers["allow"]) == (405, "POST"), (key, body)
        assert body["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"

    async def available() -> float:
        assert secured.state is not None and secured.state.bucket is not None
        tier = TIERS["standard"]
        key_id = parse_key(secured.keys["writer_a"]).key_id
        state = await secured.state.bucket.take(key_id, 0, tier.capacity, tier.refill_per_s)
        return state.available

    # The mutation costs 319 points, 6 s of refill: a charge would show.
    assert await available() == TIERS["standard"].capacity
    status, _, _ = await secured.post(
        {"query": "{ orders(first: 50) { nodes { number } } }"}, key="writer_a"
    )
    assert status == 200 and await available() < TIERS["standard"].capacity - 40


async def test_apq_remembers_only_documents_that_were_admitted(secured):
    not_kept = {
        "not valid": GUESSED,
        "over the depth limit": "{ " + "a { " * 11 + "b" + " }" * 12,
        "too large to keep": '{ orderByNumber(number: "' + "9" * 20_000 + '") { number } }',
        "throttled": "{ orders(first: 100) { nodes { lineItems { sku } } } }",  # 600 > 200
    }
    for case, query in not_kept.items():
        digest = hashlib.sha256(query.encode()).hexdigest()
        apq = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
        key = "free" if case == "throttled" else "app"
        await secured.post({"query": query, "extensions": apq}, key=key)
        status, body, _ = await secured.post({"extensions": apq}, key="app")
        assert (status, body["errors"][0]["extensions"]["code"]) == (
            200,
            "PERSISTED_QUERY_NOT_FOUND",
        ), case
