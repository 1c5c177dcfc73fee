"""Fields declared as one load (``resolvers.loader_fields``) in a compiled plan: the
same answers as the reference executor, one batch per source for the whole answer,
no task per field, no load for a field the caller may not read; and errors listed in
the answer's order whichever executor ran (``gateway.error_format.in_answer_order``).

The loaders are real ``DataLoader``s over the generated data set, in memory."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest
from aiodataloader import DataLoader
from graphql import parse
from msgspec.structs import replace

from gateway.error_format import format_error, in_answer_order
from resolvers.access import FULL_ACCESS, ScopeMap
from resolvers.compiled import execute_compiled
from resolvers.loaders import Loaders
from resolvers.relay import to_global_id
from resolvers.schema import PreparedDocument, build_schema
from resolvers.types.inventory import InventoryAvailability
from sim.seed import Dataset
from sources.cache.through import CacheCounts, Cached, Freshness
from sources.failures import SourceError
from tests.support.clocks import ManualClock
from tests.support.gateways import FIXED_NOW

SCHEMA = build_schema()
SCOPES = ScopeMap(SCHEMA)
QUERY = """query($ids: [ID!]!) { nodes(ids: $ids) { ... on Order {
  number tickets { subject status }
  lineItems { sku availability { available locations { locationId available } } }
  shipments { trackingNumber tracking { status message } }
} } }"""


class Source:
    """A batch function over ``records`` that remembers each batch it was asked; a
    ``failure`` is every key's answer when set."""

    def __init__(self, records: Mapping[str, Any]) -> None:
        self.records = records
        self.batches: list[list[str]] = []
        self.failure: SourceError | None = None

    async def load(self, keys: list[str]) -> list[Any]:
        self.batches.append(list(keys))
        await asyncio.sleep(0)  # answers come later, as over the network
        if self.failure is not None:
            return [self.failure for _ in keys]
        return [Cached(self.records.get(key), Freshness.FRESH, 0.0) for key in keys]


def sources(dataset: Dataset) -> dict[str, Source]:
    return {
        "order_by_id": Source(dataset.orders),
        "order_by_number": Source({}),
        "inventory_by_sku": Source(dataset.inventory),
        "tracking_by_number": Source(dataset.trackings),
        "tickets_by_order": Source(dataset.tickets),
        "comments_by_ticket": Source({}),  # the data set's tickets carry their comments
    }


def context(
    found: dict[str, Source], scopes: frozenset[str] = FULL_ACCESS.scopes, internal: bool = True
) -> Any:
    loaders = Loaders(**{name: DataLoader(source.load) for name, source in found.items()})
    access = SCOPES.access("*", scopes, internal=internal)
    clock = ManualClock(FIXED_NOW)
    return SimpleNamespace(access=access, counts=CacheCounts(), loaders=loaders, clock=clock)


async def compiled(found: dict[str, Source], variables: dict[str, Any], scopes: frozenset[str]):
    document = PreparedDocument(QUERY, parse(QUERY))
    result = await execute_compiled(SCHEMA, document, variables, context(found, scopes), None)
    assert result is not None, "compiled"
    return result


async def reference(found: dict[str, Source], variables: dict[str, Any], scopes: frozenset[str]):
    ctx = context(found, scopes)
    return await SCHEMA.execute(QUERY, variable_values=variables, context_value=ctx)


def answer(result: Any) -> tuple[Any, list[dict[str, Any]]]:
    errors = in_answer_order(result.errors or (), result.data)
    return result.data, [format_error(e, suggestions=False) for e in errors]


@pytest.fixture(scope="module")
def data(make_dataset: Any) -> Dataset:
    return make_dataset(orders=40)


