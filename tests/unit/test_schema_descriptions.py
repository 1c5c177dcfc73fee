"""The schema is the partners' manual: every type, field, argument, enum value and
input field the gateway defines has a description (GraphiQL's docs pane shows them)."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    specified_directives,
    specified_scalar_types,
)

from resolvers.schema import build_schema


def _described(description: str | None) -> bool:
    return bool(description and description.strip())


def undescribed(schema: GraphQLSchema) -> list[str]:
    """Schema coordinates (``Type``, ``Type.field``, ``Type.field(arg:)``, ``Enum.VALUE``,
    ``Input.field``, ``@directive``) without a non-empty description; introspection
    types and graphql-core's own scalars and directives are not the gateway's."""
    missing: list[str] = []
    for name, named in sorted(schema.type_map.items()):
        if name.startswith("__") or name in specified_scalar_types:
            continue
        missing += _undescribed_type(named)
    own = {directive.name for directive in specified_directives}
    for directive in schema.directives:
        if directive.name in own:
            continue
        # strawberry does not carry descriptions of a schema directive's arguments:
        # the directive's own description explains them.
        if not _described(directive.description):
            missing.append(f"@{directive.name}")
    return missing


def _undescribed_type(named: GraphQLNamedType) -> list[str]:
    name = named.name
    missing = [] if _described(named.description) else [name]
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        for field_name, field in named.fields.items():
            if not _described(field.description):
                missing.append(f"{name}.{field_name}")
            missing += [
                f"{name}.{field_name}({arg}:)"
                for arg, argument in field.args.items()
                if not _described(argument.description)
            ]
    elif isinstance(named, GraphQLInputObjectType):
        missing += [
            f"{name}.{field_name}"
            for field_name, field in named.fields.items()
            if not _described(field.description)
        ]
    elif isinstance(named, GraphQLEnumType):
        missing += [
            f"{name}.{value_name}"
            for value_name, value in named.values.items()
            if not _described(value.description)
        ]
    elif isinstance(named, GraphQLUnionType):
        pass  # a union has no members of its own to describe
    return missing


def test_every_schema_element_is_described() -> None:
    missing = undescribed(build_schema()._schema)
    assert not missing, f"{len(missing)} without a description:\n" + "\n".join(missing)


def test_the_walk_finds_what_lacks_a_description() -> None:
    """The check itself can fail: strip descriptions from a built schema and it names
    exactly those elements. A schema of its own: build_schema() is shared by the process."""
    schema = build_schema.__wrapped__()._schema
    order = schema.type_map["Order"]
    enum = schema.type_map["ShipmentStatus"]
    filter_input = schema.type_map["OrderFilter"]
    assert isinstance(order, GraphQLObjectType)
    assert isinstance(enum, GraphQLEnumType)
    assert isinstance(filter_input, GraphQLInputObjectType)
    order.description = " "
    order.fields["placedAt"].description = None
    order.fields["timeline"].args["first"].description = ""
    enum.values["DELIVERED"].description = None
    filter_input.fields["placedTo"].description = None
    assert undescribed(schema) == [
        "Order",
        "Order.placedAt",
        "Order.timeline(first:)",
        "OrderFilter.placedTo",
        "ShipmentStatus.DELIVERED",
    ]
