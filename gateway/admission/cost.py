"""Static requested cost of an operation, in the spirit of Shopify's and GitHub's.

Every object costs ``object_cost`` (1), a scalar or enum 0, ``__typename`` 0; a field
that reaches other sources adds its ``field_costs`` entry once per parent object: by
default one per source it reads (``resolvers.order_facts.FIELD_SOURCES``).
A list multiplies the cost of each item by its size:

- a connection (a field with a ``first`` argument) sizes its page lists (``edges``,
  ``nodes``) by ``first``, a literal or a variable; missing or invalid: ``MAX_PAGE``
  (``resolvers.relay``), and outside 1 to ``MAX_PAGE`` refused as ``check_first``
  refuses it;
- a list sized by an argument (``size_arguments``, e.g. ``Query.nodes`` by ``ids``)
  costs that list's length; a variable that is not a list: ``MAX_PAGE``;
- any other list has an assumed size: ``list_sizes`` per coordinate, else
  ``default_list_size``.

Selections under an interface all count, whatever the concrete type: an upper bound.
Per document, everything that does not depend on variables is folded into constants
once; a request only multiplies the variable-sized lists out.

The actual cost (``actual_cost``) is the same model over the answer: each object
returned costs ``object_cost``, each source-backed field that has a value its
``field_costs`` entry, lists count as long as they are and nulls are free. So it
equals the requested cost when every list is full and every object there, and is
less when pages are short or objects missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
    value_from_ast_untyped,
)

from gateway.admission.documents import (
    COST_LIMIT_EXCEEDED,
    AdmissionError,
    Analysis,
    FieldsType,
    fields_of,
    fragments_of,
    type_condition,
)
from gateway.admission.limits import Limits
from resolvers.client_errors import BAD_USER_INPUT, UserInputError
from resolvers.order_facts import FIELD_SOURCES
from resolvers.relay import MAX_PAGE, check_first
from resolvers.types.freshness import DataSource

# One per source each field reads besides its parent object's.
DEFAULT_FIELD_COSTS: Mapping[str, int] = {
    coordinate: len(reads.sources) for coordinate, reads in FIELD_SOURCES.items()
}
DEFAULT_LIST_SIZES: Mapping[str, int] = {
    "Order.lineItems": 5,
    "Order.shipments": 3,
    "Order.fulfillmentOrders": 3,
    "Order.tickets": 3,
    "Order.dataSources": len(DataSource),  # one per source
    "FulfillmentOrder.lineItems": 5,
    "Shipment.lineItems": 5,
    "Tracking.events": 10,
    "Order.exceptions": 5,
    "ExceptionQueueEntry.exceptions": 5,
}
DEFAULT_SIZE_ARGUMENTS: Mapping[str, str] = {"Query.nodes": "ids"}


def page_size(value: object) -> int:
    """A ``first`` value, refused before execution as ``check_first`` would refuse it
    in the resolver (outside 1 to ``MAX_PAGE``); a missing or mistyped one is left to
    validation and priced at ``MAX_PAGE``."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            check_first(value)
        except UserInputError as refused:
            raise AdmissionError(BAD_USER_INPUT, refused.message) from None
        return value
    return MAX_PAGE


def list_length(value: object) -> int:
    return len(value) if isinstance(value, list) else MAX_PAGE


@dataclass(frozen=True)
class _VariableSize:
    """A list size that the request's variables give."""

    variable: str
    measure: Callable[[object], int]
    default: int  # the size when the variable is not given

    def resolve(self, variables: Mapping[str, Any]) -> int:
        if self.variable in variables:
            return self.measure(variables[self.variable])
        return self.default


Size: TypeAlias = int | _VariableSize


@dataclass(frozen=True, eq=False)
class _Cost:
    """``constant + sum(coefficient * size * item)``; hashed by identity, so equal
    terms (a fragment spread twice) merge into one with a larger coefficient."""

    constant: int
    terms: tuple[tuple[int, _VariableSize, _Cost], ...] = ()

    def evaluate(self, variables: Mapping[str, Any]) -> int:
        total = self.constant
        for coefficient, size, item in self.terms:
            total += coefficient * size.resolve(variables) * item.evaluate(variables)
        return total


_ZERO = _Cost(0)


