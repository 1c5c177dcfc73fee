"""Field collection for the compiler: the response keys a selection set gives one
object type, fragments (named and inline) merged in, ``@skip``/``@include`` decided by
the request's variables (the plan is compiled per distinct set of those decisions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    is_abstract_type,
    type_from_ast,
)

Grouped = dict[str, list[FieldNode]]


class Unsupported(Exception):
    """A shape the compiler leaves to the reference executor; the message says which."""


def pick_operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation graphql-core would run, or None (it reports the error itself)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((op for op in operations if op.name and op.name.value == name), None)


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    found: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            if definition.variable_definitions:
                raise Unsupported("fragment variables")
            found[definition.name.value] = definition
    return found


def condition_variables(document: DocumentNode) -> tuple[str, ...]:
    """The variables ``@skip``/``@include`` read anywhere in the document, in a fixed
    order: their values key the compiled plans."""
    names: set[str] = set()
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        for directive in getattr(node, "directives", None) or ():
            for argument in directive.arguments:
                if isinstance(argument.value, VariableNode):
                    names.add(argument.value.name.value)
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return tuple(sorted(names))


class Collector:
    """Collects fields for one plan: one document, one set of condition values."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self._schema = schema
        self._fragments = fragments
        self._variables = variables

    def fields(
        self, type_: GraphQLObjectType, selection_sets: Iterable[SelectionSetNode]
    ) -> Grouped:
        grouped: Grouped = {}
        visited: set[str] = set()  # across the sets, as graphql-core: a fragment spread
        for selection_set in selection_sets:  # under two merged fields is collected once
            self._collect(type_, selection_set, grouped, visited)
        return grouped

    def subfields(self, type_: GraphQLObjectType, nodes: list[FieldNode]) -> Grouped:
        return self.fields(type_, (n.selection_set for n in nodes if n.selection_set))

    def _collect(
        self,
        type_: GraphQLObjectType,
        selection_set: SelectionSetNode,
        grouped: Grouped,
        visited: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if not self._included(selection.directives):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self._matches(selection.type_condition, type_):
                    self._collect(type_, selection.selection_set, grouped, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in visited:
                    continue
                visited.add(name)
                fragment = self._fragments.get(name)
                if fragment is None or not self._matches(fragment.type_condition, type_):
                    continue
                self._collect(type_, fragment.selection_set, grouped, visited)

    def _matches(self, condition: Any, type_: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        conditional = type_from_ast(self._schema, condition)
        if conditional is type_:
            return True
        return is_abstract_type(conditional) and self._schema.is_sub_type(conditional, type_)

    def _included(self, directives: tuple[DirectiveNode, ...] | None) -> bool:
        for directive in directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                raise Unsupported(f"directive @{name}")
            (argument,) = directive.arguments or ()
            value = argument.value
            if isinstance(value, VariableNode):
                flag = self._variables.get(value.name.value)
            else:
                flag = getattr(value, "value", None)
            if not isinstance(flag, bool):
                raise Unsupported(f"@{name} without a boolean")
            if (name == "skip") is flag:
                return False
        return True
