"""The coordinates the gateway names in code exist in the schema it builds: the cost
maps' keys, the field carrying each source, the fields reading sources; and a guarded
field is refused, from its declaration alone, to a caller without its scopes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from graphql import (
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    get_nullable_type,
    is_list_type,
)

from gateway.admission.cost import DEFAULT_FIELD_COSTS, DEFAULT_LIST_SIZES, DEFAULT_SIZE_ARGUMENTS
from resolvers.access import RequiresScopes, ScopeGuard, ScopeMap
from resolvers.client_errors import UNAUTHORIZED_FIELD, UserInputError
from resolvers.order_facts import FIELD_SOURCES, SOURCE_FIELDS
from resolvers.relay import to_global_id
from resolvers.schema import build_schema

SCHEMA = build_schema()
GRAPHQL: GraphQLSchema = SCHEMA._schema


def field_of(coordinate: str):
    """The schema's field at ``Type.field``, or an assertion naming what is missing."""
    type_name, _, field_name = coordinate.partition(".")
    owner = GRAPHQL.get_type(type_name)
    assert isinstance(owner, GraphQLObjectType), f"{coordinate}: no object type {type_name}"
    assert field_name in owner.fields, f"{coordinate}: {type_name} has no field {field_name}"
    return owner.fields[field_name]


@pytest.mark.parametrize("coordinate", sorted(DEFAULT_FIELD_COSTS))
def test_every_priced_field_exists(coordinate: str) -> None:
    field_of(coordinate)


@pytest.mark.parametrize("coordinate", sorted(FIELD_SOURCES))
def test_every_field_reading_sources_exists(coordinate: str) -> None:
    field_of(coordinate)


@pytest.mark.parametrize("coordinate", sorted(DEFAULT_LIST_SIZES))
def test_every_sized_list_is_a_list_field(coordinate: str) -> None:
    assert is_list_type(get_nullable_type(field_of(coordinate).type)), coordinate


@pytest.mark.parametrize(("coordinate", "argument"), sorted(DEFAULT_SIZE_ARGUMENTS.items()))
def test_every_size_argument_is_an_argument_of_its_list(coordinate: str, argument: str) -> None:
    definition = field_of(coordinate)
    assert is_list_type(get_nullable_type(definition.type)), coordinate
    assert argument in definition.args, f"{coordinate} has no argument {argument}"


def test_each_source_is_carried_by_a_guarded_field() -> None:
    guarded = ScopeMap(SCHEMA).guarded
    for source, coordinate in SOURCE_FIELDS.items():
        field_of(coordinate)
        assert coordinate in guarded, f"{source}: {coordinate} has no @requiresScopes"


def _reached_by_queries() -> list[GraphQLObjectType]:
    """The object types a query can reach (through interfaces to their implementations)."""
    query = GRAPHQL.query_type
    assert query is not None
    seen: dict[str, GraphQLObjectType] = {}
    frontier: list[GraphQLNamedType] = [query]
    while frontier:
        named = frontier.pop()
        if named.name in seen or not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            continue
        if isinstance(named, GraphQLInterfaceType):
            frontier.extend(GRAPHQL.get_possible_types(named))
            continue
        seen[named.name] = named
        frontier.extend(get_named_type(f.type) for f in named.fields.values())
    return list(seen.values())


def test_every_guarded_field_a_query_reaches_is_enforced_or_masked() -> None:
    """Only personal data (masked when built) may carry the directive alone."""
    checked = 0
    for owner in _reached_by_queries():
        definition = owner.extensions["strawberry-definition"]
        for strawberry_field in definition.fields:
            scopes = [
                d.scopes for d in strawberry_field.directives if isinstance(d, RequiresScopes)
            ]
            if not scopes:
                continue
            checked += 1
            enforced = any(isinstance(e, ScopeGuard) for e in strawberry_field.extensions)
            assert enforced or scopes == [[["pii:read"]]], f"{owner.name}.{strawberry_field.name}"
    assert checked >= len(SOURCE_FIELDS)


async def test_a_guarded_field_is_refused_from_its_declaration() -> None:
    """No resolver code runs: the loaders the context lacks are never touched."""
    scope_map = ScopeMap(SCHEMA)
    context = SimpleNamespace(access=scope_map.access("*", frozenset(), internal=True))
    result = await SCHEMA.execute(
        "query($id: ID!) { order(id: $id) { id } }",
        variable_values={"id": to_global_id("Order", "ord_1")},
        context_value=context,
    )
    assert result.data == {"order": None}
    assert result.errors is not None
    ((error),) = result.errors
    assert error.path == ["order"]
    assert isinstance(error.original_error, UserInputError)
    assert error.original_error.extensions == {"code": UNAUTHORIZED_FIELD}
