"""A query compiled into a tree of closures, one per selected field, that builds the
JSON-ready answer straight from the graph objects.

What is decided per field at compile time (graphql-core decides it again for every
field of every object): the resolver or attribute, the arguments' AST, the scope the
field needs, how its value completes (scalar, enum, list, object, abstract type) and
what the object's sub-selection is after fragments and ``@skip``/``@include``. At run
time a field is one call; async resolvers are gathered per object and per list, as
graphql-core does, so every loader still sees one batch per level. A field declared
as one load (:class:`~resolvers.loader_fields.LoaderField`) is no call at all: the run
issues its load and completes it from the load's done callback (:meth:`Run.load`).

The semantics follow graphql-core's executor step by step (it stays the oracle, see
``tests/e2e/test_compiled_equivalence.py``): errors located at the field's path, a
non-null field's error propagated to the nearest nullable parent, errors under a
nulled position dropped, siblings of a failed non-null field cancelled.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Awaitable, Callable, Iterable
from operator import attrgetter
from types import CoroutineType
from typing import Any, NamedTuple

import strawberry
from graphql import (
    FieldNode,
    GraphQLAbstractType,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLError,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
    Undefined,
    is_abstract_type,
    is_leaf_type,
    located_error,
)
from graphql.execution.values import VariableValues, get_argument_values
from graphql.pyutils import gather_with_cancel, inspect, is_iterable
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField

from resolvers.access import ScopeGuard
from resolvers.compiled.collect import Collector, Grouped, Unsupported
from resolvers.loader_fields import LoaderField, declared

Path = tuple[Any, str | int] | None
Complete = Callable[["Run", Any, Path], Any]
Execute = Callable[["Run", Any, Path], Any]


class Loaded(NamedTuple):
    """A nullable field declared as one load (:class:`LoaderField`), compiled: its
    response key, the scope it needs (the field's coordinate) and how its value
    completes."""

    key: str
    field: LoaderField[Any, Any, Any]
    coordinate: str | None
    complete: Complete
    handle: Handle


class Field(NamedTuple):
    """A compiled field. ``execute`` does everything; for an attribute whose value
    needs no work (a string, a boolean, a small int, a null where allowed, an enum
    member seen before) the object's loop reads ``attribute`` and takes the value
    as it is (``plain`` types) or its name (``names``), without a call. A ``loaded``
    field is left to the run (:meth:`Run.load`)."""

    key: str
    execute: Execute
    attribute: str | None = None
    plain: frozenset[type] = frozenset()
    small_int: bool = False
    names: dict[Any, str] | None = None
    loaded: Loaded | None = None


Fields = list[Field]
_MISSING = object()
_PLAIN: dict[frozenset[type], frozenset[type]] = {}

MAX_INT = 2**31
_background: set[asyncio.Future[Any]] = set()


def path_list(path: Path) -> list[str | int]:
    keys: list[str | int] = []
    while path is not None:
        path, key = path
        keys.append(key)
    keys.reverse()
    return keys


class ResolverInfo:
    """What a ported resolver reads of ``info``: the request's context (scope checks,
    the only users of the rest of ``info``, are compiled into the plan)."""

    __slots__ = ("context",)

    def __init__(self, context: Any) -> None:
        self.context = context


class Run:
    """One execution of a plan: the request's context, variables and errors, and the
    loaded fields (:class:`Loaded`) still to complete."""

    __slots__ = (
        "_idle",
        "_starting",
        "_waiting",
        "args",
        "context",
        "errors",
        "info",
        "nulled",
        "variables",
    )

    def __init__(self, context: Any, variables: VariableValues) -> None:
        self.context = context
        self.info = ResolverInfo(context)
        self.variables = variables
        self.errors: list[GraphQLError] = []
        self.nulled: set[Path] = set()
        self.args: dict[int, dict[str, Any]] = {}
        self._starting: list[tuple[Loaded, Any, Path, dict[str, Any]]] = []
        self._waiting = 0  # loads and completions under way
        self._idle: asyncio.Future[None] | None = None

    def load(self, loaded: Loaded, source: Any, path: Path, results: dict[str, Any]) -> None:
        """Fill ``results[loaded.key]`` (None until then) with the loaded field's value
        on ``source``. Its scope check and load happen on the loop's next turn, when
        an async field's task would start, so every object's loads of this turn share
        one batch per source; the load's done callback completes it."""
        if not self._starting:
            asyncio.get_running_loop().call_soon(self._start)
        self._starting.append((loaded, source, path, results))

    async def settled(self) -> None:
        """Wait until every loaded field of the run is complete."""
        while self._waiting or self._starting:
            self._idle = asyncio.get_running_loop().create_future()
            await self._idle

    def _start(self) -> None:
        starting, self._starting = self._starting, []
        context = self.context
        for loaded, source, parent_path, results in starting:
            path = (parent_path, loaded.key)
            try:
                if loaded.coordinate is not None:
                    context.access.require(loaded.coordinate)
                ident = loaded.field.key(source)
                if ident is None:
                    continue
                future = loaded.field.loader(context.loaders).load(ident)
            except Exception as exc:
                loaded.handle(self, exc, path)
                continue
            self._waiting += 1
            future.add_done_callback(functools.partial(self._loaded, loaded, source, path, results))
        self._check_idle()

    def _loaded(
        self,
        loaded: Loaded,
        source: Any,
        path: Path,
        results: dict[str, Any],
        future: asyncio.Future[Any],
    ) -> None:
        self._waiting -= 1
        if not future.cancelled():
            try:
                value = loaded.field.convert(source, future.result().value, self.context)
                done = _completion(self, value, path, loaded.complete, loaded.handle)
                if type(done) is CoroutineType:
                    self._waiting += 1
                    task = asyncio.ensure_future(done)
                    task.add_done_callback(functools.partial(self._finished, loaded, results))
                    done = None
                results[loaded.key] = done
            except Exception as exc:
                loaded.handle(self, exc, path)
        self._check_idle()

    def _finished(self, loaded: Loaded, results: dict[str, Any], task: asyncio.Future[Any]) -> None:
        """A loaded field whose completion had to wait (``_awaited`` handled its error)."""
        self._waiting -= 1
        if not task.cancelled():
            results[loaded.key] = task.result()
        self._check_idle()

    def _check_idle(self) -> None:
        idle = self._idle
        if idle is not None and not (self._waiting or self._starting or idle.done()):
            idle.set_result(None)

    def add(self, error: GraphQLError, path: Path) -> None:
        """Keep ``error`` unless its position, or a parent's, was already nulled."""
        nulled = self.nulled
        if None in nulled:
            return
        position = path
        while position is not None:
            if position in nulled:
                return
            position = position[0]
        nulled.add(path)
        self.errors.append(error)


