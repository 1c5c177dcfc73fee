"""The fault matrix: each of the four sources down, answering 500s, hanging past the
deadline, sending garbage, leaving records out, or slow within the deadline, on the
full order query. Always HTTP 200, the healthy sources' data present, typed errors
at the exact paths of the failing source's fields, and an answer within the
deadline plus 100 ms. What the gateway derives from every source (``health``,
``exceptions``, ``timeline``) is, over a list of orders, the answer all sources give or null with
the failing source's error: never another answer."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from sim.cluster import SimCluster, start_cluster
from sim.faults import FaultSpec
from tests.support.gateways import PATIENT_DEADLINE_MS, in_process_gateway, settings_for
from tests.support.ports import refusing_url
from tests.support.queries import ORDER_FIELDS
from tests.support.secured import secured_gateway

DEADLINE_MS = 800  # a hanging source's fields fail at it
# Every other fault answers or fails at once, and the slow source (300 ms) within the
# deadline: the test gateways' patient one, which a loaded host's reads of the healthy
# sources keep (at 800 ms, a cold OMS read once left inventory 226 ms; at 2 s, beside
# two busy loops, inventory and tickets timed out beside a carrier's partial answer).
FAULTS = {
    "down": None,  # connections refused
    "500s": FaultSpec(error_rate=1.0, error_status=500),
    "hang": FaultSpec(hang=True),
    "garbage": FaultSpec(garbage=True),
    "partial": FaultSpec(partial_batch=True),
    "slow": FaultSpec(latency_ms=300),
}
CODES = {
    "down": "SOURCE_UNAVAILABLE",
    "500s": "SOURCE_UNAVAILABLE",
    "hang": "SOURCE_TIMEOUT",
    "garbage": "SOURCE_BAD_RESPONSE",
    "partial": "SOURCE_BAD_RESPONSE",
}
# The full order, with what the gateway derives from every source.
FULL_ORDER = (
    """
