"""The executable schema, with parse and validation caching on."""

from __future__ import annotations

from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError, get_operation_ast
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from resolvers.context import RequestContext
from resolvers.mutations import Mutation
from resolvers.query import Query
from resolvers.subscription import Subscription
from resolvers.types.order import FulfillmentOrder, LineItem, Order, Shipment
from resolvers.types.ticket import SupportTicket

# Types reachable only through the Node interface must be named to be in the schema.
NODE_TYPES = (Order, LineItem, FulfillmentOrder, Shipment, SupportTicket)


class OperationReport(SchemaExtension):
    """Once per operation: ``extensions.cache`` (hits, misses and stale serves per
    source), and the operation's kind and name on the context for the edge's metrics."""

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        if not isinstance(context, RequestContext):
            return {}
        execution = self.execution_context
        if execution.graphql_document is not None:
            operation = get_operation_ast(execution.graphql_document, execution.operation_name)
            if operation is not None:
                context.operation_kind = operation.operation.value
                context.operation_name = operation.name.value if operation.name else None
        return {"cache": context.counts.as_dict()} if context.counts.by_source else {}


class OrderGraphSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Errors are part of the answer, not incidents: strawberry would log each one
        with a traceback (a failing source would flood the log). The edge logs the
        unexpected ones, once, with a correlation id."""


def build_schema(*, cache_size: int = 512) -> strawberry.Schema:
    return OrderGraphSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=list(NODE_TYPES),
        extensions=[
            partial(ParserCache, maxsize=cache_size),
            partial(ValidationCache, maxsize=cache_size),
            OperationReport,
        ],
        # Suggestions are kept here and stripped per caller on the way out
        # (gateway.errors): strawberry would strip them by editing the errors, which
        # the validation cache shares between callers.
        config=StrawberryConfig(disable_field_suggestions=False),
    )
