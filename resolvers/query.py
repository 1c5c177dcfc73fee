"""Root query fields: single orders, the order list, the exception queue, and Relay
node lookups."""

from __future__ import annotations

import asyncio
import enum
import logging
from typing import Annotated, TypeVar

import strawberry

from resolvers.access import EVERY_ACCOUNT, EXCEPTION_SCOPES, Access, ScopeGuard
from resolvers.client_errors import INVALID_ID, NOT_FOUND, UserInputError
from resolvers.context import RequestContext
from resolvers.order_facts import SOURCE_FIELDS
from resolvers.relay import (
    MAX_PAGE,
    check_first,
    check_id,
    check_order_number,
    expect_global_id,
    from_global_id,
    in_utc,
)
from resolvers.types.common import Node
from resolvers.types.enums import FinancialStatus, FulfillmentStatus
from resolvers.types.exception_queue import (
    ExceptionQueueConnection,
    ExceptionQueueFilter,
    queue_page,
)
from resolvers.types.freshness import DataSource
from resolvers.types.order import Info, Order, OrderConnection, OrderEdge, OrderFilter
from resolvers.types.ticket import SupportTicket
from sources import records
from sources.adapters.search import OrderSearch
from sources.cache.through import Cached, Freshness
from sources.events import ORDER_LISTS_TAG, order_tag

log = logging.getLogger("ordergraph.sources")  # an adapter's breach of its contract

# Node kinds and how many parts their global ids have (the first is the order's id).
_NODE_PARTS = {"Order": 1, "LineItem": 2, "FulfillmentOrder": 2, "Shipment": 2, "SupportTicket": 2}
T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)

# The connections' arguments, as the schema describes them.
OrdersFirst = Annotated[int, strawberry.argument(description=f"How many orders, 1 to {MAX_PAGE}.")]
OrdersAfter = Annotated[
    str | None,
    strawberry.argument(
        description="Start after this order: an edge's cursor or "
        "`pageInfo.endCursor` of the previous page; omit for the first page."
    ),
]
OrdersFilter = Annotated[
    OrderFilter | None,
    strawberry.argument(description="Which orders; all the caller may see when omitted."),
]
QueueFirst = Annotated[int, strawberry.argument(description=f"How many entries, 1 to {MAX_PAGE}.")]
QueueAfter = Annotated[
    str | None,
    strawberry.argument(
        description="Continue from here: `pageInfo.endCursor` of the previous page "
        "(or an edge's cursor); omit for the first page."
    ),
]
QueueFilter = Annotated[
    ExceptionQueueFilter | None,
    strawberry.argument(description="Which entries; every queued order when omitted."),
]


@strawberry.type(description="Reads: orders, the exception queue and any object by its global id.")
class Query:
    @strawberry.field(
        description="An order by its global id.", extensions=[ScopeGuard("orders:read")]
    )
    async def order(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The order's global id.")],
    ) -> Order | None:
        (order_id,) = expect_global_id(id, "Order", 1)
        found = await info.context.loaders.order_by_id.load(order_id)
        return _found(Order.visible(found, info.context.access), id)

    @strawberry.field(
        description='An order by its number, with or without "#": "1001", "#1001".',
        extensions=[ScopeGuard("orders:read")],
    )
    async def order_by_number(
        self,
        info: Info,
        number: Annotated[
            str, strawberry.argument(description='The OMS order number, e.g. "1001" or "#1001".')
        ],
    ) -> Order | None:
        cleaned = check_order_number(number)
        found = await info.context.loaders.order_by_number.load(cleaned)
        info.context.loaders.remember_orders([found])
        return _found(Order.visible(found, info.context.access), number)

    @strawberry.field(
        description=f"Orders, newest first. `first` is required, 1 to {MAX_PAGE}.",
        extensions=[ScopeGuard("orders:read")],
    )
    async def orders(
        self,
        info: Info,
        first: OrdersFirst,
        after: OrdersAfter = None,
        filter: OrdersFilter = None,
    ) -> OrderConnection:
        context = info.context
        check_first(first)
        since = context.cached.invalidations.epoch  # orders changed meanwhile are not stored
        page = await context.cached.search_orders(
            _search(filter, context.access),
            limit=first,
            cursor=None if after is None else context.order_cursors.decode(after),
        )
        listed = _visible(page, context)
        # A list page is always read live; its orders then warm the single-order cache.
        fetched_at = context.clock.time()
        found = [Cached(edge.node, Freshness.FRESH, fetched_at) for edge in listed]
        context.counts.read(
            [ORDER_LISTS_TAG, *(order_tag(edge.node.id) for edge in listed)],
            fetched_at + context.cached.orders.policy.ttl_s,
        )
        context.loaders.remember_orders(found)
        await context.cached.orders.store(
            {edge.node.id: edge.node for edge in listed},
            scope=context.access.tenant,
            since=since,
        )
        edges = [
            OrderEdge(
                cursor=context.order_cursors.encode(edge.cursor),
                node=Order.from_record(edge.node, cached, pii=context.access.pii),
            )
            for edge, cached in zip(listed, found, strict=True)
        ]
        end = page.page_info.end_cursor
        if end is None and page.edges:  # the source's last, even if dropped (see _visible)
            end = page.edges[-1].cursor
        return OrderConnection.page(
            edges,
            has_next=page.page_info.has_next_page,
            resume=None if end is None else context.order_cursors.encode(end),
        )  # the OMS pages forward only: no previous page (see PageInfo)

    @strawberry.field(
        description="Orders with open exceptions, most severe and newest first, for "
        "consoles to work through; kept current by change events and a periodic sweep "
        "of every order. A key bound to an account sees that account's orders; app and "
        "partner keys see no internal exceptions (nor orders queued only for those). "
        f"`first` is required, 1 to {MAX_PAGE}; a selective filter may answer fewer, with "
        "`hasNextPage` true.",
        extensions=[ScopeGuard(*EXCEPTION_SCOPES)],
    )
    async def exception_queue(
        self,
        info: Info,
        first: QueueFirst,
        after: QueueAfter = None,
        filter: QueueFilter = None,
    ) -> ExceptionQueueConnection:
        return await queue_page(info.context, first, after, filter)

    @strawberry.field(
        description="Any object by its global id.", extensions=[ScopeGuard("orders:read")]
    )
    async def node(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="A global id from any `id` field.")
        ],
    ) -> Node | None:
        return _found(await _resolve_node(info, id), id)

    @strawberry.field(
        description=f"Objects by global ids (at most {MAX_PAGE}), in the order asked.",
        extensions=[ScopeGuard("orders:read")],
    )
    async def nodes(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(
                description=f"Global ids, at most {MAX_PAGE}; each missing one is null."
            ),
        ],
    ) -> list[Node | None]:
        if len(ids) > MAX_PAGE:
            raise UserInputError(f"at most {MAX_PAGE} ids per call", field="ids")
        results = await asyncio.gather(
            *(_found_node(info, node_id) for node_id in ids), return_exceptions=True
        )
        # An exception in a list item becomes an error at that item's path.
        return list(results)  # type: ignore[arg-type]


