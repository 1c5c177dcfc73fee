"""Simulated order management system: orders by id, by number and a filtered search;
customer cancel and shipping-address change (with warehouse requests); admin cancel,
touch and address-request decisions."""

from __future__ import annotations

import base64
import binascii
import enum
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TypeVar

from aiohttp import web

from sim.changes import ChangeError, NoBody
from sim.changes.oms import (
    CancelOrder,
    DecideAddressRequest,
    cancel_order,
    change_shipping_address,
    decide_address_request,
    request_cancel,
    touch_order,
)
from sim.common import (
    CLOCK_KEY,
    EMITTER_KEY,
    admin_route,
    bad_request,
    batch_route,
    error_response,
    json_response,
    read_body,
)
from sim.idempotency import IdempotencyKeys
from sim.seed import Dataset
from sources.records import (
    MAX_BATCH,
    AddressChangeStatus,
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
SEARCH_PARAMS = frozenset(
    {
        "customerId",
        "accountId",
        "status",
        "financialStatus",
        "updatedSince",
        "placedFrom",
        "placedTo",
        "limit",
        "cursor",
    }
)

SortKey = tuple[datetime, str]


def routes(dataset: Dataset) -> list[web.RouteDef]:
    """The OMS routes over ``dataset`` (read live, so tests may change orders in place).
    The customer cancel and address change honour ``Idempotency-Key``."""
    keys = IdempotencyKeys()

    async def search(request: web.Request) -> web.Response:
        return json_response(search_orders(dataset.orders.values(), request.query))

    async def change_address(request: web.Request) -> web.Response:
        address = await read_body(request, MailingAddress)
        try:
            change, event = change_shipping_address(
                dataset, request.match_info["id"], address, request.app[CLOCK_KEY].now()
            )
        except ChangeError as exc:
            return error_response(exc.status, exc.code, str(exc))
        emitter = request.app.get(EMITTER_KEY)
        if emitter is not None and event is not None:
            emitter.emit(event)
        requested = change.status is AddressChangeStatus.REQUESTED
        return json_response(change, status=202 if requested else 200)

    async def address_requests(request: web.Request) -> web.Response:
        order_id = request.match_info["id"]
        if order_id not in dataset.orders:
            return error_response(404, "NOT_FOUND", f"no order {order_id!r}")
        requests = sorted(
            (r for r in dataset.address_requests.values() if r.order_id == order_id),
            key=lambda r: r.requested_at,
        )
        return json_response(OrderAddressRequests(order_id=order_id, requests=requests))

    return [
        batch_route(
            "/orders",
            "ids",
            dataset.orders.get,
            lambda found, missing: OrderBatch(data=found, not_found=missing),
        ),
        batch_route(
            "/orders/by-number",
            "numbers",
            dataset.orders_by_number.get,
            lambda found, missing: OrderBatch(data=found, not_found=missing),
            normalize=lambda number: number.removeprefix("#"),
        ),
        web.get("/orders/search", search),
        # a data endpoint (counted, delayed, faulted: only /admin/ paths are not), though
        # it changes the order like the admin routes do
        keys.route(admin_route("/orders/{id}/cancel", dataset, request_cancel, CancelOrderRequest)),
        keys.route(web.post("/orders/{id}/shipping-address", change_address)),
        web.get("/orders/{id}/address-requests", address_requests),
        admin_route("/admin/orders/{id}/cancel", dataset, cancel_order, CancelOrder),
        admin_route("/admin/orders/{id}/touch", dataset, touch_order, NoBody),
        admin_route(
            "/admin/address-requests/{requestId}/decide",
            dataset,
            decide_address_request,
            DecideAddressRequest,
        ),
    ]


def search_orders(orders: Iterable[Order], query: Mapping[str, str]) -> OrderPage:
    """Filter, sort (placedAt desc, id desc) and page ``orders`` per the search ``query``.

    Empty parameters are ignored; a repeated parameter counts as one comma-joined list.
    """
    unknown = sorted(set(query) - SEARCH_PARAMS)
    if unknown:
        raise bad_request(f"unknown query parameter(s): {', '.join(unknown)}")
    params: dict[str, str] = {}
    for key, value in query.items():
        if value.strip():
            params[key] = f"{params[key]},{value.strip()}" if key in params else value.strip()
    checks: list[Callable[[Order], bool]] = []
    if "customerId" in params:
        customer_id = params["customerId"]
        checks.append(lambda o: o.customer.id == customer_id)
    if "accountId" in params:
        account_id = params["accountId"]
        checks.append(lambda o: o.account_id == account_id)
    if "status" in params:
        statuses = _enum_list(FulfillmentStatus, "status", params["status"])
        checks.append(lambda o: o.fulfillment_status in statuses)
    if "financialStatus" in params:
        financial = _enum_list(FinancialStatus, "financialStatus", params["financialStatus"])
        checks.append(lambda o: o.financial_status in financial)
    if "updatedSince" in params:
        since = _time("updatedSince", params["updatedSince"])
        checks.append(lambda o: o.updated_at >= since)
    if "placedFrom" in params:
        start = _time("placedFrom", params["placedFrom"])
        checks.append(lambda o: o.placed_at >= start)
    if "placedTo" in params:
        end = _time("placedTo", params["placedTo"])
        checks.append(lambda o: o.placed_at < end)
    if "cursor" in params:
        after = decode_cursor(params["cursor"])
        checks.append(lambda o: (o.placed_at, o.id) < after)
    limit = _limit(params.get("limit"))
    matches = sorted(
        (o for o in orders if all(check(o) for check in checks)),
        key=lambda o: (o.placed_at, o.id),
        reverse=True,
    )
    edges = [OrderEdge(cursor=encode_cursor((o.placed_at, o.id)), node=o) for o in matches[:limit]]
    end_cursor = edges[-1].cursor if edges else None
    return OrderPage(
        edges=edges, page_info=PageInfo(has_next_page=len(matches) > limit, end_cursor=end_cursor)
    )


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


def _enum_list(kind: type[EnumT], name: str, value: str) -> frozenset[EnumT]:
    """A comma-separated list of enum values (case-insensitive)."""
    try:
        return frozenset(kind(part.strip().upper()) for part in value.split(",") if part.strip())
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise bad_request(f"invalid {name} {value!r}: expected a list of {allowed}") from None


def _time(name: str, value: str) -> datetime:
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
