"""The executable schema, with parse and validation caching on."""

from __future__ import annotations

from functools import partial
from typing import Any

import strawberry
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache
from strawberry.schema.config import StrawberryConfig

from resolvers.context import RequestContext
from resolvers.query import Query
from resolvers.types.order import FulfillmentOrder, LineItem, Order, Shipment
from resolvers.types.ticket import SupportTicket

# Types reachable only through the Node interface must be named to be in the schema.
NODE_TYPES = (Order, LineItem, FulfillmentOrder, Shipment, SupportTicket)


class CacheReport(SchemaExtension):
    """``extensions.cache``: hits, misses and stale serves per source, once per operation."""

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        if isinstance(context, RequestContext) and context.counts.by_source:
            return {"cache": context.counts.as_dict()}
        return {}


def build_schema(*, cache_size: int = 512) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        types=list(NODE_TYPES),
        extensions=[
            partial(ParserCache, maxsize=cache_size),
            partial(ValidationCache, maxsize=cache_size),
            CacheReport,
        ],
        config=StrawberryConfig(disable_field_suggestions=True),
    )
