"""Root query fields: single orders, the order list, and Relay node lookups."""

from __future__ import annotations

import asyncio
import base64
import binascii
import time

import strawberry

from resolvers.errors import BAD_USER_INPUT, INVALID_ID, UserInputError
from resolvers.relay import expect_global_id, from_global_id
from resolvers.types.common import Node, PageInfo
from resolvers.types.order import Info, Order, OrderConnection, OrderEdge, OrderFilter
from resolvers.types.ticket import SupportTicket
from sources.cache.through import Cached, Freshness
from sources.clients import OrderSearch
from sources.records import MAX_BATCH

MAX_PAGE = MAX_BATCH  # `first` on every connection: 1..100
_CURSOR_PREFIX = "og1:"


@strawberry.type
class Query:
    @strawberry.field(description="An order by its global id.")
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        (order_id,) = expect_global_id(id, "Order", 1)
        return Order.from_cached(await info.context.loaders.order_by_id.load(order_id))

    @strawberry.field(description='An order by its number, with or without "#": "1001", "#1001".')
    async def order_by_number(self, info: Info, number: str) -> Order | None:
        cleaned = number.strip().removeprefix("#")
        if not cleaned:
            raise UserInputError("number must not be empty", field="number")
        found = await info.context.loaders.order_by_number.load(cleaned)
        info.context.loaders.remember_orders([found])
        return Order.from_cached(found)

    @strawberry.field(description="Orders, newest first. `first` is required, 1 to 100.")
    async def orders(
        self,
        info: Info,
        first: int,
        after: str | None = None,
        filter: OrderFilter | None = None,
    ) -> OrderConnection:
        if not 1 <= first <= MAX_PAGE:
            raise UserInputError(f"first must be between 1 and {MAX_PAGE}", field="first")
        context = info.context
        page = await context.cached.upstreams.oms.search_orders(
            _search(filter), limit=first, cursor=None if after is None else _decode_cursor(after)
        )
        # A list page is always read live; its orders then warm the single-order cache.
        fetched_at = time.time()
        found = [Cached(edge.node, Freshness.FRESH, fetched_at) for edge in page.edges]
        context.loaders.remember_orders(found)
        await context.cached.orders.store(
            {edge.node.id: edge.node for edge in page.edges}, scope=context.scope
        )
        edges = [
            OrderEdge(cursor=_encode_cursor(edge.cursor), node=Order.from_record(edge.node, cached))
            for edge, cached in zip(page.edges, found, strict=True)
        ]
        end = page.page_info.end_cursor
        return OrderConnection(
            edges=edges,
            nodes=[edge.node for edge in edges],
            page_info=PageInfo(
                has_next_page=page.page_info.has_next_page,
                end_cursor=None if end is None else _encode_cursor(end),
            ),
        )

    @strawberry.field(description="Any object by its global id.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await _resolve_node(info, id)

    @strawberry.field(description="Objects by global ids (at most 100), in the order asked.")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_BATCH:
            raise UserInputError(f"at most {MAX_BATCH} ids per call", field="ids")
        results = await asyncio.gather(
            *(_resolve_node(info, node_id) for node_id in ids), return_exceptions=True
        )
        # An exception in a list item becomes an error at that item's path.
        return list(results)  # type: ignore[arg-type]


async def _resolve_node(info: Info, global_id: str) -> Node | None:
    type_name, parts = from_global_id(global_id)
    loaders = info.context.loaders
    if type_name == "Order" and len(parts) == 1:
        return Order.from_cached(await loaders.order_by_id.load(parts[0]))
    if type_name in ("LineItem", "FulfillmentOrder", "Shipment") and len(parts) == 2:
        built = Order.from_cached(await loaders.order_by_id.load(parts[0]))
        if built is None:
            return None
        children: list[Node] = [*built.line_items, *built.fulfillment_orders, *built.shipments]
        return next((child for child in children if child.id == global_id), None)
    if type_name == "SupportTicket" and len(parts) == 2:
        tickets = (await loaders.tickets_by_order.load(parts[0])).value
        ticket = next((t for t in tickets or () if t.id == parts[1]), None)
        return None if ticket is None else SupportTicket.from_record(ticket)
    raise UserInputError(f"{global_id!r} is not the id of any object", code=INVALID_ID, field="id")


def _search(filter: OrderFilter | None) -> OrderSearch:
    if filter is None:
        return OrderSearch()
    return OrderSearch(
        customer_id=filter.customer_reference,
        statuses=tuple(filter.fulfillment_statuses or ()),
        financial_statuses=tuple(filter.financial_statuses or ()),
        updated_since=filter.updated_since,
        placed_from=filter.placed_from,
        placed_to=filter.placed_to,
    )


def _encode_cursor(source_cursor: str) -> str:
    return base64.urlsafe_b64encode((_CURSOR_PREFIX + source_cursor).encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raw = ""
    if not raw.startswith(_CURSOR_PREFIX):
        raise UserInputError(
            "after is not a cursor of this connection", code=BAD_USER_INPUT, field="after"
        )
    return raw.removeprefix(_CURSOR_PREFIX)