def order_ids(data: Dataset, count: int = 12) -> list[str]:
    """Orders with lines, shipments (some without a tracking number) and tickets."""
    ordered = sorted(data.orders.values(), key=lambda order: order.number)
    shipped = [o for o in ordered if o.shipments][: count // 2]
    rest = [o for o in ordered if o not in shipped][: count - len(shipped)]
    return [to_global_id("Order", order.id) for order in shipped + rest]


@pytest.mark.parametrize("executor", [compiled, reference], ids=["compiled", "reference"])
async def test_a_page_of_orders_asks_each_source_one_batch(data, executor):
    found = sources(data)
    result = await executor(found, {"ids": order_ids(data)}, FULL_ACCESS.scopes)
    assert not result.errors, result.errors
    orders = result.data["nodes"]
    assert any(line["availability"] for order in orders for line in order["lineItems"])
    assert any(s["tracking"] for order in orders for s in order["shipments"])
    assert any(order["tickets"] for order in orders)
    for name in ("inventory_by_sku", "tracking_by_number", "tickets_by_order"):
        assert len(found[name].batches) == 1, (name, found[name].batches)
    numbers = {s["trackingNumber"] for o in orders for s in o["shipments"] if s["trackingNumber"]}
    assert set(found["tracking_by_number"].batches[0]) == numbers  # none for a missing one


async def test_answers_equal_the_reference_executors_with_a_failing_source_and_scopes(data):
    variables = {"ids": order_ids(data)}
    partner = frozenset({"orders:read", "tickets:read"})  # no inventory, no shipments
    for scopes, failing in ((FULL_ACCESS.scopes, None), (partner, "tickets_by_order")):
        answers = []
        for executor in (compiled, reference):
            found = sources(data)
            if failing is not None:
                found[failing].failure = SourceError(
                    "ticketing", "SOURCE_UNAVAILABLE", "down", retryable=True
                )
            answers.append(answer(await executor(found, variables, scopes)))
        assert answers[0] == answers[1]
    data_, errors = answers[0]
    codes = {error["extensions"]["code"] for error in errors}
    assert codes == {"UNAUTHORIZED_FIELD", "SOURCE_UNAVAILABLE"}
    assert all(order["tickets"] is None for order in data_["nodes"])


async def test_a_field_built_on_read_that_fails_is_null_at_its_path_as_in_the_reference(
    data, monkeypatch
):
    """Its error is the field's, located at it, and the null goes only as far as its
    nearest nullable parent (``available`` is non-null: ``availability``)."""

    def fails(stock: InventoryAvailability) -> int:
        raise ValueError("a builder's bug")

    monkeypatch.setattr(InventoryAvailability.__dict__["available"], "_build", fails)
    variables = {"ids": order_ids(data)}
    answers = []
    for executor in (compiled, reference):
        data_, errors = answer(await executor(sources(data), variables, FULL_ACCESS.scopes))
        for error in errors:
            error["extensions"].pop("correlationId", None)
        answers.append((data_, errors))
    assert answers[0] == answers[1]
    data_, errors = answers[0]
    assert errors and {tuple(e["path"][-2:]) for e in errors} == {("availability", "available")}
    lines = [line for order in data_["nodes"] for line in order["lineItems"]]
    assert lines and all(line["sku"] and line["availability"] is None for line in lines)


TIMELINE = """query($ids: [ID!]!) { nodes(ids: $ids) { ... on Order {
  number timeline(first: 50) { edges { node { kind source } } } } } }"""


@pytest.mark.parametrize("internal", [True, False], ids=["console", "app"])
async def test_a_timeline_whose_ticket_comments_cannot_be_read(data, internal):
    """Comments read apart from their tickets (Zendesk), and that read failing: a
    console's timeline is null with ticketing's error rather than a ticket told without
    what was said; an app key, shown no ticket events, reads no comments and keeps it."""
    with_tickets = [o for o in data.orders.values() if data.tickets.get(o.id)][:3]
    found = sources(data)
    found["tickets_by_order"] = Source(
        {
            order.id: [replace(t, comments=None) for t in data.tickets[order.id]]
            for order in with_tickets
        }
    )
    found["comments_by_ticket"].failure = SourceError(
        "ticketing", "SOURCE_UNAVAILABLE", "down", retryable=True
    )
    ids = [to_global_id("Order", order.id) for order in with_tickets]
    ctx = context(found, internal=internal)
    result = await SCHEMA.execute(TIMELINE, variable_values={"ids": ids}, context_value=ctx)
    timelines = [order["timeline"] for order in result.data["nodes"]]
    if internal:
        assert timelines == [None] * len(ids)
        codes = {error.original_error.code for error in result.errors or ()}
        assert codes == {"SOURCE_UNAVAILABLE"}
    else:
        assert not result.errors, result.errors
        assert all(timeline["edges"] for timeline in timelines)
        assert found["comments_by_ticket"].batches == []


async def test_a_field_the_caller_may_not_read_loads_nothing(data):
    found = sources(data)
    scopes = frozenset({"orders:read", "tickets:read"})
    result = await compiled(found, {"ids": order_ids(data)}, scopes)
    assert found["inventory_by_sku"].batches == []
    assert found["tracking_by_number"].batches == []
    assert len(found["tickets_by_order"].batches) == 1
    assert result.errors


async def test_loaded_fields_start_no_task_of_their_own(data):
    """The tasks a compiled page starts are the loaders' (aiodataloader starts two a
    batch) and the ``nodes`` resolver's one per id, not one per field (graphql-core
    starts one per async field: 40 more on this page)."""
    found = sources(data)
    ids = order_ids(data)
    loop = asyncio.get_running_loop()
    started: list[Any] = []
    factory = loop.get_task_factory()

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        started.append(coro)
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(counting)
    try:
        result = await compiled(found, {"ids": ids}, FULL_ACCESS.scopes)
    finally:
        loop.set_task_factory(factory)
    assert not result.errors
    batches = sum(len(source.batches) for source in found.values())
    assert len(started) <= 2 * batches + len(ids), sorted(c.__qualname__ for c in started)
