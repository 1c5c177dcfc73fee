"""The executable schema, with parse and validation caching on."""

from __future__ import annotations

from functools import partial

import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from resolvers.query import Query
from resolvers.types.order import FulfillmentOrder, LineItem, Order, Shipment
from resolvers.types.ticket import SupportTicket

# Types reachable only through the Node interface must be named to be in the schema.
NODE_TYPES = (Order, LineItem, FulfillmentOrder, Shipment, SupportTicket)


def build_schema(*, cache_size: int = 512) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        types=list(NODE_TYPES),
        extensions=[
            partial(ParserCache, maxsize=cache_size),
            partial(ValidationCache, maxsize=cache_size),
        ],
        config=StrawberryConfig(disable_field_suggestions=True),
    )