def _settle(awaitables: Iterable[Awaitable[Any]]) -> None:
    """Let fields already started finish in the background (their errors fall under a
    nulled position), as graphql-core does."""
    future = asyncio.ensure_future(asyncio.gather(*awaitables, return_exceptions=True))
    _background.add(future)
    future.add_done_callback(_background.discard)


Handle = Callable[[Run, Exception, Path], None]


async def _completed(
    run: Run, raw: Awaitable[Any], path: Path, complete: Complete, handle: Handle
) -> Any:
    """A resolver's awaited value, completed; an error is handled at ``path``."""
    try:
        value = await raw
        if isinstance(value, Exception):
            raise value
        done = complete(run, value, path)
        if type(done) is CoroutineType:
            done = await done
    except Exception as exc:
        handle(run, exc, path)
        return None
    return done


async def _awaited(run: Run, done: Awaitable[Any], path: Path, handle: Handle) -> Any:
    """A completion that had to wait; an error is handled at ``path``."""
    try:
        return await done
    except Exception as exc:
        handle(run, exc, path)
        return None


def _handler(nodes: list[FieldNode], non_null: bool) -> Handle:
    def handle(run: Run, exc: Exception, path: Path) -> None:
        error = located_error(exc, nodes, path_list(path))
        if non_null:
            raise error
        run.add(error, path)

    return handle


