"""Simulated order management system: orders by id, by number and a filtered search;
customer cancel and shipping-address change (with warehouse requests); admin cancel,
touch and address-request decisions. Each route is declared once (:mod:`sim.routes`)."""

from __future__ import annotations

import base64
import binascii
import bisect
import enum
import itertools
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from aiohttp import web

from sim.changes import NOT_FOUND, NoBody
from sim.changes.oms import (
    CancelOrder,
    DecideAddressRequest,
    ShipFulfillmentOrder,
    cancel_order,
    change_shipping_address,
    decide_address_request,
    request_cancel,
    ship_fulfillment_order,
    touch_order,
)
from sim.common import CLOCK_KEY, DATASET_KEY, bad_request, error_response, json_response
from sim.routes import (
    Admin,
    Change,
    Param,
    Read,
    Source,
    batch,
    enum_list_param,
    id_list,
    path_param,
    time_param,
)
from sim.seed import Dataset
from sources.adapters.search import OrderSearch
from sources.events import EventType
from sources.records import (
    MAX_BATCH,
    AddressChange,
    AddressChangeRequest,
    CancelOrderRequest,
    FinancialStatus,
    FulfillmentStatus,
    MailingAddress,
    Order,
    OrderAddressRequests,
    OrderBatch,
    OrderEdge,
    OrderPage,
    PageInfo,
)

DEFAULT_LIMIT = 50
_SEARCH_PARAMS = (
    Param("customerId", "Only orders of this customer.", {"type": "string"}),
    Param("accountId", "Only orders of this account.", {"type": "string"}),
    enum_list_param("status", "FulfillmentStatus", "Comma-separated fulfillment statuses."),
    enum_list_param("financialStatus", "FinancialStatus", "Comma-separated financial statuses."),
    time_param("updatedSince", "Orders updated at or after this time."),
    time_param("placedFrom", "Orders placed at or after this time (inclusive)."),
    time_param("placedTo", "Orders placed before this time (exclusive)."),
    Param(
        "limit",
        f"Page size, 1 to {MAX_BATCH}.",
        {"type": "integer", "minimum": 1, "maximum": MAX_BATCH, "default": DEFAULT_LIMIT},
    ),
    Param("cursor", "Opaque cursor from pageInfo.endCursor or an edge.", {"type": "string"}),
)
SEARCH_PARAMS = frozenset(param.name for param in _SEARCH_PARAMS)
_ORDER_ID = path_param("id", "Order id.")

SortKey = tuple[datetime, str]


async def _search(request: web.Request) -> web.Response:
    search = Search.of(request.query)
    orders = _newest_first(request.app[DATASET_KEY], search.after)
    return json_response(search.page(orders, listed_at=request.app[CLOCK_KEY].now()))


async def _address_requests(request: web.Request) -> web.Response:
    dataset = request.app[DATASET_KEY]
    order_id = request.match_info["id"]
    if order_id not in dataset.orders:
        return error_response(404, NOT_FOUND, f"no order {order_id!r}")
    requests = sorted(
        (r for r in dataset.address_requests.values() if r.order_id == order_id),
        key=lambda r: r.requested_at,
    )
    return json_response(OrderAddressRequests(order_id=order_id, requests=requests))


