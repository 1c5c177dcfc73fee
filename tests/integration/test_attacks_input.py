"""The attack suite, input side: values a caller forwards through the gateway
(cursors, ids, order numbers, cancel lines) are checked at the edge. Each gets a
stable code and no 5xx, the OMS sees no request, and a flood of them from one key
leaves another tenant's reads answering (the OMS breaker closed)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from domain.eligibility import cancellable_quantities, change_eligibility
from gateway.admission.gate import MAX_VALUE_NESTING
from gateway.auth.keys import parse_key
from gateway.auth.principal import TIERS
from resolvers.relay import to_global_id
from sources.resilience.breaker import CLOSED
from tests.support.gateways import gateway_at, in_process_gateway
from tests.support.global_ids import b64
from tests.support.queries import CANCEL
from tests.support.secured import TENANT_A, Secured, audit_entries, secured_settings
from tests.support.timing import HANG_S

FORGED = b64("og2:garbage")
NAIVE = b64("og2:" + b64("2026-11-01T10:00:00|ord_100001", pad=False))
COMMAS = to_global_id("Order", ",".join(f"ord_{n:06d}" for n in range(150)))
ORDERS_AFTER = "query($a: String) { orders(first: 1, after: $a) { nodes { id } } }"


@pytest.fixture(scope="module")
async def secured(sim, tmp_path_factory) -> AsyncIterator[Secured]:
    """These tests count what reaches the OMS and the errors answered, not how fast: the
    deadline and the source timeouts only bound a hang (the test settings' 3 s deadline
    ran out for the victim of the forged-cursor flood, its OMS read queued behind 500
    requests, at a host probe of 2.4x)."""
    hang_ms = int(HANG_S * 1000)
    settings, keys = await secured_settings(
        sim.urls,
        tmp_path_factory.mktemp("input-keys"),
        request_deadline_ms=hang_ms,
        source_options={"read_timeout_ms": hang_ms, "total_timeout_ms": hang_ms},
    )
    state = gateway_at(settings)
    async with in_process_gateway(settings, gateway=state) as gateway:
        yield Secured(gateway, keys, state)


def _oms_breaker(secured: Secured) -> str:
    assert secured.state is not None and secured.state.cached is not None
    return secured.state.cached.upstreams.oms.breaker.state


QUERY_ATTACKS: dict[str, tuple[str, dict[str, Any], str]] = {
    "a forged cursor": (ORDERS_AFTER, {"a": FORGED}, "BAD_USER_INPUT"),
    "a cursor with a naive time": (ORDERS_AFTER, {"a": NAIVE}, "BAD_USER_INPUT"),
    "a forged cursor as a literal": (
        f'{{ orders(first: 1, after: "{FORGED}") {{ nodes {{ id }} }} }}', {}, "BAD_USER_INPUT"
    ),
    "150 ids in one order id": (
        "query($id: ID!) { order(id: $id) { id } }", {"id": COMMAS}, "INVALID_ID"
    ),
    "150 ids through node": ("query($id: ID!) { node(id: $id) { id } }", {"id": COMMAS},
                             "INVALID_ID"),
    "150 ids through nodes": (
        "query($id: ID!) { nodes(ids: [$id, $id]) { id } }", {"id": COMMAS}, "INVALID_ID"
    ),
    "a comma for a number": ('{ orderByNumber(number: ",") { id } }', {}, "BAD_USER_INPUT"),
    # (a 100 KB literal in the document itself is refused earlier: DOCUMENT_TOO_LARGE)
    "a 10 KB number literal": (
        '{ orderByNumber(number: "' + "9" * 10_000 + '") { id } }', {}, "BAD_USER_INPUT"
    ),
    "a 100 KB number in a variable": (
        "query($n: String!) { orderByNumber(number: $n) { id } }",
        {"n": "9" * 100_000},
        "BAD_USER_INPUT",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", QUERY_ATTACKS)
@pytest.mark.parametrize("key", ["free", "app_b"])
async def test_a_bad_value_is_answered_at_the_edge(secured, stats, case, key):
    query, variables, code = QUERY_ATTACKS[case]
    status, body, _ = await secured.post({"query": query, "variables": variables}, key=key)
    assert status == 200, body
    assert {error["extensions"]["code"] for error in body["errors"]} == {code}, body
    assert all(len(error["message"]) < 300 for error in body["errors"])
    assert (await stats.requests())["oms"] == 0, "a bad value reached the OMS"


def _cancellable_order(sim) -> Any:
    return next(
        order
        for order in sim.dataset.orders.values()
        if order.account_id == TENANT_A
        and change_eligibility(order).cancel_lines.allowed
        and len(cancellable_quantities(order)) > 1
    )


@pytest.mark.parametrize(
    ("case", "quantities", "code"),
    [
        ("quantity 0", [0], "INVALID_QUANTITY"),
        ("a negative quantity", [-5], "INVALID_QUANTITY"),
        ("the same line twice", [1, 1], "DUPLICATE_LINE"),
    ],
)
async def test_bad_cancel_lines_never_reach_the_oms(secured, sim, stats, case, quantities, code):
    order = _cancellable_order(sim)
    line_id = next(iter(cancellable_quantities(order)))
    lines = [
        {"lineItemId": to_global_id("LineItem", order.id, line_id), "quantity": quantity}
        for quantity in quantities
    ]
    variables = {"input": {"orderId": to_global_id("Order", order.id), "reason": "CUSTOMER",
                           "lines": lines}}  # fmt: skip
    status, body, _ = await secured.post({"query": CANCEL, "variables": variables}, key="writer_a")
    assert status == 200, body
    assert [e["code"] for e in body["data"]["orderCancel"]["userErrors"]] == [code], case
    read = await stats.read()
    assert read["oms"]["paths"].get("/orders/{id}/cancel", 0) == 0
    assert sim.dataset.orders[order.id].cancelled_at is None


async def test_a_flood_of_forged_cursors_leaves_another_tenant_answering(secured, stats):
    """A forged-cursor attack, ten times over: 500 forged cursors from one key (before
    the edge checked them, ~45 opened the OMS breaker for every tenant), while a key
    of another tenant lists orders. No forged cursor reaches the OMS; the other
    tenant's every answer is clean and the breaker stays closed."""
    attacker: list[set[str]] = []
    victim: list[dict[str, Any]] = []
    attacking = True

    async def attack(worker: int) -> None:
        for i in range(worker, 500, 10):
            cursor = FORGED if i % 2 else b64(f"og2:{i}|" + "x" * i)
            _, body, _ = await secured.post(
                {"query": ORDERS_AFTER, "variables": {"a": cursor}}, key="app"
            )
            attacker.append({error["extensions"]["code"] for error in body.get("errors", [])})

    async def read_orders() -> None:
        # A client reading now and then (a cached answer comes back at once: without a
        # pause the loop would spend this key's cost budget on its own).
        while attacking:
            _, body, _ = await secured.post({"query": ORDERS_AFTER}, key="app_b")
            victim.append(body)
            await asyncio.sleep(0.01)

    reading = asyncio.create_task(read_orders())
    await asyncio.gather(*(attack(worker) for worker in range(10)))
    attacking = False
    await reading

    assert len(attacker) == 500 and all(codes == {"BAD_USER_INPUT"} for codes in attacker)
    assert victim and [body for body in victim if "errors" in body] == []
    assert _oms_breaker(secured) == CLOSED
    # Every search is one of the victim's (those not answered by the response cache).
    searched = [b for b in victim if "response" not in b["extensions"].get("cache", {})]
    assert (await stats.read())["oms"]["paths"].get("/orders/search", 0) == len(searched)