def _reading(key: str, read: Callable[[Any], Any], complete: Complete, handle: Handle) -> Execute:
    """A field whose value ``read`` takes from its source, completed at its path."""

    def execute_read(run: Run, source: Any, parent_path: Path) -> Any:
        path = (parent_path, key)
        try:
            return _completion(run, read(source), path, complete, handle)
        except Exception as exc:
            handle(run, exc, path)
            return None

    return execute_read


def _completion(run: Run, value: Any, path: Path, complete: Complete, handle: Handle) -> Any:
    """``value`` completed at ``path``, or a coroutine of that when it has to wait."""
    done = complete(run, value, path)
    if type(done) is CoroutineType:
        return _awaited(run, done, path, handle)
    return done


class Compiler:
    """Compiles one operation (one set of ``@skip``/``@include`` decisions)."""

    def __init__(self, schema: strawberry.Schema, collector: Collector) -> None:
        self._schema = schema
        self._graphql = schema._schema
        self._collector = collector
        self._converter = schema.schema_converter
        self._enum_names: dict[str, dict[Any, str]] = {}  # per enum: member -> name

    def object_fields(self, type_: GraphQLObjectType, grouped: Grouped) -> Fields:
        return [self._field(type_, key, nodes) for key, nodes in grouped.items()]

    # ------------------------------------------------------------------ fields

    def _field(self, parent: GraphQLObjectType, key: str, nodes: list[FieldNode]) -> Field:
        name = nodes[0].name.value
        if name == "__typename":
            typename = parent.name
            return Field(key, lambda run, source, path: typename)
        if name.startswith("__"):
            raise Unsupported("introspection")
        field_def = parent.fields[name]
        definition = field_def.extensions.get("strawberry-definition")
        if not isinstance(definition, StrawberryField):
            raise Unsupported("field without a strawberry definition")
        return_type = field_def.type
        non_null = isinstance(return_type, GraphQLNonNull)
        complete = self._completer(return_type, nodes, parent.name, name)
        handle = _handler(nodes, non_null)
        if parent is self._graphql.subscription_type:
            # An event's root field: its value is the event itself, as strawberry
            # resolves it (the field's resolver made the stream and checked its scope).
            return Field(key, _reading(key, lambda event: event, complete, handle))
        if definition.is_basic_field:
            if self._schema.config.default_resolver is not getattr:
                raise Unsupported("default resolver")
            attribute = definition.python_name
            execute_attribute = _reading(key, attrgetter(attribute), complete, handle)
            return self._attribute_field(key, execute_attribute, attribute, return_type)

        resolve = self._resolver(parent, field_def, definition, nodes[0])

        def execute(run: Run, source: Any, parent_path: Path) -> Any:
            path = (parent_path, key)
            try:
                raw = resolve(run, source)
                if isinstance(raw, Awaitable):
                    return _completed(run, raw, path, complete, handle)
                if isinstance(raw, Exception):
                    raise raw
                return _completion(run, raw, path, complete, handle)
            except Exception as exc:
                handle(run, exc, path)
                return None

        loaded = None
        if not non_null and not field_def.args:
            loaded = self._loaded(key, f"{parent.name}.{name}", definition, complete, handle)
        return Field(key, execute, loaded=loaded)

    def _loaded(
        self,
        key: str,
        coordinate: str,
        definition: StrawberryField,
        complete: Complete,
        handle: Handle,
    ) -> Loaded | None:
        """The field as a :class:`Loaded` one, when its resolver is a declared
        :class:`LoaderField`; its extensions are scope guards (``_resolver`` refuses
        any other)."""
        resolver = definition.base_resolver
        field = declared(resolver.wrapped_func) if resolver is not None else None
        if field is None:
            return None
        guarded = bool(definition.extensions)
        return Loaded(key, field, coordinate if guarded else None, complete, handle)

    def _attribute_field(
        self, key: str, execute: Execute, attribute: str, type_: GraphQLOutputType
    ) -> Field:
        nullable = not isinstance(type_, GraphQLNonNull)
        leaf = type_ if nullable else type_.of_type  # type: ignore[union-attr]
        plain: set[type] = {type(None)} if nullable else set()
        if leaf is GraphQLString or leaf is GraphQLID:
            plain.add(str)
        elif leaf is GraphQLBoolean:
            plain.add(bool)
        names = self._names(leaf) if isinstance(leaf, GraphQLEnumType) else None
        plain_types = _PLAIN.setdefault(frozenset(plain), frozenset(plain))  # shared
        return Field(key, execute, attribute, plain_types, leaf is GraphQLInt, names)

    def _names(self, type_: GraphQLEnumType) -> dict[Any, str]:
        return self._enum_names.setdefault(type_.name, {})

    def _resolver(
        self, parent: GraphQLObjectType, field_def: Any, field: StrawberryField, node: FieldNode
    ) -> Callable[[Run, Any], Any]:
        """The field's value for a source: the scope check, the arguments (coerced and
        converted once per request), then the resolver (or the attribute)."""
        guards = [e for e in field.extensions if isinstance(e, ScopeGuard)]
        if len(guards) != len(field.extensions):
            raise Unsupported("field extension")
        coordinate = f"{parent.name}.{node.name.value}"
        guarded = bool(guards)
        resolver = field.base_resolver
        if resolver is None:
            attribute = field.python_name

            if not guarded:
                return lambda run, source: getattr(source, attribute)

            async def resolve_guarded_attribute(run: Run, source: Any) -> Any:
                run.context.access.require(coordinate)
                return getattr(source, attribute)

            return resolve_guarded_attribute
        function = resolver.wrapped_func
        if isinstance(function, staticmethod | classmethod):
            raise Unsupported("static or class method resolver")
        with_self = resolver.self_parameter is not None
        extra = [p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p]
        info_name = resolver.info_parameter.name if resolver.info_parameter else None
        arguments = self._arguments(field_def, field, node)

        def call(run: Run, source: Any, kwargs: dict[str, Any]) -> Any:
            for name in extra:
                kwargs[name] = source
            if info_name is not None:
                kwargs[info_name] = run.info
            return function(source, **kwargs) if with_self else function(**kwargs)

        if not guarded:
            return lambda run, source: call(run, source, arguments(run))

        async def call_guarded(run: Run, source: Any, kwargs: dict[str, Any]) -> Any:
            run.context.access.require(coordinate)
            result = call(run, source, kwargs)
            return await result if isinstance(result, Awaitable) else result

        # The check runs when the field is awaited, as ScopeGuard (an async extension)
        # does: the order of the answer's errors depends on it.
        return lambda run, source: call_guarded(run, source, arguments(run))

    def _arguments(
        self, field_def: Any, field: StrawberryField, node: FieldNode
    ) -> Callable[[Run], dict[str, Any]]:
        if not (field_def.args or node.arguments):
            return lambda run: {}
        slot = id(node)
        registry = self._converter.scalar_registry
        config = self._schema.config

        def arguments(run: Run) -> dict[str, Any]:
            converted = run.args.get(slot)
            if converted is None:
                raw = get_argument_values(field_def, node, run.variables)
                converted = convert_arguments(
                    raw, field.arguments, scalar_registry=registry, config=config, info=None
                )
                run.args[slot] = converted
            return dict(converted)

        return arguments

    # -------------------------------------------------------------- completion

    def _completer(
        self,
        type_: GraphQLOutputType,
        nodes: list[FieldNode],
        parent: str,
        field: str,
        *,
        nullable: bool = True,
    ) -> Complete:
        """How a value of ``type_`` completes; ``nullable=False`` inside a non-null
        type, which has already refused a null."""
        if isinstance(type_, GraphQLNonNull):
            inner = self._completer(type_.of_type, nodes, parent, field, nullable=False)
            message = f"Cannot return null for non-nullable field {parent}.{field}."

            def complete_non_null(run: Run, value: Any, path: Path) -> Any:
                if value is None or value is Undefined:
                    raise TypeError(message)
                done = inner(run, value, path)
                if done is None:
                    raise TypeError(message)
                return done

            return complete_non_null
        if isinstance(type_, GraphQLList):
            complete = self._list(type_, nodes, parent, field)
        elif is_leaf_type(type_):
            names = self._names(type_) if isinstance(type_, GraphQLEnumType) else None
            complete = _leaf(type_, names)
        elif is_abstract_type(type_):
            complete = self._abstract(type_, nodes, parent, field)
        else:
            assert isinstance(type_, GraphQLObjectType)
            complete = self._object(type_, nodes)
        return _nullable(complete) if nullable else complete

    def _list(
        self, type_: GraphQLList[Any], nodes: list[FieldNode], parent: str, field: str
    ) -> Complete:
        item_type = type_.of_type
        item = self._completer(item_type, nodes, parent, field)
        handle = _handler(nodes, isinstance(item_type, GraphQLNonNull))
        not_iterable = f"Expected Iterable, but did not find one for field '{parent}.{field}'."

        def complete_list(run: Run, value: Any, path: Path) -> Any:
            if not isinstance(value, list) and not is_iterable(value):
                raise GraphQLError(not_iterable)
            results: list[Any] = []
            pending: list[int] = []
            try:
                for index, element in enumerate(value):
                    item_path = (path, index)
                    try:
                        if isinstance(element, Exception):
                            raise element
                        done = item(run, element, item_path)
                        if type(done) is CoroutineType:
                            results.append(_awaited(run, done, item_path, handle))
                            pending.append(index)
                            continue
                        results.append(done)
                    except Exception as exc:
                        handle(run, exc, item_path)
                        results.append(None)
            except Exception:
                if pending:
                    _settle([results[i] for i in pending])
                raise
            if not pending:
                return results
            return _gather_list(results, pending)

        return complete_list

    def _object(self, type_: GraphQLObjectType, nodes: list[FieldNode]) -> Complete:
        fields = self.object_fields(type_, self._collector.subfields(type_, nodes))
        return object_runner(fields, type_, nodes)

    def _abstract(
        self, type_: GraphQLAbstractType, nodes: list[FieldNode], parent: str, field: str
    ) -> Complete:
        by_name: dict[str, Complete] = {}
        by_class: dict[type, str] = {}
        for possible in self._graphql.get_possible_types(type_):
            by_name[possible.name] = self._object(possible, nodes)
            definition = possible.extensions.get("strawberry-definition")
            if definition is not None:
                by_class[definition.origin] = possible.name

        def complete_abstract(run: Run, value: Any, path: Path) -> Any:
            name = by_class.get(type(value))
            complete = by_name.get(name) if name is not None else None
            if complete is None:
                raise GraphQLError(
                    f"Abstract type '{type_}' must resolve to an Object type at runtime"
                    f" for field '{parent}.{field}' with value {inspect(value)}.",
                    nodes,
                )
            return complete(run, value, path)

        return complete_abstract


