"""Static analysis of a GraphQL document before execution: parse under a token limit,
select the operation, and measure it (depth, aliases, directives, root fields) with
fragments expanded, plus what it can touch (schema coordinates, introspection).

Counts are taken over the operation as written with every fragment spread expanded
where it is used, so a fragment spread twice counts twice: an upper bound of what
the executor does. Each fragment is summarised once and reused, so a document that
spreads fragments exponentially ("fragment bomb") is still analysed in linear time.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    ListValueNode,
    NamedTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Visitor,
    get_named_type,
    get_operation_ast,
    parse,
    visit,
)

from gateway.admission.limits import Limits
from resolvers.schema import PreparedDocument

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
TOKEN_LIMIT_EXCEEDED = "TOKEN_LIMIT_EXCEEDED"
MAX_DEPTH_EXCEEDED = "MAX_DEPTH_EXCEEDED"
MAX_ALIASES_EXCEEDED = "MAX_ALIASES_EXCEEDED"
MAX_DIRECTIVES_EXCEEDED = "MAX_DIRECTIVES_EXCEEDED"
MAX_ROOT_FIELDS_EXCEEDED = "MAX_ROOT_FIELDS_EXCEEDED"
COST_LIMIT_EXCEEDED = "COST_LIMIT_EXCEEDED"
OPERATION_NOT_FOUND = "OPERATION_NOT_FOUND"
FRAGMENT_CYCLE = "FRAGMENT_CYCLE"
TOO_MANY_FIELDS = "TOO_MANY_FIELDS"
DOCUMENT_TOO_LARGE = "DOCUMENT_TOO_LARGE"
LIST_TOO_LONG = "LIST_TOO_LONG"
OPERATION_WEIGHT = 5  # field selections an operation beyond the first counts as
# No list argument of the graph takes more items (ids, pages); a longer list literal
# is refused before validation checks each of its values.
MAX_LIST_VALUES = 100

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
# Selection sets (fields, inline fragments and spreads) nested deeper than this are
# refused before the depth limit is even checked: it bounds the analysis' recursion,
# whatever the limits, far below Python's recursion limit.
MAX_NESTING = 100

# Object and interface types have fields; a union has only __typename.
FieldsType: TypeAlias = GraphQLObjectType | GraphQLInterfaceType


class AdmissionError(Exception):
    """A document refused before execution; ``formatted`` is its GraphQL error."""

    status = 400

    def __init__(
        self, code: str, message: str, locations: tuple[tuple[int, int], ...] = ()
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.locations = locations  # (line, column) pairs, for syntax errors

    def copy(self) -> AdmissionError:
        """An unraised copy: re-raising one instance would grow its traceback."""
        return AdmissionError(self.code, self.message, self.locations)

    @property
    def formatted(self) -> dict[str, object]:
        error: dict[str, object] = {"message": self.message}
        if self.locations:
            error["locations"] = [{"line": line, "column": col} for line, col in self.locations]
        error["extensions"] = {"code": self.code}
        return error


@dataclass(frozen=True, eq=False)
class Analysis:
    """What admission knows of one operation. Compared and hashed by identity: the
    analyser hands out one object per cached document, and the cost model keys its
    own per-document cache on it."""

    document: DocumentNode
    operation: OperationDefinitionNode
    kind: str
    name: str | None
    root_fields: tuple[str, ...]
    depth: int
    aliases: int
    directives: int
    fields: int  # field selections with fragments expanded (max_fields counts them as written)
    uses_introspection: bool
    coordinates: frozenset[str]
    document_hash: str
    prepared: PreparedDocument  # the document and, once validated, its errors
    # What others derive from this document once (the cost model's plans); lives and
    # dies with the analysis, so with its place in the analyser's cache.
    memo: dict[str, Any] = field(default_factory=dict)


def fields_of(type_: object) -> FieldsType | None:
    """``type_`` if it has fields to select, else None (unions, unknown types)."""
    return type_ if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType) else None


def type_condition(
    schema: GraphQLSchema, condition: NamedTypeNode | None, parent: FieldsType | None
) -> FieldsType | None:
    return parent if condition is None else fields_of(schema.get_type(condition.name.value))


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }


@dataclass
class _Summary:
    """Measures of a selection set, fragments expanded."""

    depth: int = 0  # field levels in it (a set of leaves is 1)
    fields: int = 0  # field selections at its own level
    total: int = 0  # field selections at every level
    aliases: int = 0
    directives: int = 0
    introspection: bool = False
    coordinates: set[str] = field(default_factory=set)

    def add(self, other: _Summary) -> None:
        """Add a selection set at the same level (a fragment's)."""
        self.depth = max(self.depth, other.depth)
        self.fields += other.fields
        self.total += other.total
        self.aliases += other.aliases
        self.directives += other.directives
        self.introspection |= other.introspection
        self.coordinates |= other.coordinates


class _Walker:
    """Summarises one operation's selection sets; each fragment once."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, limits: Limits) -> None:
        self._schema = schema
        self._limits = limits
        self._fragments = fragments_of(document)
        self._summaries: dict[str, _Summary] = {}
        self._entered: set[str] = set()  # fragments being summarised (cycle detection)

    def selection_set(
        self, node: SelectionSetNode, parent: FieldsType | None, nesting: int
    ) -> _Summary:
        if nesting > MAX_NESTING:
            raise AdmissionError(
                MAX_DEPTH_EXCEEDED, f"Selections nest more than {MAX_NESTING} levels deep."
            )
        summary = _Summary()
        for selection in node.selections:
            summary.directives += len(selection.directives or ())
            if isinstance(selection, FieldNode):
                summary.add(self._field(selection, parent, nesting))
            elif isinstance(selection, InlineFragmentNode):
                inner = type_condition(self._schema, selection.type_condition, parent)
                summary.add(self.selection_set(selection.selection_set, inner, nesting + 1))
            elif isinstance(selection, FragmentSpreadNode):
                summary.add(self._fragment(selection.name.value, nesting))
        return summary

    def _field(self, node: FieldNode, parent: FieldsType | None, nesting: int) -> _Summary:
        name = node.name.value
        child_type: FieldsType | None = None
        summary = _Summary(depth=1, fields=1, total=1, aliases=1 if node.alias else 0)
        if name in INTROSPECTION_FIELDS:
            summary.introspection = True
        elif parent is not None and (definition := parent.fields.get(name)) is not None:
            summary.coordinates.add(f"{parent.name}.{name}")
            child_type = fields_of(get_named_type(definition.type))
        if node.selection_set is not None:
            child = self.selection_set(node.selection_set, child_type, nesting + 1)
            # An introspection query's depth is the schema's own (a type reference
            # nests ofType ~8 deep): validation's MaxIntrospectionDepthRule bounds
            # what could blow up there (fields of types of fields...), not this limit.
            if not summary.introspection:
                summary.depth += child.depth
            summary.total += child.total
            summary.aliases += child.aliases
            summary.directives += child.directives
            summary.introspection |= child.introspection
            summary.coordinates |= child.coordinates
        return summary

    def _fragment(self, name: str, nesting: int) -> _Summary:
        summary = self._summaries.get(name)
        if summary is not None:
            return summary
        if name in self._entered:
            raise AdmissionError(FRAGMENT_CYCLE, f"Fragment '{name}' spreads itself.")
        definition = self._fragments.get(name)
        if definition is None:
            return _Summary()  # unknown fragment: validation reports it
        self._entered.add(name)
        inner = type_condition(self._schema, definition.type_condition, None)
        summary = self.selection_set(definition.selection_set, inner, nesting + 1)
        summary.directives += len(definition.directives or ())
        self._entered.discard(name)
        self._summaries[name] = summary
        return summary


def _root_field_names(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]
) -> tuple[str, ...]:
    """Distinct root field names in order, each fragment read once (as the executor
    collects fields), so this stays linear even for a fragment bomb."""
    names: dict[str, None] = {}
    seen: set[str] = set()

    def collect(node: SelectionSetNode) -> None:
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                names[selection.name.value] = None
            elif isinstance(selection, InlineFragmentNode):
                collect(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    seen.add(name)
                    collect(fragments[name].selection_set)

    collect(selection_set)
    return tuple(names)


def _check_set(node: SelectionSetNode, limits: Limits) -> tuple[int, list[SelectionSetNode]]:
    """One selection set as written, its inline fragments merged in: how many
    selections, and how often one response key (or fragment spread) repeats under one
    type condition. Returns its fields' count and selection sets, to check next."""
    seen: dict[tuple[str, str], int] = {}
    children: list[SelectionSetNode] = []
    stack: list[tuple[str, SelectionSetNode]] = [("", node)]
    selections = fields = 0
    while stack:
        condition, current = stack.pop()
        selections += len(current.selections)
        _check(selections, limits.max_selections, TOO_MANY_FIELDS, "selections in one set")
        for selection in current.selections:
            if isinstance(selection, FieldNode):
                key = (condition, (selection.alias or selection.name).value)
                fields += 1
                if selection.selection_set is not None:
                    children.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                key = (condition, "..." + selection.name.value)
            else:
                assert isinstance(selection, InlineFragmentNode)
                inner = selection.type_condition
                stack.append((inner.name.value if inner else condition, selection.selection_set))
                continue
            seen[key] = count = seen.get(key, 0) + 1
            if count > limits.max_repeats:
                raise AdmissionError(
                    TOO_MANY_FIELDS,
                    f"'{key[1]}' is selected {count} times in one selection set; "
                    f"the maximum is {limits.max_repeats}.",
                )
    return fields, children


def _check_fields(document: DocumentNode, limits: Limits) -> None:
    """Every selection set of every definition as written (validation reads them all,
    not only the operation that runs), each selection once: the sets' selections and
    repeats, and the fields in all. One linear pass, before validation sees it."""
    stack = [
        definition.selection_set
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    # Validation walks each operation again for its variables (three rules): measured,
    # an operation costs it about as much as this many fields.
    operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
    fields = OPERATION_WEIGHT * (operations - 1)
    while stack:
        count, children = _check_set(stack.pop(), limits)
        fields += count
        stack.extend(children)
    _check(fields, limits.max_fields, TOO_MANY_FIELDS, "field selections")


class _ListLengths(Visitor):
    def enter_list_value(self, node: ListValueNode, *_: object) -> None:
        if len(node.values) > MAX_LIST_VALUES:
            raise AdmissionError(
                LIST_TOO_LONG,
                f"A list literal has {len(node.values)} values; the maximum is {MAX_LIST_VALUES}.",
            )


def _parse(query: str, max_tokens: int) -> DocumentNode:
    try:
        return parse(query, max_tokens=max_tokens)
    except GraphQLSyntaxError as exc:
        raise _syntax_error(exc) from None


def _syntax_error(exc: GraphQLError) -> AdmissionError:
    """graphql-core reports its own limits as syntax errors: tell them apart."""
    message = exc.message
    if message.endswith("tokens. Parsing aborted."):
        code = TOKEN_LIMIT_EXCEEDED
    elif message.endswith("nested too deeply. Parsing aborted."):
        code = MAX_DEPTH_EXCEEDED
    else:
        code = PARSE_FAILED
    locations = tuple((loc.line, loc.column) for loc in exc.locations or ())
    return AdmissionError(code, message, locations)


def _check(value: int, limit: int, code: str, what: str) -> None:
    if value > limit:
        raise AdmissionError(code, f"The operation has {value} {what}; the maximum is {limit}.")


# A parsed document (its AST, analysis, validation errors and compiled cost) takes
# about this many bytes per character of query text: measured with tracemalloc on
# the graph's documents (140 to 260), rounded up. The cache's byte bound counts it so.
BYTES_PER_CHARACTER = 300


class DocumentCache:
    """Admitted analyses by (query text, operation name), least recently used first
    out, bounded in entries and in estimated bytes; a document longer than
    ``max_document_chars`` is never kept."""

    def __init__(self, *, entries: int, max_bytes: int, max_document_chars: int) -> None:
        self.entries = entries
        self.max_bytes = max_bytes
        self.max_document_chars = max_document_chars
        self.bytes = 0  # the estimate of what the cache holds
        self._items: OrderedDict[tuple[str, str | None], tuple[Analysis, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    @staticmethod
    def cost(query: str) -> int:
        return len(query) * BYTES_PER_CHARACTER

    def get(self, key: tuple[str, str | None]) -> Analysis | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: tuple[str, str | None], analysis: Analysis) -> None:
        size = self.cost(key[0])
        if len(key[0]) > self.max_document_chars or size > self.max_bytes or self.entries < 1:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        while self._items and (
            len(self._items) >= self.entries or self.bytes + size > self.max_bytes
        ):
            _, (_, freed) = self._items.popitem(last=False)
            self.bytes -= freed
        self._items[key] = (analysis, size)
        self.bytes += size


class DocumentAnalyser:
    """``analyse()`` a document; an admitted one is kept in a :class:`DocumentCache`.
    A refusal is never cached: a refused document costs its analysis each time (which
    the limits bound) and the caller is charged for it, but it takes no memory."""

    def __init__(
        self,
        schema: GraphQLSchema,
        limits: Limits,
        *,
        cache_size: int = 1024,
        cache_bytes: int = 64_000_000,
    ) -> None:
        self.schema = schema
        self.limits = limits
        self.cache = DocumentCache(
            entries=cache_size, max_bytes=cache_bytes, max_document_chars=limits.max_document_chars
        )

    def is_cached(self, query: str, operation_name: str | None) -> bool:
        return self.cache.get((query, operation_name)) is not None

    def analyse(self, query: str, operation_name: str | None) -> Analysis:
        limit = self.limits.max_document_chars
        if len(query) > limit:  # before it is even looked up
            _check(len(query), limit, DOCUMENT_TOO_LARGE, "characters")
        key = (query, operation_name)
        analysis = self.cache.get(key)
        if analysis is None:
            try:
                analysis = self._measure(query, operation_name)
            except AdmissionError as exc:
                raise exc.copy() from None  # without the frames of the analysis
            self.cache.put(key, analysis)
        return analysis

    def _measure(self, query: str, operation_name: str | None) -> Analysis:
        limits = self.limits
        document = _parse(query, limits.max_tokens)
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            message = (
                f"Unknown operation named '{operation_name}'."
                if operation_name
                else "The document has no operation, or several and no operation name."
            )
            raise AdmissionError(OPERATION_NOT_FOUND, message)
        root = fields_of(self.schema.get_root_type(operation.operation))
        summary = _Walker(self.schema, document, limits).selection_set(
            operation.selection_set, root, 1
        )
        directives = summary.directives + len(operation.directives or ())
        directives += sum(len(v.directives or ()) for v in operation.variable_definitions or ())
        _check(summary.depth, limits.max_depth, MAX_DEPTH_EXCEEDED, "levels of fields")
        _check(summary.aliases, limits.max_aliases, MAX_ALIASES_EXCEEDED, "aliases")
        _check(directives, limits.max_directives, MAX_DIRECTIVES_EXCEEDED, "directives")
        _check(summary.fields, limits.max_root_fields, MAX_ROOT_FIELDS_EXCEEDED, "root fields")
        _check_fields(document, limits)  # every definition, as validation reads them
        visit(document, _ListLengths())
        return Analysis(
            document=document,
            operation=operation,
            kind=operation.operation.value,
            name=operation.name.value if operation.name else None,
            root_fields=_root_field_names(operation.selection_set, fragments_of(document)),
            depth=summary.depth,
            aliases=summary.aliases,
            directives=directives,
            fields=summary.total,
            uses_introspection=summary.introspection,
            coordinates=frozenset(summary.coordinates),
            document_hash=hashlib.sha256(query.encode()).hexdigest(),
            prepared=PreparedDocument(query, document),
        )
