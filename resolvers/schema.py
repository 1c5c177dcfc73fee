"""The executable schema. Documents are parsed and validated once, at admission, and
cached there (bounded in bytes); execution takes them from :data:`PREPARED` rather
than parsing the query text again. A query executed without a prepared document (a
test calling the schema directly) is parsed and validated as usual, uncached."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import strawberry
from graphql import DocumentNode, GraphQLError, GraphQLSchema, OperationType, specified_rules
from graphql.pyutils import AwaitableOrValue
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext, validate_document
from strawberry.types import ExecutionContext

from resolvers.context import RequestContext
from resolvers.mutations import Mutation
from resolvers.query import Query
from resolvers.subscription import Subscription
from resolvers.types.order import FulfillmentOrder, LineItem, Order, Shipment
from resolvers.types.ticket import SupportTicket

# Types reachable only through the Node interface must be named to be in the schema.
NODE_TYPES = (Order, LineItem, FulfillmentOrder, Shipment, SupportTicket)


@dataclass(eq=False)
class PreparedDocument:
    """A parsed document and, once validated, its validation errors."""

    query: str
    document: DocumentNode
    errors: list[GraphQLError] | None = None
    plans: dict[Any, Any] = field(default_factory=dict)  # compiled (resolvers.compiled)

    def validate(self, schema: GraphQLSchema) -> list[GraphQLError]:
        """The document's validation errors, computed once (strawberry's rules)."""
        if self.errors is None:
            self.errors = validate_document(schema, self.document, tuple(specified_rules))
        return self.errors


# The document the gateway admitted, for the operation the current task executes next.
PREPARED: ContextVar[PreparedDocument | None] = ContextVar("og_prepared", default=None)


class PreparedDocuments(SchemaExtension):
    """Parse and validation from :data:`PREPARED` when it holds this query."""

    def _prepared(self) -> PreparedDocument | None:
        prepared = PREPARED.get()
        query = self.execution_context.query
        if prepared is None or query is None or prepared.query != query:
            return None
        return prepared

    def on_parse(self) -> Iterator[None]:
        prepared = self._prepared()
        execution = self.execution_context
        if prepared is not None:  # else strawberry parses the query itself
            execution.graphql_document = prepared.document
        yield

    def on_validate(self) -> Iterator[None]:
        prepared = self._prepared()
        execution = self.execution_context
        if prepared is not None and prepared.document is execution.graphql_document:
            execution.pre_execution_errors = prepared.validate(execution.schema._schema)
        yield  # else strawberry validates it


class OperationReport(SchemaExtension):
    """Once per operation: ``extensions.cache`` (hits, misses and stale serves per
    source)."""

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        return operation_report(context) if isinstance(context, RequestContext) else {}


def operation_report(context: RequestContext) -> dict[str, Any]:
    """An operation's ``extensions``, whichever executor ran it."""
    return {"cache": context.counts.as_dict()} if context.counts.by_source else {}


class EventExecutor(StrawberryGraphQLCoreExecutionContext):
    """strawberry's executor, except that a subscription's events are completed by
    the request's compiled plan when it has one (``RequestContext.complete_event``);
    graphql-core builds one of these per event, with the event as its root value."""

    def execute_operation(self, serially: bool | None = None) -> AwaitableOrValue[Any]:
        context = self.context_value
        if (
            isinstance(context, RequestContext)
            and context.complete_event is not None
            and self.operation.operation is OperationType.SUBSCRIPTION
        ):
            return context.complete_event(context, self.root_value)
        return super().execute_operation(serially)


class OrderGraphSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Errors are part of the answer, not incidents: strawberry would log each one
        with a traceback (a failing source would flood the log). The edge logs the
        unexpected ones, once, with a correlation id."""


@functools.cache
def build_schema() -> strawberry.Schema:
    """The schema, built once a process: it depends only on the code, holds no state
    of its own, and building it takes about 30 ms of CPU."""
    return OrderGraphSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=list(NODE_TYPES),
        extensions=[
            PreparedDocuments,
            OperationReport,
        ],
        # Suggestions are kept here and stripped per caller on the way out
        # (gateway.error_format): strawberry would strip them by editing the errors, which
        # the validation cache shares between callers.
        config=StrawberryConfig(disable_field_suggestions=False),
        execution_context_class=EventExecutor,
    )