SOURCE = Source(
    name="oms",
    title="OrderGraph simulated OMS",
    description="Orders with fulfillment orders, shipments and line quantities.",
    routes=(
        batch(
            "/orders",
            id_list("ids", "order ids"),
            lambda dataset, order_id: dataset.orders.get(order_id),
            operation_id="getOrders",
            summary="Orders by id",
            response=OrderBatch,
        ),
        batch(
            "/orders/by-number",
            id_list("numbers", "order numbers"),
            lambda dataset, number: dataset.orders_by_number.get(number),
            normalize=lambda number: number.removeprefix("#"),
            operation_id="getOrdersByNumber",
            summary="Orders by human order number",
            note="Numbers like 1001 (a leading '#' is accepted and removed).",
            response=OrderBatch,
        ),
        Read(
            path="/orders/search",
            operation_id="searchOrders",
            summary="Search orders",
            description="All filters are optional and combined with AND. Sorted by placedAt "
            "descending, then id descending. Pass pageInfo.endCursor (or any edge's "
            "cursor) as cursor to continue after it; endCursor is null on an empty "
            "page. Unknown parameters or invalid values answer 400. listedAt is the "
            "OMS's clock when it read the page: every later change to an order sets "
            "its updatedAt at or after listedAt, so a later search with "
            "updatedSince=<listedAt> lists every order changed since (updatedSince is "
            "inclusive: an order changed at that very instant is listed again).",
            response=OrderPage,
            handler=_search,
            params=_SEARCH_PARAMS,
        ),
        Read(
            path="/orders/{id}/address-requests",
            operation_id="getAddressRequests",
            summary="Address change requests of an order",
            description="Every request made while a warehouse had the work, oldest first, "
            "with its status (PENDING, APPROVED, REJECTED). An unknown order answers 404.",
            response=OrderAddressRequests,
            handler=_address_requests,
            params=(_ORDER_ID,),
        ),
        Change(
            path="/orders/{id}/cancel",
            operation_id="requestCancel",
            summary="Cancel an order or some of its lines",
            description="Without lines: cancels the whole order while nothing has shipped "
            "and no fulfillment order is IN_PROGRESS, INCOMPLETE or CLOSED (same effects as "
            "the admin cancel; emits order.cancelled). With lines: cancels those "
            "quantities, each at most the line's cancellable quantity (unshipped units on "
            "fulfillment orders no warehouse has started); emptied fulfillment orders are "
            "cancelled, a captured payment partially refunded, or refunded/voided when "
            "nothing is left (emits order.updated). Answers the updated order.",
            key=_ORDER_ID,
            apply=request_cancel,
            body=CancelOrderRequest,
            response=Order,
            conflict="Refused, code ALREADY_CANCELLED, NOTHING_TO_CANCEL, ALREADY_SHIPPED, "
            "PARTIALLY_SHIPPED (whole order), IN_FULFILLMENT or QUANTITY_NOT_CANCELLABLE "
            "(a line asks for more than it can cancel).",
        ),
        Change(
            path="/orders/{id}/shipping-address",
            operation_id="changeShippingAddress",
            summary="Change the shipping address",
            description="Before any fulfillment order is handed to a warehouse (IN_PROGRESS, "
            "INCOMPLETE, CLOSED) the address is applied at once: 200 with status "
            "APPLIED (emits order.updated).",
            key=_ORDER_ID,
            apply=change_shipping_address,
            body=MailingAddress,
            response=AddressChange,
            conflict="Refused, code ALREADY_CANCELLED, NOTHING_TO_CANCEL, PICKUP_ORDER, "
            "ALREADY_SHIPPED or PARTIALLY_SHIPPED.",
            accepted="A warehouse has the work: recorded as a PENDING request (status "
            "REQUESTED, requestId) for it to approve or reject; the order is unchanged "
            "and no event is sent until the decision.",
        ),
        Admin(
            path="/admin/orders/{id}/cancel",
            operation_id="cancelOrder",
            summary="Cancel an order",
            description="Sets cancelledAt and cancelReason, cancels every line's quantity "
            "and every open fulfillment order, voids an AUTHORIZED or PENDING payment and "
            "refunds any other. Answers the cancelled order.",
            key=_ORDER_ID,
            apply=cancel_order,
            body=CancelOrder,
            response=Order,
            event=EventType.ORDER_CANCELLED,
            conflict="The order has shipped lines or is already cancelled (code NOT_CANCELLABLE).",
        ),
        Admin(
            path="/admin/orders/{id}/ship",
            operation_id="shipFulfillmentOrder",
            summary="Ship a fulfillment order",
            description="The warehouse ships what the fulfillment order still holds: a "
            "new shipment (shipped now) with the carrier and tracking number given, the "
            "fulfillment order CLOSED, the lines' shipped units raised and the order's "
            "fulfillmentStatus moved on. Answers the order.",
            key=_ORDER_ID,
            apply=ship_fulfillment_order,
            body=ShipFulfillmentOrder,
            response=Order,
            event=EventType.ORDER_UPDATED,
            conflict="The fulfillment order is held, scheduled, finished, for pickup, or "
            "its order is cancelled (code NOT_SHIPPABLE).",
        ),
        Admin(
            path="/admin/orders/{id}/touch",
            operation_id="touchOrder",
            summary="Touch an order",
            description="Only moves updatedAt forward. Answers the order.",
            key=_ORDER_ID,
            apply=touch_order,
            body=NoBody,
            response=Order,
            event=EventType.ORDER_UPDATED,
        ),
        Admin(
            path="/admin/address-requests/{requestId}/decide",
            operation_id="decideAddressRequest",
            summary="Decide an address change request",
            description="The warehouse's answer to a PENDING request: approve applies the "
            "address, reject keeps the old one; either moves the order's updatedAt. "
            "Answers the decided request.",
            key=path_param("requestId", "Address change request id."),
            apply=decide_address_request,
            body=DecideAddressRequest,
            response=AddressChangeRequest,
            event=EventType.ORDER_UPDATED,
            conflict="Already decided (code ALREADY_DECIDED), or approving an order that "
            "can no longer take the address (code ALREADY_CANCELLED, ALREADY_SHIPPED, "
            "PARTIALLY_SHIPPED, ...).",
        ),
    ),
)


def search_orders(
    orders: Iterable[Order], query: Mapping[str, str], *, listed_at: datetime | None = None
) -> OrderPage:
    """Filter, sort (placedAt desc, id desc) and page ``orders`` per the search ``query``.

    Empty parameters are ignored; a repeated parameter counts as one comma-joined list.
    """
    newest_first = sorted(orders, key=_sort_key, reverse=True)
    return Search.of(query).page(newest_first, listed_at=listed_at)


