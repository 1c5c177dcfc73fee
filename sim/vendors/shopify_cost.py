"""What a query costs the simulated Shopify, by one of two rules.

``documented`` is "GraphQL Admin API rate limits" as written: a field of a scalar or an
enum costs 0, of an object 1 plus what its selection costs (an interface or a union
the most of its possible selections), a connection 2 plus ``first`` times one node
of it, a list sized by ``first`` that many objects, ``nodes(ids:)`` one object per id,
a mutation 10. Nested connections multiply: an order's line items cost once per order.

``roots`` charges the root fields only (``nodes`` a point an id, a root connection 2
plus ``first``, any other root field 1, a mutation 10): the default of the simulator,
so that tests and demos read whole orders in batches. Live shops charge more than
``roots`` and, by the evidence of their ``extensions.cost``, often less than
``documented``; the adapters learn each query's cost from the answers either way.
Under either rule the actual cost refunds a point for each node a root connection
asked for and did not hold (under ``documented`` a node costs more: a refund short).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLField,
    GraphQLList,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    value_from_ast_untyped,
)

Rule = Literal["roots", "documented"]
MUTATION_COST = 10
CONNECTION_COST = 2


def requested_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    rule: Rule = "roots",
) -> int:
    """What ``operation`` requests, by ``rule``."""
    fields = operation.selection_set.selections
    if operation.operation is OperationType.MUTATION:
        return MUTATION_COST * len(fields)
    if rule == "roots":
        return sum(_root_cost(node, variables) for node in fields)
    root = schema.query_type
    assert root is not None
    return _Documented(schema, fragments, variables).selection(root, fields)


def _root_cost(node: SelectionNode, variables: Mapping[str, Any]) -> int:
    args = _arguments(node, variables) if isinstance(node, FieldNode) else {}
    if isinstance(node, FieldNode) and node.name.value == "nodes":
        return len(args.get("ids") or ())
    if isinstance(args.get("first"), int):
        return CONNECTION_COST + args["first"]
    return 1


def _arguments(node: FieldNode, variables: Mapping[str, Any]) -> dict[str, Any]:
    return {
        a.name.value: value_from_ast_untyped(a.value, dict(variables)) for a in node.arguments or ()
    }


@dataclass(frozen=True, slots=True)
class _Documented:
    """The documented rule over one operation's selections."""

    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]

    def selection(self, parent: GraphQLObjectType, nodes: Iterable[SelectionNode]) -> int:
        """The cost of ``nodes`` selected on an object of type ``parent``."""
        total = 0
        for node in nodes:
            if isinstance(node, FieldNode):
                if not node.name.value.startswith("__"):
                    total += self.field(parent.fields[node.name.value], node)
            elif isinstance(node, InlineFragmentNode):
                if self.applies(node.type_condition, parent):
                    total += self.selection(parent, node.selection_set.selections)
            elif isinstance(node, FragmentSpreadNode):
                fragment = self.fragments[node.name.value]
                if self.applies(fragment.type_condition, parent):
                    total += self.selection(parent, fragment.selection_set.selections)
        return total

    def applies(self, condition: NamedTypeNode | None, parent: GraphQLObjectType) -> bool:
        """Whether a fragment on ``condition`` selects on an object of type ``parent``."""
        if condition is None or condition.name.value == parent.name:
            return True
        named = self.schema.get_type(condition.name.value)
        return isinstance(named, GraphQLAbstractType) and self.schema.is_sub_type(named, parent)

    def field(self, field: GraphQLField, node: FieldNode) -> int:
        named = get_named_type(field.type)
        if is_leaf_type(named):
            return 0
        args = _arguments(node, self.variables)
        one = self.one(named, node)
        if node.name.value == "nodes" and "ids" in args:
            return len(args["ids"] or ()) * one
        first = args.get("first")
        if named.name.endswith("Connection"):
            return CONNECTION_COST + (first or 0) * self.node_of(named, node)
        if isinstance(get_nullable_type(field.type), GraphQLList):
            return (first if isinstance(first, int) else 1) * one
        return one

    def one(self, named: Any, node: FieldNode) -> int:
        """One object of type ``named`` with ``node``'s selection (an abstract type:
        the costliest of its possible types)."""
        selections = node.selection_set.selections if node.selection_set else ()
        if isinstance(named, GraphQLAbstractType):
            possible = self.schema.get_possible_types(named)
            return max((1 + self.selection(t, selections) for t in possible), default=1)
        return 1 + self.selection(named, selections)

    def node_of(self, connection: Any, node: FieldNode) -> int:
        """One node of a connection, as its ``nodes`` or ``edges { node }`` select it."""
        cost = 0
        for part in node.selection_set.selections if node.selection_set else ():
            if not isinstance(part, FieldNode):
                continue
            if part.name.value == "nodes":
                cost = max(cost, self.one(get_named_type(connection.fields["nodes"].type), part))
            elif part.name.value == "edges" and part.selection_set:
                edge = get_named_type(connection.fields["edges"].type)
                for inner in part.selection_set.selections:
                    if isinstance(inner, FieldNode) and inner.name.value == "node":
                        cost = max(cost, self.one(get_named_type(edge.fields["node"].type), inner))
        return cost