query One($number: String!) {
  orderByNumber(number: $number) { ...FullOrder health exceptions { code } }
}
"""
    + ORDER_FIELDS
)
DERIVED_PAGE = """
query Derived($after: String) {
  orders(first: 100, after: $after) {
    nodes {
      number health
      exceptions { code severity detectedAt subject { kind id } evidence { key value } }
      timeline(first: 50) { edges { cursor node { at source kind message } } }
    }
    pageInfo { endCursor }
  }
}
"""
# The newest 300 orders: each source's failure changed some of their answers, silently,
# before it nulled these fields.
DERIVED_PAGES = 3
DERIVED = ("health", "exceptions", "timeline")


@pytest.fixture(scope="module")
async def cluster(make_dataset) -> AsyncIterator[SimCluster]:
    async with await start_cluster(make_dataset()) as running:
        yield running


def _order(dataset):
    """An order with two lines, a tracked parcel and tickets: every source feeds it."""
    return next(
        order
        for order in dataset.orders.values()
        if len({line.sku for line in order.lines}) >= 2
        and order.shipments
        and all(s.tracking_number in dataset.trackings for s in order.shipments)
        and dataset.tickets.get(order.id)
    )


def _fed_by(source: str, order: dict) -> set[tuple]:
    """The paths of the fields ``source`` feeds in the answer to the full query."""
    root = ("orderByNumber",)
    if source == "oms":
        return {root}
    derived = {(*root, field) for field in DERIVED}
    if source == "inventory":
        lines = {(*root, "lineItems", i, "availability") for i in range(len(order["lineItems"]))}
        return lines | derived
    if source == "carrier":
        parcels = {(*root, "shipments", i, "tracking") for i in range(len(order["shipments"]))}
        return parcels | {(*root, "estimatedDelivery")} | derived
    return {(*root, "tickets")} | derived


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("source", ["oms", "inventory", "carrier", "ticketing"])
async def test_one_failing_source_never_takes_the_order_down(cluster, source, fault):
    record = _order(cluster.dataset)
    urls = dict(cluster.urls)
    dead = None
    if FAULTS[fault] is None:
        urls[source], dead = refusing_url()
    else:
        cluster.set_faults(source, FAULTS[fault])
    try:
        deadline_ms = DEADLINE_MS if fault == "hang" else PATIENT_DEADLINE_MS
        settings = settings_for(urls, request_deadline_ms=deadline_ms)
        async with in_process_gateway(settings) as gateway:  # a cold cache: the source is asked
            started = time.monotonic()
            body = await gateway.query(FULL_ORDER, {"number": record.number})
            elapsed = time.monotonic() - started
    finally:
        cluster.set_faults(source, None)
        if dead is not None:
            dead.close()
    # At the deadline, not after the hang (30 s); the margin is for a loaded CI machine
    # (1.23 s was seen there once under another job's load).
    assert elapsed <= deadline_ms / 1000 + 0.6

    order = body["data"]["orderByNumber"]
    errors = body.get("errors", [])
    if fault == "slow":
        assert not errors and order["number"] == record.number
        return
    assert errors, "a failing source must be reported"
    paths = {tuple(error["path"]) for error in errors}
    if source == "oms":
        assert order is None and paths == {("orderByNumber",)}
    else:
        assert order["number"] == record.number  # the OMS's order stands
        assert paths <= _fed_by(source, order)
        for path in paths:  # exactly those fields are null
            value = body["data"]
            for step in path:
                value = value[step]
            assert value is None
        others = {"inventory", "carrier", "ticketing"} - {source}
        assert _healthy_fields_present(order, others)
    for error in errors:
        assert error["extensions"]["code"] == CODES[fault], error
        assert error["extensions"]["source"] == source
        assert isinstance(error["extensions"]["retryable"], bool)


def _healthy_fields_present(order: dict, sources: set[str]) -> bool:
    present = {
        "inventory": all(line["availability"] for line in order["lineItems"]),
        "carrier": all(parcel["tracking"] for parcel in order["shipments"]),
        "ticketing": order["tickets"] is not None,
    }
    return all(present[source] for source in sources)


async def _derived(cluster: SimCluster) -> tuple[dict[str, dict], list[dict]]:
    """The derived fields of the newest orders by number, from a cold gateway, and the
    answer's errors, each with the order's number in place of its index."""
    settings = settings_for(cluster.urls, max_cost=20_000)  # a page costs about 17,100
    orders: dict[str, dict] = {}
    errors: list[dict] = []
    after = None
    async with in_process_gateway(settings) as gateway:
        for _ in range(DERIVED_PAGES):
            body = await gateway.query(DERIVED_PAGE, {"after": after})
            page = body["data"]["orders"]
            for error in body.get("errors", []):
                _, _, index, *rest = error["path"]
                errors.append({**error, "path": [page["nodes"][index]["number"], *rest]})
            orders |= {node["number"]: node for node in page["nodes"]}
            after = page["pageInfo"]["endCursor"]
    return orders, errors


@pytest.fixture(scope="module")
async def derived_healthy(cluster) -> dict[str, dict]:
    orders, errors = await _derived(cluster)
    assert not errors, errors
    return orders


# A hanging source fails them as the others do, at the deadline: the full query above.
@pytest.mark.parametrize("fault", ["500s", "partial", "slow"])
@pytest.mark.parametrize("source", ["inventory", "carrier", "ticketing"])
async def test_derived_fields_are_right_or_null_when_a_source_fails(
    cluster, derived_healthy, source, fault
):
    cluster.set_faults(source, FAULTS[fault])
    try:
        orders, errors = await _derived(cluster)
    finally:
        cluster.set_faults(source, None)
    assert orders.keys() == derived_healthy.keys()
    failed = {tuple(error["path"]) for error in errors}
    for number, healthy in derived_healthy.items():
        for field in DERIVED:
            answer = orders[number][field]
            if answer is None:  # only with its source's error
                assert (number, field) in failed, (number, field)
            else:
                assert answer == healthy[field], (number, field, answer, healthy[field])
                assert (number, field) not in failed, (number, field)
    if fault == "slow":
        assert not errors
    else:
        assert errors, "a failing source must be reported"
    for error in errors:
        assert error["path"][-1] in DERIVED, error
        assert error["extensions"]["code"] == CODES[fault], error
        assert error["extensions"]["source"] == source, error


async def test_ticketing_failing_leaves_an_app_keys_health_standing(cluster, tmp_path):
    """Tickets feed only an internal exception (UNANSWERED_TICKET) and internal timeline
    events, which app and partner keys are never shown: their health, exceptions and
    timeline stand while ticketing fails, even for a key that may read tickets."""
    fields = "number health exceptions { code } timeline(first: 10) { edges { cursor } }"
    query = {"query": f"{{ orders(first: 20) {{ nodes {{ {fields} }} }} }}"}
    answers = []
    for faults in (None, FAULTS["500s"]):  # each from a cold gateway: nothing cached
        cluster.set_faults("ticketing", faults)
        try:
            async with secured_gateway(cluster.urls, tmp_path / str(len(answers))) as secured:
                answers.append((await secured.post(query, key="app_queue"))[1])  # reads all four
        finally:
            cluster.set_faults("ticketing", None)
    healthy, failing = answers
    assert "errors" not in healthy, healthy
    assert failing["data"] == healthy["data"]
    assert not [e for e in failing.get("errors", []) if e["path"][-1] in DERIVED], failing