async def test_a_partner_forging_cursors_through_a_trusted_document_reaches_nothing(secured, stats):
    """A partner's way in: a trusted document with an ``$after``
    variable. Its forged cursors are refused at the edge like any other."""
    for i in range(20):  # (each costs 22 of the partner's 1,000-point bucket)
        cursor = FORGED if i % 2 else b64(f"og2:{i}|" + "x" * i)
        status, body, _ = await secured.post(
            {"documentId": "orders-after", "variables": {"after": cursor}}, key="partner_a"
        )
        assert status == 200, body
        assert {error["extensions"]["code"] for error in body["errors"]} == {"BAD_USER_INPUT"}
    assert (await stats.requests())["oms"] == 0, "a forged cursor reached the OMS"
    status, body, _ = await secured.post(
        {"documentId": "orders-after", "variables": {"after": None}}, key="partner_a"
    )
    assert status == 200 and "errors" not in body, body
    assert body["data"]["orders"]["nodes"]


# --- values nested deeper than the gateway keeps: refused first, for every key ---------


def _nested(levels: int) -> list[Any]:
    """``levels`` lists, one inside the other."""
    value: list[Any] = []
    for _ in range(levels - 1):
        value = [value]
    return value


# orjson, which keys the response cache, read 300 levels and could not write them back:
# a 500 for every key, after its cost was charged.
TOO_DEEP = {"a": _nested(300)}
DEEP_REQUESTS = {
    "an app's query": ("app", {"query": "{ __typename }"}),
    "a console's query": ("console", {"query": "{ __typename }"}),
    "a partner's trusted document": ("partner_a", {"documentId": "orders-page"}),
}


