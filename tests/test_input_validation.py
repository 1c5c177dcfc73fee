"""A caller's bad input is answered by the gateway (BAD_USER_INPUT, INVALID_ID or a
mutation's userErrors) and never reaches a source, where it used to count as a
source failure (issue 11, point 2)."""

from __future__ import annotations

import base64

import aiohttp
import pytest

from resolvers.relay import to_global_id
from sources.sim.cluster import SimCluster


def _b64(text: str, *, pad: bool = True) -> str:
    encoded = base64.urlsafe_b64encode(text.encode()).decode()
    return encoded if pad else encoded.rstrip("=")


def _cursor(oms_raw: str) -> str:
    """A gateway cursor around an OMS cursor whose decoded text is ``oms_raw``."""
    return _b64("og1:" + _b64(oms_raw, pad=False))


ORDERS_AFTER = "query($a: String) { orders(first: 1, after: $a) { nodes { id } } }"
FORGED_CURSORS = {
    "garbage after the prefix": _b64("og1:garbage"),
    "a naive timestamp": _cursor("2026-11-01T10:00:00|ord_100001"),
    "ids with commas": _cursor("2026-11-01T10:00:00+00:00|" + ",".join(["ord_1"] * 150)),
    "an empty id": _cursor("2026-11-01T10:00:00+00:00|"),
    "not a time": _cursor("yesterday|ord_100001"),
    "100 KB": _b64("og1:" + "A" * 100_000),
}


@pytest.mark.parametrize("case", FORGED_CURSORS)
async def test_a_forged_cursor_is_refused_without_calling_the_oms(gateway, sim, case):
    sim.reset_stats()
    body = await gateway.query(ORDERS_AFTER, {"a": FORGED_CURSORS[case]})
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}, case
    assert sim.stats("oms").requests == 0, case


async def test_a_real_cursor_still_pages(gateway):
    first = await gateway.query(
        "{ orders(first: 2) { nodes { id } pageInfo { endCursor } } }",
    )
    page = first["data"]["orders"]
    body = await gateway.query(
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
async def test_an_id_outside_the_source_grammar_is_refused_without_a_call(
    gateway, sim, case, query
):
    sim.reset_stats()
    body = await gateway.query(query, {"id": BAD_IDS[case]})
    codes = {error["extensions"]["code"] for error in body["errors"]}
    assert codes == {"INVALID_ID"}, (case, body["errors"])
    assert sim.stats("oms").requests == 0, case


@pytest.mark.parametrize("number", [",", "1001,1002", "#", " 12 34 ", "9" * 100_000, "10\x0001"])
async def test_an_order_number_outside_the_grammar_is_refused_without_a_call(gateway, sim, number):
    sim.reset_stats()
    body = await gateway.query(
        "query($n: String!) { orderByNumber(number: $n) { id } }", {"n": number}
    )
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "number"}
    assert len(error["message"]) < 200  # a 100 KB literal is not echoed back
    assert sim.stats("oms").requests == 0


async def test_a_valid_number_with_a_hash_still_finds_its_order(gateway, dataset):
    order = next(iter(dataset.orders.values()))
    body = await gateway.query(
        "query($n: String!) { orderByNumber(number: $n) { number } }",
        {"n": f" #{order.number} "},
    )
    assert body["data"]["orderByNumber"] == {"number": order.number}


async def test_the_simulated_oms_answers_400_to_a_cursor_with_a_naive_timestamp(
    sim: SimCluster,
):
    naive = _b64("2026-11-01T10:00:00|ord_100001", pad=False)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sim.urls['oms']}/orders/search", params={"cursor": naive}) as resp,
    ):
        assert resp.status == 400
        body = await resp.json()
    assert body["code"] == "BAD_REQUEST" and "cursor" in body["message"]