async def _resolve_node(info: Info, global_id: str) -> Node | None:
    """The object behind ``global_id``; every kind is reached through its order, so a
    node of another tenant's order is as absent as one that does not exist."""
    type_name, parts = from_global_id(global_id)
    if type_name not in _NODE_PARTS or len(parts) != _NODE_PARTS[type_name]:
        raise UserInputError(
            f"{global_id!r} is not the id of any object", code=INVALID_ID, field="id"
        )
    context = info.context
    order = Order.visible(await context.loaders.order_by_id.load(parts[0]), context.access)
    if order is None or type_name == "Order":
        return order
    if type_name == "SupportTicket":
        context.access.require(SOURCE_FIELDS[DataSource.TICKETING])
        tickets = (await context.loaders.tickets_by_order.load(parts[0])).value
        ticket = next((t for t in tickets or () if t.id == parts[1]), None)
        return None if ticket is None else SupportTicket.from_record(ticket)
    children: list[Node] = [*order.line_items, *order.fulfillment_orders, *order.shipments]
    return next((child for child in children if child.id == global_id), None)


async def _found_node(info: Info, global_id: str) -> Node:
    return _found(await _resolve_node(info, global_id), global_id)


def _found(found: T | None, asked: str) -> T:
    """``found``, or a NOT_FOUND error (null at the field's path)."""
    if found is None:
        raise UserInputError(f"nothing found for {asked!r}", code=NOT_FOUND)
    return found


def _search(filter: OrderFilter | None, access: Access) -> OrderSearch:
    """The OMS query: the caller's filter, checked and with its times in UTC, within the
    caller's account."""
    account = None if access.tenant == EVERY_ACCOUNT else access.tenant
    if filter is None:
        return OrderSearch(account_id=account)
    placed_from = in_utc(filter.placed_from, "filter.placedFrom")
    placed_to = in_utc(filter.placed_to, "filter.placedTo")
    if placed_from is not None and placed_to is not None and placed_from > placed_to:
        raise UserInputError(
            f"filter.placedFrom {placed_from.isoformat()} is after filter.placedTo "
            f"{placed_to.isoformat()}: no order is placed between them",
            field="filter.placedFrom",
        )
    customer = filter.customer_reference
    return OrderSearch(
        account_id=account,
        customer_id=None if customer is None else check_id(customer, "filter.customerReference"),
        statuses=_each_once(
            filter.fulfillment_statuses, FulfillmentStatus, "filter.fulfillmentStatuses"
        ),
        financial_statuses=_each_once(
            filter.financial_statuses, FinancialStatus, "filter.financialStatuses"
        ),
        updated_since=in_utc(filter.updated_since, "filter.updatedSince"),
        placed_from=placed_from,
        placed_to=placed_to,
    )


def _each_once(given: list[E] | None, values: type[E], field: str) -> tuple[E, ...]:
    """The values given, each once, in the order given. A list longer than the enum is
    refused: admission bounds only the lists written in the document, not variables."""
    if given is None:
        return ()
    if len(given) > len(values):
        raise UserInputError(
            f"{field} lists {len(given)} values; {values.__name__} has {len(values)}",
            field=field,
        )
    return tuple(dict.fromkeys(given))


def _visible(page: records.OrderPage, context: RequestContext) -> list[records.OrderEdge]:
    """The page's orders of the caller's tenant. The adapter was asked for that account
    only; orders of others it lists anyway are dropped (before they are cached) and
    logged, as ``Order.visible`` drops them on every other path. Each kept order keeps
    its cursor and the page still ends where the source's did, so paging goes on after
    the dropped orders; the page is then shorter than ``first``."""
    access = context.access
    listed = [edge for edge in page.edges if access.sees(edge.node.account_id)]
    if len(listed) < len(page.edges):
        adapter = context.cached.upstreams.oms
        log.warning(
            "the OMS adapter %s.%s (%s) listed %d order(s) of other accounts for %s: dropped",
            type(adapter).__module__,
            type(adapter).__qualname__,
            adapter.base_url,
            len(page.edges) - len(listed),
            access.tenant,
        )
    return listed