@dataclass
class _Sum:
    constant: int = 0
    terms: dict[tuple[_VariableSize, _Cost], int] = field(default_factory=dict)

    def add(self, cost: _Cost, times: int = 1) -> None:
        self.constant += times * cost.constant
        for coefficient, size, item in cost.terms:
            key = (size, item)
            self.terms[key] = self.terms.get(key, 0) + times * coefficient

    def add_list(self, size: Size, item: _Cost) -> None:
        if isinstance(size, int):
            self.add(item, size)
        elif item.constant or item.terms:
            self.add(_Cost(0, ((1, size, item),)))

    def build(self) -> _Cost:
        terms = tuple((coefficient, size, item) for (size, item), coefficient in self.terms.items())
        return _Cost(self.constant, terms)


class _Compiler:
    """Builds one operation's cost; each (fragment, page size) once."""

    def __init__(self, model: CostModel, analysis: Analysis) -> None:
        self._model = model
        self._fragments = fragments_of(analysis.document)
        self._defaults = {
            definition.variable.name.value: value_from_ast_untyped(definition.default_value)
            for definition in analysis.operation.variable_definitions or ()
            if definition.default_value is not None
        }
        self._compiled: dict[tuple[str, Size | None], _Cost] = {}

    def selection_set(
        self, node: SelectionSetNode, parent: FieldsType | None, page: Size | None
    ) -> _Cost:
        """``page``: the enclosing connection's page size, for its page lists."""
        total = _Sum()
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                total.add(self._field(selection, parent, page))
            elif isinstance(selection, InlineFragmentNode):
                inner = type_condition(self._model.schema, selection.type_condition, parent)
                total.add(self.selection_set(selection.selection_set, inner, page))
            elif isinstance(selection, FragmentSpreadNode):
                total.add(self._fragment(selection.name.value, page))
        return total.build()

    def _field(self, node: FieldNode, parent: FieldsType | None, page: Size | None) -> _Cost:
        if parent is None or (definition := parent.fields.get(node.name.value)) is None:
            return _ZERO  # __typename, introspection, or unknown (validation reports it)
        model = self._model
        coordinate = f"{parent.name}.{node.name.value}"
        own = model.field_costs.get(coordinate, 0)
        named = get_named_type(definition.type)
        if not is_composite_type(named):
            return _Cost(own)
        item = _Sum(model.object_cost)
        if node.selection_set is not None:
            child_page = (
                self._argument_size(node, "first", page_size)
                if "first" in definition.args
                else None
            )
            item.add(self.selection_set(node.selection_set, fields_of(named), child_page))
        total = _Sum(own)
        total.add_list(self._list_size(node, coordinate, definition.type, page), item.build())
        return total.build()

    def _list_size(
        self, node: FieldNode, coordinate: str, type_: GraphQLOutputType, page: Size | None
    ) -> Size:
        if not is_list_type(get_nullable_type(type_)):
            return 1
        if page is not None:
            return page
        argument = self._model.size_arguments.get(coordinate)
        if argument is not None:
            return self._argument_size(node, argument, list_length)
        return self._model.list_sizes.get(coordinate, self._model.default_list_size)

    def _argument_size(self, node: FieldNode, name: str, measure: Callable[[object], int]) -> Size:
        for argument in node.arguments or ():
            if argument.name.value == name:
                value = argument.value
                if isinstance(value, VariableNode):
                    variable = value.name.value
                    return _VariableSize(variable, measure, measure(self._defaults.get(variable)))
                return measure(value_from_ast_untyped(value))
        return measure(None)

    def _fragment(self, name: str, page: Size | None) -> _Cost:
        """Fragment cycles were refused by the analysis, so this recursion ends."""
        definition = self._fragments.get(name)
        if definition is None:
            return _ZERO  # unknown: validation reports it
        key = (name, page)
        cost = self._compiled.get(key)
        if cost is None:
            parent = type_condition(self._model.schema, definition.type_condition, None)
            cost = self._compiled[key] = self.selection_set(definition.selection_set, parent, page)
        return cost