def _sort_key(order: Order) -> SortKey:
    return (order.placed_at, order.id)


@dataclass(frozen=True)
class Search:
    """A parsed search query: its filters, page size and where it continues."""

    filters: OrderSearch
    limit: int
    after: SortKey | None

    @classmethod
    def of(cls, query: Mapping[str, str]) -> Search:
        """Parse ``query``; a bad one raises 400."""
        unknown = sorted(set(query) - SEARCH_PARAMS)
        if unknown:
            raise bad_request(f"unknown query parameter(s): {', '.join(unknown)}")
        params: dict[str, str] = {}
        for key, value in query.items():
            if value.strip():
                params[key] = f"{params[key]},{value.strip()}" if key in params else value.strip()
        filters = OrderSearch(
            customer_id=params.get("customerId"),
            account_id=params.get("accountId"),
            statuses=_enum_list(FulfillmentStatus, "status", params.get("status")),
            financial_statuses=_enum_list(
                FinancialStatus, "financialStatus", params.get("financialStatus")
            ),
            updated_since=_time("updatedSince", params.get("updatedSince")),
            placed_from=_time("placedFrom", params.get("placedFrom")),
            placed_to=_time("placedTo", params.get("placedTo")),
        )
        after = decode_cursor(params["cursor"]) if "cursor" in params else None
        return cls(filters, _limit(params.get("limit")), after)

    def page(self, newest_first: Iterable[Order], *, listed_at: datetime | None) -> OrderPage:
        """The page of the orders (sorted newest first) that match, read lazily."""
        after = self.after
        matches = (
            o
            for o in newest_first
            if (after is None or _sort_key(o) < after) and self.filters.matches(o)
        )
        found = list(itertools.islice(matches, self.limit + 1))
        edges = [OrderEdge(cursor=encode_cursor(_sort_key(o)), node=o) for o in found[: self.limit]]
        return OrderPage(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(found) > self.limit,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            listed_at=listed_at,
        )


class PlacedIndex:
    """A data set's orders by (placedAt, id), so that a page reads from its cursor on
    instead of sorting every order. Orders keep their placedAt through every change;
    one that came or went rebuilds it."""

    def __init__(self, dataset: Dataset) -> None:
        self._dataset = weakref.ref(dataset)
        self._keys = sorted(_sort_key(o) for o in dataset.orders.values())

    def serves(self, dataset: Dataset) -> bool:
        return self._dataset() is dataset and len(self._keys) == len(dataset.orders)

    def newest_first(self, dataset: Dataset, before: SortKey | None) -> Iterator[Order]:
        """The data set's orders, newest first, from just below ``before``."""
        end = len(self._keys) if before is None else bisect.bisect_left(self._keys, before)
        for placed_at, order_id in reversed(self._keys[:end]):
            order = dataset.orders.get(order_id)
            if order is not None and order.placed_at == placed_at:
                yield order


_indexes: dict[int, PlacedIndex] = {}  # id(dataset) -> its index, while it lives


def _newest_first(dataset: Dataset, before: SortKey | None) -> Iterator[Order]:
    index = _indexes.get(id(dataset))
    if index is None or not index.serves(dataset):
        index = _indexes[id(dataset)] = PlacedIndex(dataset)
        weakref.finalize(dataset, _indexes.pop, id(dataset), None)
    return index.newest_first(dataset, before)


def encode_cursor(key: SortKey) -> str:
    """Opaque cursor: base64url of the last item's sort key (stable when data changes)."""
    raw = f"{key[0].astimezone(UTC).isoformat()}|{key[1]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> SortKey:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        placed, order_id = raw.split("|", 1)
        at = datetime.fromisoformat(placed)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_request(f"invalid cursor {cursor!r}") from None
    if at.tzinfo is None:  # cannot be compared with placedAt: a 400, not a 500
        raise bad_request(f"invalid cursor {cursor!r}: its time has no UTC offset")
    return at, order_id


EnumT = TypeVar("EnumT", bound=enum.Enum)


def _enum_list(kind: type[EnumT], name: str, value: str | None) -> tuple[EnumT, ...]:
    """A comma-separated list of enum values (case-insensitive); none for no value."""
    parts = dict.fromkeys(part.strip().upper() for part in (value or "").split(","))
    try:
        return tuple(kind(part) for part in parts if part)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise bad_request(f"invalid {name} {value!r}: expected a list of {allowed}") from None


def _time(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    if " " in value and "T" in value:  # an unescaped '+' in the offset arrives as a space
        value = value.replace(" ", "+")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise bad_request(f"invalid {name} {value!r}: expected an ISO 8601 date-time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_BATCH:
        raise bad_request(f"invalid limit {value!r}: expected an integer from 1 to {MAX_BATCH}")
    return limit