def object_runner(
    fields: Fields, type_: GraphQLObjectType | None = None, nodes: list[FieldNode] | None = None
) -> Complete:
    """Runs an object's fields on a source: a dict, or a coroutine of it when a field
    is async (those are gathered, the first non-null failure cancelling the rest).
    The source is checked first with ``type_``'s ``is_type_of``, if it has one.

    A loop over the fields, not generated code: a runner generated per object type
    (one statement block per field, built with ``compile()``) ran this loop's plain
    fields about three times as fast, but a page's CPU per request did not move
    measurably (``bench/bench_compiled.py``) while compiling the page's document took
    15 ms instead of 3 and its plan 50% more memory."""
    is_type_of = type_.is_type_of if type_ is not None else None

    def run_fields(run: Run, source: Any, path: Path) -> Any:
        if is_type_of is not None and not is_type_of(source, None):  # type: ignore[arg-type]
            raise GraphQLError(
                f"Expected value of type '{type_}' but got: {inspect(source)}.", nodes
            )
        results: dict[str, Any] = {}
        pending: list[str] | None = None
        try:
            for key, execute, attribute, plain, small_int, names, loaded in fields:
                if attribute is not None:
                    try:
                        value: Any = getattr(source, attribute, _MISSING)
                    except Exception:  # a field built on read that failed: ``execute``
                        value = _MISSING  # reads it again, its error located at it
                    kind = type(value)
                    if kind in plain or (small_int and kind is int and -MAX_INT <= value < MAX_INT):
                        results[key] = value
                        continue
                    if names is not None:
                        try:
                            results[key] = names[value]
                            continue
                        except (KeyError, TypeError):
                            pass
                elif loaded is not None:
                    results[key] = None
                    run.load(loaded, source, path, results)
                    continue
                value = execute(run, source, path)
                results[key] = value
                if type(value) is CoroutineType:
                    if pending is None:
                        pending = [key]
                    else:
                        pending.append(key)
        except Exception:
            if pending:
                _settle([results[key] for key in pending])
            raise
        if pending is None:
            return results
        return _gather_fields(results, pending)

    return run_fields


