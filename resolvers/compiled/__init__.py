"""Compiled execution of admitted queries.

Each admitted document is compiled once per operation and per set of
``@skip``/``@include`` decisions into a plan (:mod:`resolvers.compiled.plan`), kept
with the parsed and validated document (``PreparedDocument.plans``). What the
compiler does not cover (mutations, introspection, field extensions other than
:class:`~resolvers.access.ScopeGuard`, variables that do not coerce) is decided
before anything runs and left to the reference executor (strawberry over
graphql-core); ``og_compiled_fallbacks_total`` counts those operations by reason.
A subscription starts on the reference executor (its resolver makes the stream and
its first payload is an event like the others); each event is then completed by the
subscription's plan (:func:`compile_events`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import CoroutineType
from typing import Any

import strawberry
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import FragmentDefinitionNode, GraphQLError, OperationDefinitionNode, OperationType
from graphql.execution.values import VariableValues, get_variable_values
from prometheus_client import Counter
from strawberry.types import ExecutionResult

from resolvers.compiled.collect import (
    Collector,
    Unsupported,
    condition_variables,
    fragments_of,
    pick_operation,
)
from resolvers.compiled.plan import Compiler, Complete, Run, object_runner
from resolvers.context import RequestContext
from resolvers.schema import PreparedDocument, operation_report

FALLBACKS = Counter(
    "og_compiled_fallbacks_total",
    "Admitted operations run by the reference executor rather than a compiled plan.",
    ["reason"],
)
RUNS = Counter("og_compiled_runs_total", "Admitted operations run by their compiled plan.")
# Per operation: the @skip/@include decisions kept compiled (a plan takes about 150 bytes
# per character of the query; beyond these, a plan is compiled per request)
MAX_PLANS = 4


@dataclass(eq=False)
class OperationPlans:
    """One operation of a document, and its plans by ``@skip``/``@include`` decisions."""

    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    conditions: tuple[str, ...]
    plans: dict[tuple[Any, ...], Complete | str] = field(default_factory=dict)


async def execute_compiled(
    schema: strawberry.Schema,
    prepared: PreparedDocument,
    variables: dict[str, Any] | None,
    context: RequestContext,
    operation_name: str | None,
) -> ExecutionResult | None:
    """The query's result, or None when it is the reference executor's to run
    (nothing has run then)."""
    found = _counted(_plan(schema, prepared, variables, operation_name, OperationType.QUERY))
    if found is None:
        return None
    plan, values = found
    data, errors = await _run(plan, values, context, None)
    return ExecutionResult(data=data, errors=errors, extensions=operation_report(context))


def compile_events(
    schema: strawberry.Schema,
    prepared: PreparedDocument,
    variables: dict[str, Any] | None,
    operation_name: str | None,
) -> Callable[[RequestContext, Any], Awaitable[GraphQLExecutionResult]] | None:
    """How each event of the subscription completes (for
    ``RequestContext.complete_event``), or None when the reference executor is to
    complete them."""
    kind = OperationType.SUBSCRIPTION
    found = _counted(_plan(schema, prepared, variables, operation_name, kind))
    if found is None:
        return None
    plan, values = found

    async def complete_event(context: RequestContext, event: Any) -> GraphQLExecutionResult:
        data, errors = await _run(plan, values, context, event)
        return GraphQLExecutionResult(data, errors)

    return complete_event


def _counted(
    found: tuple[Complete, VariableValues] | str,
) -> tuple[Complete, VariableValues] | None:
    """The plan to run, counted as a run; or None, counted as a fallback by reason."""
    if isinstance(found, str):
        FALLBACKS.labels(found).inc()
        return None
    RUNS.inc()
    return found


async def _run(
    plan: Complete, values: VariableValues, context: RequestContext, root: Any
) -> tuple[Any, list[GraphQLError] | None]:
    """The data and errors of one run of ``plan`` on ``root``."""
    run = Run(context, values)
    data: Any
    try:
        data = plan(run, root, None)
        if type(data) is CoroutineType:
            data = await data
        await run.settled()
    except GraphQLError as error:
        run.add(error, None)
        data = None
    return data, run.errors or None


def _plan(
    schema: strawberry.Schema,
    prepared: PreparedDocument,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    kind: OperationType,
) -> tuple[Complete, VariableValues] | str:
    """The compiled plan of the ``kind`` operation and coerced variables, or why
    there is none."""
    if prepared.validate(schema._schema):
        return "invalid document"
    operations = prepared.plans.get(operation_name)
    if operations is None:
        operations = _operation(prepared, operation_name)
        prepared.plans[operation_name] = operations
    if isinstance(operations, str):
        return operations
    if operations.operation.operation is not kind:
        return operations.operation.operation.value
    values = get_variable_values(
        schema._schema, operations.operation.variable_definitions or (), variables or {}
    )
    if isinstance(values, list):
        return "variables"
    key = tuple(values.coerced.get(name) for name in operations.conditions)
    plan = operations.plans.get(key)
    if plan is None:
        plan = _compile(schema, operations, values)
        if len(operations.plans) < MAX_PLANS:
            operations.plans[key] = plan
    return plan if isinstance(plan, str) else (plan, values)


def _operation(prepared: PreparedDocument, name: str | None) -> OperationPlans | str:
    operation = pick_operation(prepared.document, name)
    if operation is None:
        return "operation"
    if operation.operation is OperationType.MUTATION:
        return operation.operation.value
    try:
        fragments = fragments_of(prepared.document)
    except Unsupported as unsupported:
        return str(unsupported)
    return OperationPlans(operation, fragments, condition_variables(prepared.document))


def _compile(
    schema: strawberry.Schema, operations: OperationPlans, values: VariableValues
) -> Complete | str:
    root = schema._schema.get_root_type(operations.operation.operation)
    assert root is not None
    collector = Collector(schema._schema, operations.fragments, values.coerced)
    try:
        grouped = collector.fields(root, [operations.operation.selection_set])
        return object_runner(Compiler(schema, collector).object_fields(root, grouped))
    except Unsupported as unsupported:
        return str(unsupported)
