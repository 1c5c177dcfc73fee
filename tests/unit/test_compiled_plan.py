"""The compiler in process: what it leaves to the reference executor (and counts),
how plans are kept per document and per ``@skip``/``@include`` decisions, and
answers that need no source (refusals, bad arguments, null propagation) equal to
the reference executor's."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from graphql import parse

from resolvers.access import FULL_ACCESS, ScopeMap
from resolvers.compiled import FALLBACKS, execute_compiled
from resolvers.compiled.collect import Collector, fragments_of
from resolvers.schema import PreparedDocument, build_schema
from sources.cache.through import CacheCounts

SCHEMA = build_schema()
SCOPES = ScopeMap(SCHEMA)


def context(scopes: frozenset[str] = FULL_ACCESS.scopes) -> Any:
    """What these documents read of a request's context: the caller and the counts
    (none of them reaches a source)."""
    access = SCOPES.access("*", scopes, internal=True)
    return SimpleNamespace(access=access, counts=CacheCounts())


def prepared(query: str) -> PreparedDocument:
    return PreparedDocument(query, parse(query))


def fallbacks(reason: str) -> float:
    return FALLBACKS.labels(reason)._value.get()


async def compiled_body(
    query: str, variables: dict[str, Any] | None = None, scopes: frozenset[str] | None = None
) -> Any:
    ctx = context() if scopes is None else context(scopes)
    result = await execute_compiled(SCHEMA, prepared(query), variables, ctx, None)
    assert result is not None, "compiled"
    return result.data, [e.formatted for e in result.errors or ()]


async def reference_body(
    query: str, variables: dict[str, Any] | None = None, scopes: frozenset[str] | None = None
) -> Any:
    ctx = context() if scopes is None else context(scopes)
    result = await SCHEMA.execute(query, variable_values=variables, context_value=ctx)
    return result.data, [e.formatted for e in result.errors or ()]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("mutation { __typename }", "mutation"),
        ('subscription { orderUpdated(id: "x") { id } }', "subscription"),
        ("{ __schema { queryType { name } } }", "introspection"),
        ("{ orders(first: 1) { nodes { __type } } }", "invalid document"),
        ("query A { __typename } query B { __typename }", "operation"),
    ],
)
async def test_what_the_compiler_leaves_to_the_reference_executor_is_counted(query, reason):
    before = fallbacks(reason)
    assert await execute_compiled(SCHEMA, prepared(query), None, context(), None) is None
    assert fallbacks(reason) == before + 1


async def test_variables_that_do_not_coerce_are_left_to_the_reference_executor():
    document = prepared("query($n: Int!) { orders(first: $n) { nodes { id } } }")
    before = fallbacks("variables")
    assert await execute_compiled(SCHEMA, document, {"n": "many"}, context(), None) is None
    assert fallbacks("variables") == before + 1


async def test_a_plan_is_kept_per_document_and_per_skip_include_decisions():
    document = prepared(
        "query($a: Boolean!, $b: Boolean!) "
        "{ x: __typename @include(if: $a) y: __typename @skip(if: $b) }"
    )
    ctx = context()
    first = await execute_compiled(SCHEMA, document, {"a": True, "b": True}, ctx, None)
    assert first is not None and first.data == {"x": "Query"}
    (operation,) = document.plans.values()
    plan = operation.plans[(True, True)]
    again = await execute_compiled(SCHEMA, document, {"a": True, "b": True}, ctx, None)
    assert again is not None and again.data == {"x": "Query"}
    assert operation.plans[(True, True)] is plan  # compiled once
    other = await execute_compiled(SCHEMA, document, {"a": False, "b": False}, ctx, None)
    assert other is not None and other.data == {"y": "Query"}
    assert set(operation.plans) == {(True, True), (False, False)}


def test_fragments_on_an_interface_apply_to_each_implementation():
    document = parse(
        '{ node(id: "x") { ...N ... on Order { number } ... on LineItem { sku } } }'
        " fragment N on Node { id }"
    )
    collector = Collector(SCHEMA._schema, fragments_of(document), {})
    (node,) = document.definitions[0].selection_set.selections  # type: ignore[attr-defined]
    order = SCHEMA._schema.get_type("Order")
    line = SCHEMA._schema.get_type("LineItem")
    assert list(collector.subfields(order, [node])) == ["id", "number"]  # type: ignore[arg-type]
    assert list(collector.subfields(line, [node])) == ["id", "sku"]  # type: ignore[arg-type]


def test_a_fragment_under_two_merged_fields_is_collected_once():
    """As graphql-core collects it: an error inside it is located once, not once for
    each field the fragment is spread under."""
    document = parse(
        '{ o: order(id: "x") { ...F } o: order(id: "x") { ...F } } fragment F on Order { number }'
    )
    collector = Collector(SCHEMA._schema, fragments_of(document), {})
    merged = list(document.definitions[0].selection_set.selections)  # type: ignore[attr-defined]
    order = SCHEMA._schema.get_type("Order")
    assert len(collector.subfields(order, merged)["number"]) == 1  # type: ignore[arg-type]


ALIKE = [
    # a non-null root field that fails nulls the whole answer; its error keeps its path
    ("{ orders(first: 0) { nodes { id } } }", None),
    # a nullable one is null with its error, beside one that succeeds
    ('{ a: order(id: "bad") { id } t: __typename b: orderByNumber(number: "x") { id } }', None),
    ("query($n: Int!) { orders(first: $n) { nodes { id } } }", {"n": 500}),
    ('{ nodes(ids: ["bad", "T3JkZXI6"]) { id } }', None),
]


@pytest.mark.parametrize(("query", "variables"), ALIKE)
async def test_answers_without_sources_equal_the_reference_executor(query, variables):
    assert await compiled_body(query, variables) == await reference_body(query, variables)


async def test_a_field_out_of_scope_is_refused_as_by_the_reference_executor():
    query = '{ order(id: "bad") { id } exceptionQueue(first: 1) { nodes { orderId } } }'
    scopes = frozenset({"tickets:read"})
    data, errors = await compiled_body(query, scopes=scopes)
    assert data is None
    assert {e["extensions"]["code"] for e in errors} == {"UNAUTHORIZED_FIELD"}
    assert (data, errors) == await reference_body(query, scopes=scopes)