async def _gather_fields(results: dict[str, Any], pending: list[str]) -> dict[str, Any]:
    if len(pending) == 1:
        key = pending[0]
        results[key] = await results[key]
    else:
        values = await gather_with_cancel(*(results[key] for key in pending))
        results.update(zip(pending, values, strict=True))
    return results


async def _gather_list(results: list[Any], pending: list[int]) -> list[Any]:
    if len(pending) == 1:
        index = pending[0]
        results[index] = await results[index]
    else:
        values = await gather_with_cancel(*(results[index] for index in pending))
        for index, value in zip(pending, values, strict=True):
            results[index] = value
    return results


def _nullable(complete: Complete) -> Complete:
    def complete_nullable(run: Run, value: Any, path: Path) -> Any:
        if value is None or value is Undefined:
            return None
        return complete(run, value, path)

    return complete_nullable


def _leaf(type_: Any, names: dict[Any, str] | None) -> Complete:
    """Scalars and enums as graphql-core serialises them; the built-in scalars'
    common case (already the right Python type) skips the call."""
    coerce = type_.coerce_output_value

    def slow(value: Any) -> Any:
        coerced = coerce(value)
        if coerced is Undefined or coerced is None:
            raise TypeError(
                f"Expected `{inspect(type_)}.coerce_output_value({inspect(value)})` to return"
                f" non-nullable value, returned: {inspect(coerced)}"
            )
        return coerced

    if type_ is GraphQLString or type_ is GraphQLID:
        return lambda run, value, path: value if type(value) is str else slow(value)
    if type_ is GraphQLBoolean:
        return lambda run, value, path: value if type(value) is bool else slow(value)
    if type_ is GraphQLInt:
        return lambda run, value, path: (
            value if type(value) is int and -MAX_INT <= value < MAX_INT else slow(value)
        )
    if type_ is GraphQLFloat:
        return lambda run, value, path: (
            value if type(value) is float and math.isfinite(value) else slow(value)
        )
    if names is not None:

        def complete_enum(run: Run, value: Any, path: Path) -> Any:
            try:
                return names[value]
            except KeyError:
                names[value] = name = slow(value)
                return name
            except TypeError:  # unhashable: never a member
                return slow(value)

        return complete_enum
    return lambda run, value, path: slow(value)
