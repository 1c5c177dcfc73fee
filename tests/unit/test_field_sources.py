"""Which sources each field reads, found by running it: the declaration
(``resolvers.order_facts.FIELD_SOURCES``) says exactly that, admission prices each
field one per source it reads, and a field never reads a source whose scope the
caller lacks: it needs that scope (refused without it) or leaves the source unread.

Each field is resolved alone, under the object it is on, over in-memory loaders that
remember the keys they were asked; what the parent's selection alone asks is not the
field's. The scope checks leave the OMS out: every object but the exception queue's
entries is reached through an order read under ``orders:read``, and the queue needs
that scope too."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from aiodataloader import DataLoader
from graphql import GraphQLObjectType, get_named_type, is_composite_type, is_required_argument

from domain.exception_rules import ExceptionCode, Severity
from domain.queue_entries import ExceptionFact, QueueEntry
from gateway.admission.cost import DEFAULT_FIELD_COSTS
from resolvers.access import EXCEPTION_SCOPES, SOURCE_SCOPES, ScopeMap
from resolvers.client_errors import UNAUTHORIZED_FIELD
from resolvers.loaders import Loaders
from resolvers.order_facts import FIELD_SOURCES
from resolvers.relay import to_global_id
from resolvers.schema import build_schema
from resolvers.scopes import ALL_SCOPES
from resolvers.types.freshness import DataSource
from sim.seed import Dataset
from sources.cache.through import CacheCounts, Cached, Freshness
from tests.support.clocks import ManualClock
from tests.support.gateways import FIXED_NOW

SCHEMA = build_schema()
SCOPE_MAP = ScopeMap(SCHEMA)

# The source behind each loader.
LOADER_SOURCES = {
    "order_by_id": DataSource.OMS,
    "order_by_number": DataSource.OMS,
    "inventory_by_sku": DataSource.INVENTORY,
    "tracking_by_number": DataSource.CARRIER,
    "tickets_by_order": DataSource.TICKETING,
    "comments_by_ticket": DataSource.TICKETING,
}

# Where an object of each type is found: a query of the order ORDER selecting FIELDS.
PATHS = {
    "Order": '{ node(id: "ORDER") { ... on Order { FIELDS } } }',
    "LineItem": '{ node(id: "ORDER") { ... on Order { lineItems { FIELDS } } } }',
    "FulfillmentOrder": '{ node(id: "ORDER") { ... on Order { fulfillmentOrders { FIELDS } } } }',
    "Shipment": '{ node(id: "ORDER") { ... on Order { shipments { FIELDS } } } }',
    "SupportTicket": '{ node(id: "ORDER") { ... on Order { tickets { FIELDS } } } }',
    "ExceptionQueueEntry": "{ exceptionQueue(first: 1) { nodes { FIELDS } } }",
}


class Recorded:
    """A batch function over ``records`` that remembers every key it was asked."""

    def __init__(self, records: Mapping[str, Any]) -> None:
        self.records = records
        self.keys: set[str] = set()

    async def load(self, keys: list[str]) -> list[Any]:
        self.keys.update(keys)
        await asyncio.sleep(0)
        return [Cached(self.records.get(key), Freshness.FRESH, 0.0) for key in keys]


class OneEntryQueue:
    """The exception queue, holding one entry: ``order``'s."""

    def __init__(self, order_id: str, account_id: str, now: datetime) -> None:
        fact = ExceptionFact(
            code=ExceptionCode.PAYMENT_ISSUE,
            severity=Severity.WARNING,
            detected_at=now,
            internal=False,
            subject_kind="order",
            subject_id=order_id,
        )
        self.entry = QueueEntry.of(order_id, account_id, [fact], now)

    async def page(self, scope: str, *, internal: bool, limit: int, after: Any) -> list[Any]:
        return [] if after is not None else [(("1", "member"), self.entry)]


@pytest.fixture(scope="module")
def data(make_dataset: Any) -> Dataset:
    return make_dataset(orders=40)


@pytest.fixture(scope="module")
def order_id(data: Dataset) -> str:
    """An order with lines, tracked shipments and tickets: each source has its records."""
    return next(
        order.id
        for order in sorted(data.orders.values(), key=lambda order: order.number)
        if order.lines
        and any(s.tracking_number in data.trackings for s in order.shipments)
        and data.tickets.get(order.id)
    )


async def run(
    data: Dataset, order_id: str, query: str, scopes: frozenset[str] = ALL_SCOPES
) -> tuple[Any, set[DataSource]]:
    """The result of ``query`` and the sources it read."""
    found = {
        "order_by_id": Recorded(data.orders),
        "order_by_number": Recorded({}),
        "inventory_by_sku": Recorded(data.inventory),
        "tracking_by_number": Recorded(data.trackings),
        "tickets_by_order": Recorded(data.tickets),
        "comments_by_ticket": Recorded({}),
    }
    order = data.orders[order_id]
    context = SimpleNamespace(
        access=SCOPE_MAP.access("*", scopes, internal=True),
        counts=CacheCounts(),
        loaders=Loaders(**{name: DataLoader(source.load) for name, source in found.items()}),
        clock=ManualClock(FIXED_NOW),
        queue=OneEntryQueue(order.id, order.account_id, FIXED_NOW),
        oms_cancels_lines=True,
    )
    result = await SCHEMA.execute(query, context_value=context)
    return result, {LOADER_SOURCES[name] for name, source in found.items() if source.keys}