class CostModel:
    """``requested_cost(analysis, variables)``: the analysis' cost, compiled once per
    analysed document and kept on it (so with it in the analyser's cache, and no longer)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        field_costs: Mapping[str, int] = DEFAULT_FIELD_COSTS,
        list_sizes: Mapping[str, int] = DEFAULT_LIST_SIZES,
        size_arguments: Mapping[str, str] = DEFAULT_SIZE_ARGUMENTS,
        default_list_size: int = 10,
        object_cost: int = 1,
    ) -> None:
        self.schema = schema
        self.field_costs = field_costs
        self.list_sizes = list_sizes
        self.size_arguments = size_arguments
        self.default_list_size = default_list_size
        self.object_cost = object_cost

    def requested_cost(self, analysis: Analysis, variables: Mapping[str, Any] | None) -> int:
        compiled = analysis.memo.get("cost")
        if compiled is None:
            compiled = analysis.memo["cost"] = self._compile(analysis)
        return compiled.evaluate(variables or {})

    def actual_cost(self, analysis: Analysis, data: object) -> int:
        """The cost of ``data``, the operation's answer (see the module docstring)."""
        if not isinstance(data, dict):
            return 0
        plan = analysis.memo.get("plan")
        if plan is None:
            plan = analysis.memo["plan"] = self._plan(analysis)
        return _object_cost(plan, data, self.object_cost)

    def _plan(self, analysis: Analysis) -> _Plan:
        root = fields_of(self.schema.get_root_type(analysis.operation.operation))
        return _Planner(self, analysis).plan((analysis.operation.selection_set,), root)

    def _compile(self, analysis: Analysis) -> _Cost:
        root = fields_of(self.schema.get_root_type(analysis.operation.operation))
        return _Compiler(self, analysis).selection_set(analysis.operation.selection_set, root, None)


# What a response key of an object stands for: the type declaring the field, the
# field as selected first, and every selection set under that key (they merge).
_Selected: TypeAlias = tuple[FieldsType, FieldNode, list[SelectionSetNode]]

# An answer object's cost plan: per response key, what a value there costs (its
# ``field_costs`` entry) and, for an object or list of objects, the plan of its items.
# Keys that cost nothing (scalars and enums without a ``field_costs`` entry) are left
# out, so an answer's walk never visits them.
_Plan: TypeAlias = dict[str, tuple[int, "_Plan | None"]]


class _Planner:
    """Compiles the operation's selections into a :data:`_Plan`, once per document.
    Under an interface, a key two fragments select for different types counts as the
    first one's field."""

    def __init__(self, model: CostModel, analysis: Analysis) -> None:
        self._model = model
        self._fragments = fragments_of(analysis.document)

    def plan(self, selection_sets: Sequence[SelectionSetNode], parent: FieldsType | None) -> _Plan:
        fields: dict[str, _Selected] = {}
        for selection_set in selection_sets:
            self._collect(selection_set, parent, fields, set())
        plan: _Plan = {}
        for key, (owner, node, subsets) in fields.items():
            cost = self._model.field_costs.get(f"{owner.name}.{node.name.value}", 0)
            named = get_named_type(owner.fields[node.name.value].type)
            items = self.plan(subsets, fields_of(named)) if is_composite_type(named) else None
            if cost or items is not None:
                plan[key] = (cost, items)
        return plan

    def _collect(
        self,
        node: SelectionSetNode,
        parent: FieldsType | None,
        fields: dict[str, _Selected],
        spread: set[str],
    ) -> None:
        schema = self._model.schema
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                if parent is None or selection.name.value not in parent.fields:
                    continue  # __typename and introspection cost nothing
                key = selection.alias.value if selection.alias else selection.name.value
                subsets = [selection.selection_set] if selection.selection_set else []
                if key in fields:
                    fields[key][2].extend(subsets)
                else:
                    fields[key] = (parent, selection, subsets)
            elif isinstance(selection, InlineFragmentNode):
                inner = type_condition(schema, selection.type_condition, parent)
                self._collect(selection.selection_set, inner, fields, spread)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                definition = self._fragments.get(name)
                if definition is not None and name not in spread:
                    spread.add(name)
                    inner = type_condition(schema, definition.type_condition, None)
                    self._collect(definition.selection_set, inner, fields, spread)


def _object_cost(plan: _Plan, value: dict[str, Any], object_cost: int) -> int:
    """What the fields of one answer object cost (the object's own cost aside)."""
    total = 0
    for key, (cost, items) in plan.items():
        item = value.get(key)
        if item is None:
            continue
        total += cost
        if items is not None:
            total += _items_cost(items, item, object_cost)
    return total


def _items_cost(plan: _Plan, item: Any, object_cost: int) -> int:
    if isinstance(item, dict):
        return object_cost + _object_cost(plan, item, object_cost)
    if isinstance(item, list):
        total = 0
        for each in item:
            total += _items_cost(plan, each, object_cost)
        return total
    return 0


def check_cost(cost: int, limits: Limits) -> None:
    """Raise COST_LIMIT_EXCEEDED when ``cost`` is over ``limits.max_cost``."""
    if cost > limits.max_cost:
        raise AdmissionError(
            COST_LIMIT_EXCEEDED,
            f"The operation's requested cost is {cost}; the maximum is {limits.max_cost}.",
        )