@pytest.mark.parametrize("where", ["variables", "extensions"])
@pytest.mark.parametrize("case", DEEP_REQUESTS)
async def test_deeply_nested_values_are_a_400_for_every_key(secured, stats, caplog, case, where):
    key, payload = DEEP_REQUESTS[case]
    with caplog.at_level(logging.INFO, logger="ordergraph.audit"):
        status, body, _ = await secured.post({**payload, where: TOO_DEEP}, key=key)
    assert status == 400, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    limit = f"{where} may nest lists and objects at most {MAX_VALUE_NESTING} levels"
    assert limit in error["message"], error
    (line,) = audit_entries(caplog.records)
    assert (line["outcome"], line["code"]) == ("denied", "BAD_REQUEST")
    assert (await stats.requests())["oms"] == 0


async def test_the_nesting_limit_is_the_variables_own_depth(secured):
    """The variables object is the first level: 32 levels run, 33 are refused."""
    query = "{ __typename }"  # (a variable it does not declare is read all the same)
    for levels, status in [(MAX_VALUE_NESTING, 200), (MAX_VALUE_NESTING + 1, 400)]:
        variables = {"a": _nested(levels - 1)}
        answer, body, _ = await secured.post({"query": query, "variables": variables}, key="app")
        assert answer == status, (levels, body)
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_deeply_nested_variables_over_get_are_a_400(secured):
    params = {"query": "{ __typename }", "variables": json.dumps(TOO_DEEP)}
    headers = {"authorization": f"Bearer {secured.keys['app']}"}
    async with secured.gateway.session.get(
        f"{secured.gateway.url}/graphql", params=params, headers=headers
    ) as resp:
        body = await resp.json(content_type=None)
        assert resp.status == 400, body
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_deeply_nested_variables_are_refused_before_the_bucket_is_charged(secured):
    """With its bucket empty, a key sending a new document (its analysis costs 9
    points) with variables too deep gets their 400, not THROTTLED: nothing was charged."""
    assert secured.state is not None and secured.state.bucket is not None
    bucket, tier = secured.state.bucket, TIERS["free"]
    key_id = parse_key(secured.keys["free_attacker"]).key_id
    left = await bucket.take(key_id, 0, tier.capacity, tier.refill_per_s)
    assert (await bucket.take(key_id, left.available, tier.capacity, tier.refill_per_s)).allowed
    query = "{ __typename } # " + "x" * 16_000
    status, body, _ = await secured.post(
        {"query": query, "variables": TOO_DEEP}, key="free_attacker"
    )
    assert (status, body["errors"][0]["extensions"]["code"]) == (400, "BAD_REQUEST"), body