def selection(coordinate: str) -> str:
    """The field at ``coordinate`` alone, its required arguments given, its objects'
    fields left unread."""
    type_name, _, name = coordinate.partition(".")
    owner = SCHEMA._schema.get_type(type_name)
    assert isinstance(owner, GraphQLObjectType), coordinate
    definition = owner.fields[name]
    arguments = [
        f"{argument}: 10"
        for argument, declared in definition.args.items()
        if is_required_argument(declared)
    ]
    assert set(arguments) <= {"first: 10"}, f"{coordinate}: give its arguments here"
    text = f"{name}({', '.join(arguments)})" if arguments else name
    return (
        f"{text} {{ __typename }}" if is_composite_type(get_named_type(definition.type)) else text
    )


async def sources_read(
    data: Dataset, order_id: str, coordinate: str, scopes: frozenset[str] = ALL_SCOPES
) -> tuple[Any, set[DataSource]]:
    """What resolving ``coordinate`` answers, and the sources it reads that its
    parent's selection does not."""
    path = PATHS[coordinate.partition(".")[0]].replace("ORDER", to_global_id("Order", order_id))
    _, parent = await run(data, order_id, path.replace("FIELDS", "__typename"))
    result, read = await run(data, order_id, path.replace("FIELDS", selection(coordinate)), scopes)
    return result, read - parent


def all_fields() -> list[str]:
    """Every field of the types ``PATHS`` reaches."""
    fields = []
    for type_name in PATHS:
        owner = SCHEMA._schema.get_type(type_name)
        assert isinstance(owner, GraphQLObjectType)
        fields += [f"{type_name}.{name}" for name in owner.fields]
    return sorted(fields)


@pytest.mark.parametrize("coordinate", all_fields())
async def test_each_field_reads_the_sources_declared(data, order_id, coordinate) -> None:
    """And a field missing from the declaration reads no source."""
    result, read = await sources_read(data, order_id, coordinate)
    assert not result.errors, result.errors
    reads = FIELD_SOURCES.get(coordinate)
    assert read == (set() if reads is None else reads.sources), coordinate


@pytest.mark.parametrize("coordinate", sorted(DEFAULT_FIELD_COSTS))
async def test_each_priced_field_costs_one_per_source_it_reads(data, order_id, coordinate) -> None:
    result, read = await sources_read(data, order_id, coordinate)
    assert not result.errors, result.errors
    assert DEFAULT_FIELD_COSTS[coordinate] == len(read), sorted(s.name for s in read)


def test_the_timeline_and_data_sources_cost_their_three_sources() -> None:
    """Tracking, stock and tickets each (they were priced at 2)."""
    assert DEFAULT_FIELD_COSTS["Order.timeline"] == 3
    assert DEFAULT_FIELD_COSTS["Order.dataSources"] == 3


def test_every_declared_field_is_on_a_type_these_tests_reach() -> None:
    """So each one is run above: a field declared on another type needs its PATHS entry."""
    assert {coordinate.partition(".")[0] for coordinate in FIELD_SOURCES} <= set(PATHS)


def without_each_source() -> list[tuple[str, DataSource]]:
    return [
        (coordinate, source)
        for coordinate, reads in sorted(FIELD_SOURCES.items())
        for source in sorted(reads.sources, key=list(DataSource).index)
        if source is not DataSource.OMS
    ]


@pytest.mark.parametrize(("coordinate", "source"), without_each_source())
async def test_without_a_sources_scope_a_field_leaves_it_unread_or_is_refused(
    data, order_id, coordinate, source
) -> None:
    """Refused (``UNAUTHORIZED_FIELD``) exactly when the field needs the source."""
    scopes = ALL_SCOPES - {SOURCE_SCOPES[source]}
    result, read = await sources_read(data, order_id, coordinate, scopes)
    assert source not in read
    if source in FIELD_SOURCES[coordinate].needs:
        codes = [(error.extensions or {}).get("code") for error in result.errors or ()]
        assert codes == [UNAUTHORIZED_FIELD]
    else:
        assert not result.errors, result.errors


@pytest.mark.parametrize("coordinate", sorted(FIELD_SOURCES))
def test_a_field_guards_the_scopes_of_the_sources_it_needs(coordinate: str) -> None:
    needs = FIELD_SOURCES[coordinate].needs
    expected = (frozenset(SOURCE_SCOPES[s] for s in needs),) if needs else None
    assert SCOPE_MAP.guarded.get(coordinate) == expected


def test_exceptions_need_every_sources_scope() -> None:
    assert EXCEPTION_SCOPES == (
        "orders:read",
        "shipments:read",
        "inventory:read",
        "tickets:read",
    )
