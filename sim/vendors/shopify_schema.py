"""The subset of Shopify's GraphQL Admin API schema the simulated Shopify serves, and
its resolvers over the data set (what a query costs is :mod:`.shopify_cost`'s).

Types and fields are Shopify's (GraphQL Admin API reference), as far as the adapters
read them; enum fields of objects are served as strings. Objects come from the
translation layer (:func:`~sources.adapters.shopify.orders.shopify_from_order`,
:func:`~sources.adapters.shopify.inventory.shopify_from_item`), so the simulated API
answers exactly what the adapters read back; nested connections and lists hold the
``first`` nodes asked (:func:`nested_page`). The two mutations apply the native OMS's
changes (:mod:`sim.changes.oms`) and emit their events.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import msgspec
from aiohttp import web
from graphql import (
    GraphQLError,
    GraphQLObjectType,
    GraphQLResolveInfo,
    build_schema,
    default_field_resolver,
)

from sim.changes import ChangeError
from sim.changes.oms import change_shipping_address, request_cancel
from sim.common import CLOCK_KEY, DATASET_KEY, EMITTER_KEY, STATS_KEY
from sim.seed import Dataset
from sources.adapters.shopify.gid import gid, item_gid, our_id, parse_gid, shopify_gid
from sources.adapters.shopify.inputs import MailingAddressInput, address_from_input
from sources.adapters.shopify.inventory import shopify_from_item
from sources.adapters.shopify.orders import shopify_from_order
from sources.adapters.shopify.search import parse_order_query
from sources.adapters.shopify.skus import parse_sku_query
from sources.adapters.shopify.vocabulary import CANCEL_REASON, COUNTRY_CODES
from sources.adapters.shopify.wire import MAX_IDS, MAX_PAGE
from sources.events import ChangeEvent
from sources.records import ALREADY_CANCELLED, CancelOrderRequest, InventoryItem, Order

SHOP_NAME = "OrderGraph simulated shop"
CANCELLED_ALREADY = "Cannot cancel an order that has already been canceled"  # Shopify's words

SDL = f"""
schema {{ query: QueryRoot mutation: Mutation }}

scalar DateTime
scalar Decimal
scalar UnsignedInt64

interface Node {{ id: ID! }}

type PageInfo {{
  hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String
}}
type Shop {{ name: String! }}
type Job implements Node {{ id: ID! done: Boolean! }}
type Location implements Node {{ id: ID! }}

type MoneyV2 {{ amount: Decimal! currencyCode: String! }}
type MoneyBag {{ shopMoney: MoneyV2! presentmentMoney: MoneyV2! }}
type MailingAddress {{
  name: String address1: String address2: String city: String provinceCode: String
  zip: String countryCodeV2: String phone: String
}}
type CustomerEmailAddress {{ emailAddress: String! }}
type CustomerPhoneNumber {{ phoneNumber: String! }}
type Customer implements Node {{
  id: ID! displayName: String!
  defaultEmailAddress: CustomerEmailAddress defaultPhoneNumber: CustomerPhoneNumber
}}

type LineItem implements Node {{
  id: ID! sku: String name: String! quantity: Int! currentQuantity: Int!
  unfulfilledQuantity: Int! originalUnitPriceSet: MoneyBag!
}}
type LineItemConnection {{ nodes: [LineItem!]! pageInfo: PageInfo! }}

type FulfillmentOrderAssignedLocation {{ name: String! countryCode: String! location: Location }}
type DeliveryMethod {{
  methodType: String! presentedName: String
  minDeliveryDateTime: DateTime maxDeliveryDateTime: DateTime
}}
type FulfillmentHold {{ reason: String! reasonNotes: String }}
type FulfillmentOrderLineItem {{
  lineItem: LineItem! totalQuantity: Int! remainingQuantity: Int!
}}
type FulfillmentOrderLineItemConnection {{
  nodes: [FulfillmentOrderLineItem!]! pageInfo: PageInfo!
}}
type FulfillmentOrder implements Node {{
  id: ID! status: String! updatedAt: DateTime!
  assignedLocation: FulfillmentOrderAssignedLocation! deliveryMethod: DeliveryMethod
  fulfillmentHolds: [FulfillmentHold!]!
  lineItems(first: Int, after: String): FulfillmentOrderLineItemConnection!
}}
type FulfillmentOrderConnection {{ nodes: [FulfillmentOrder!]! pageInfo: PageInfo! }}

type FulfillmentTrackingInfo {{ company: String number: String url: String }}
type FulfillmentLineItem {{ lineItem: LineItem! quantity: Int }}
type FulfillmentLineItemConnection {{ nodes: [FulfillmentLineItem!]! pageInfo: PageInfo! }}
type Fulfillment implements Node {{
  id: ID! status: String! displayStatus: String createdAt: DateTime!
  trackingInfo(first: Int): [FulfillmentTrackingInfo!]!
  fulfillmentLineItems(first: Int, after: String): FulfillmentLineItemConnection!
  fulfillmentOrders(first: Int, after: String): FulfillmentOrderConnection!
}}
type RefundLineItem {{ lineItem: LineItem! quantity: Int! restockType: String! }}
type RefundLineItemConnection {{ nodes: [RefundLineItem!]! pageInfo: PageInfo! }}
type Refund implements Node {{
  id: ID! createdAt: DateTime
  refundLineItems(first: Int, after: String): RefundLineItemConnection!
}}

type Order implements Node {{
  id: ID! legacyResourceId: UnsignedInt64! name: String! sourceName: String email: String
  customer: Customer shippingAddress: MailingAddress
  displayFinancialStatus: String displayFulfillmentStatus: String! currencyCode: String!
  createdAt: DateTime! updatedAt: DateTime! cancelledAt: DateTime cancelReason: String
  returnStatus: String!
  lineItems(first: Int, after: String): LineItemConnection!
  fulfillmentOrders(first: Int, after: String): FulfillmentOrderConnection!
  fulfillments(first: Int): [Fulfillment!]!
  refunds(first: Int): [Refund!]!
}}
type OrderEdge {{ cursor: String! node: Order! }}
type OrderConnection {{ edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }}
enum OrderSortKeys {{ CREATED_AT }}

type InventoryQuantity {{ name: String! quantity: Int! }}
type InventoryLevel {{
  location: Location! quantities(names: [String!]!): [InventoryQuantity!]! updatedAt: DateTime!
}}
type InventoryLevelConnection {{ nodes: [InventoryLevel!]! pageInfo: PageInfo! }}
type InventoryItem implements Node {{
  id: ID! sku: String inventoryLevels(first: Int, after: String): InventoryLevelConnection!
}}
type InventoryItemEdge {{ cursor: String! node: InventoryItem! }}
type InventoryItemConnection {{
  edges: [InventoryItemEdge!]! nodes: [InventoryItem!]! pageInfo: PageInfo!
}}

enum OrderCancelReason {{ CUSTOMER DECLINED FRAUD INVENTORY OTHER STAFF }}
enum CountryCode {{ {" ".join(sorted(COUNTRY_CODES))} }}
input OrderCancelRefundMethodInput {{ originalPaymentMethodsRefund: Boolean }}
input MailingAddressInput {{
  address1: String address2: String city: String company: String countryCode: CountryCode
  firstName: String lastName: String phone: String provinceCode: String zip: String
}}
input OrderInput {{ id: ID! shippingAddress: MailingAddressInput }}
type UserError {{ field: [String!] message: String! }}
type OrderCancelUserError {{ field: [String!] message: String! code: String }}
type OrderCancelPayload {{
  job: Job orderCancelUserErrors: [OrderCancelUserError!]! userErrors: [UserError!]!
}}
type OrderUpdatePayload {{ order: Order userErrors: [UserError!]! }}

type QueryRoot {{
  nodes(ids: [ID!]!): [Node]!
  orders(
    first: Int after: String query: String sortKey: OrderSortKeys reverse: Boolean
  ): OrderConnection!
  inventoryItems(first: Int, after: String, query: String): InventoryItemConnection!
  job(id: ID!): Job
  shop: Shop!
}}
type Mutation {{
  orderCancel(
    orderId: ID! reason: OrderCancelReason! refundMethod: OrderCancelRefundMethodInput
    restock: Boolean! notifyCustomer: Boolean staffNote: String
  ): OrderCancelPayload
  orderUpdate(input: OrderInput!): OrderUpdatePayload
}}
"""


@dataclass
class Context:
    """One request's: the app (data set, clock, stats, emitter), whether a partial
    batch was injected, and what the query was charged beyond its actual cost."""

    app: web.Application
    partial: bool = False
    refund: int = 0

    @property
    def dataset(self) -> Dataset:
        return self.app[DATASET_KEY]

    def emit(self, event: ChangeEvent | None) -> None:
        emitter = self.app.get(EMITTER_KEY)
        if emitter is not None and event is not None:
            emitter.emit(event)


def nested_page(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    """A field without a resolver of its own, as Shopify answers it: a nested
    connection or list asked with ``first`` holds that many nodes (a connection cut
    short says it has a next page)."""
    value = default_field_resolver(source, info, **args)
    first = args.get("first")
    if not isinstance(first, int):
        return value
    if isinstance(value, list):
        return value[:first]
    if isinstance(value, dict) and len(value.get("nodes") or ()) > first:
        page_info = {**(value.get("pageInfo") or {}), "hasNextPage": True}
        return {**value, "nodes": value["nodes"][:first], "pageInfo": page_info}
    return value


def _error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def _first(args: Mapping[str, Any]) -> int:
    first = args.get("first")
    if not isinstance(first, int) or not 1 <= first <= MAX_PAGE:
        raise _error(f"first must be between 1 and {MAX_PAGE}", "BAD_REQUEST")
    return first


def _order_node(order: Order) -> dict[str, Any]:
    return {"__typename": "Order", **msgspec.to_builtins(shopify_from_order(order))}


def _item_node(item: InventoryItem) -> dict[str, Any]:
    return {"__typename": "InventoryItem", **msgspec.to_builtins(shopify_from_item(item))}


def _node(dataset: Dataset, value: str) -> dict[str, Any] | None:
    try:
        type_, _ = parse_gid(value)
    except ValueError:
        raise _error(f"Invalid global id '{value}'", "argumentLiteralsIncompatible") from None
    if type_ == "Order":
        order = dataset.orders.get(our_id(value))
        return None if order is None else _order_node(order)
    if type_ == "InventoryItem":
        item = next((i for sku, i in dataset.inventory.items() if item_gid(sku) == value), None)
        return None if item is None else _item_node(item)
    if type_ == "Job":  # every cancellation is done by the time it is asked after
        return {"__typename": "Job", "id": value, "done": True}
    return None


def _nodes(_root: None, info: GraphQLResolveInfo, ids: list[str]) -> list[object]:
    """One entry per id; under an injected partial batch every other found node fails
    (null, with an error at its place)."""
    context: Context = info.context
    if len(ids) > MAX_IDS:
        message = f"The input array size of {len(ids)} is greater than the maximum allowed of "
        raise _error(f"{message}{MAX_IDS}.", "MAX_INPUT_SIZE_EXCEEDED")
    context.app[STATS_KEY].record_batch("nodes", len(ids))
    found: list[object] = [_node(context.dataset, value) for value in ids]
    if context.partial:
        struck = [i for i, node in enumerate(found) if node is not None][::2]
        for index in struck:
            found[index] = _error("Internal error. Looks like something went wrong.", "INTERNAL")
    return found


def _connection(
    context: Context,
    nodes: list[dict[str, Any]],
    cursors: list[str],
    first: int,
    *,
    batch: bool,
    after: bool,
) -> dict[str, Any]:
    """A page of ``first`` of ``nodes`` (those after the cursor asked, with their
    cursors). Under an injected partial ``batch`` every other node found is left out
    and the page says there is more."""
    shown, more = list(zip(cursors, nodes, strict=True))[:first], len(nodes) > first
    if batch and context.partial:
        del shown[::2]
        more = True
    context.refund += first - len(shown)
    edges = [{"cursor": cursor, "node": node} for cursor, node in shown]
    return {
        "edges": edges,
        "nodes": [node for _, node in shown],
        "pageInfo": {
            "hasNextPage": more,
            "hasPreviousPage": after,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def _orders(_root: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    """The data set's orders the query matches, by creation time (newest first with
    ``reverse``), ``first`` after the cursor ``after``."""
    context: Context = info.context
    first = _first(args)
    try:
        asked = parse_order_query(args.get("query") or "")
        after = None if args.get("after") is None else _after_order(args["after"])
    except (ValueError, web.HTTPBadRequest) as exc:
        raise _error(f"Invalid search or cursor: {exc}", "BAD_REQUEST") from None
    reverse = bool(args.get("reverse"))
    listed = sorted(
        (
            o
            for o in context.dataset.orders.values()
            if asked.search.matches(o) and (not asked.numbers or o.number in asked.numbers)
        ),
        key=_created,
        reverse=reverse,
    )
    if after is not None:
        listed = [o for o in listed if (_created(o) < after if reverse else _created(o) > after)]
    if asked.numbers:
        context.app[STATS_KEY].record_batch("orders", len(asked.numbers))
    page = listed[: first + 1]
    return _connection(
        context,
        [_order_node(o) for o in page],
        [_order_cursor(o) for o in page],
        first,
        batch=bool(asked.numbers),
        after=after is not None,
    )


def _created(order: Order) -> tuple[Any, str]:
    return (order.placed_at, order.id)


def _order_cursor(order: Order) -> str:
    """An order's cursor as Shopify writes one, opaque to clients: base64 (padded) of
    JSON naming the order's legacy id and its sort value, the creation time."""
    _, legacy_id = parse_gid(shopify_gid("Order", order.id))
    at = order.placed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    fields = {"last_id": int(legacy_id), "last_value": at}
    return base64.b64encode(json.dumps(fields, separators=(",", ":")).encode()).decode()


def _after_order(cursor: str) -> tuple[datetime, str]:
    """The sort key an order cursor names; ``ValueError`` for one Shopify did not write."""
    try:
        fields = json.loads(base64.b64decode(cursor, validate=True))
        at = datetime.strptime(fields["last_value"], "%Y-%m-%d %H:%M:%S.%f")
        order_id = our_id(gid("Order", str(int(fields["last_id"]))))
    except (binascii.Error, UnicodeError, TypeError, KeyError, ValueError):
        raise ValueError(f"invalid cursor {cursor!r}") from None
    return at.replace(tzinfo=UTC), order_id


def _inventory_items(_root: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    """The items of the SKUs the query names (every item without one), by id, ``first``
    after the cursor ``after`` (an item's gid)."""
    context: Context = info.context
    first = _first(args)
    inventory = context.dataset.inventory
    try:
        skus = None if not args.get("query") else parse_sku_query(args["query"])
    except ValueError as exc:
        raise _error(f"Invalid search: {exc}", "BAD_REQUEST") from None
    wanted = inventory if skus is None else {s: inventory[s] for s in skus if s in inventory}
    items = sorted(wanted.values(), key=lambda item: int(parse_gid(item_gid(item.sku))[1]))
    after = args.get("after")
    if after is not None:
        gids = [item_gid(item.sku) for item in items]
        items = items[gids.index(after) + 1 :] if after in gids else []
    if skus is not None:
        context.app[STATS_KEY].record_batch("inventoryItems", len(skus))
    page = items[: first + 1]
    return _connection(
        context,
        [_item_node(item) for item in page],
        [item_gid(item.sku) for item in page],
        first,
        batch=skus is not None,
        after=after is not None,
    )


def _job(_root: None, _info: GraphQLResolveInfo, **args: str) -> dict[str, Any] | None:
    try:
        return {"id": args["id"], "done": True} if parse_gid(args["id"])[0] == "Job" else None
    except ValueError:
        return None


def _shop(_root: None, _info: GraphQLResolveInfo) -> dict[str, str]:
    return {"name": SHOP_NAME}


def _order_id(value: str) -> str | None:
    """Our id of an Order gid; None for anything else."""
    try:
        return our_id(value) if parse_gid(value)[0] == "Order" else None
    except ValueError:
        return None


def _order_cancel(_root: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    """The customer cancel of the native OMS (the whole order), answered at once with a
    job that is not done yet; refusals as Shopify words them."""
    context: Context = info.context
    order_id = _order_id(args["orderId"])
    if order_id is None:
        return _cancel_refused("NOT_FOUND", "Order does not exist")
    asked = CancelOrderRequest(reason=CANCEL_REASON.read(args["reason"]))
    try:
        _, event = request_cancel(context.dataset, order_id, asked, context.app[CLOCK_KEY].now())
    except ChangeError as exc:
        if exc.status == 404:
            return _cancel_refused("NOT_FOUND", "Order does not exist")
        if exc.code == ALREADY_CANCELLED:
            return _cancel_refused(
                "INVALID", "Cannot cancel an order that has already been canceled"
            )
        return _cancel_refused("INVALID", str(exc))
    context.emit(event)
    job = {"__typename": "Job", "id": gid("Job", str(uuid.uuid4())), "done": False}
    return {"job": job, "orderCancelUserErrors": [], "userErrors": []}


def _cancel_refused(code: str, message: str) -> dict[str, Any]:
    error = {"field": ["orderId"], "message": message}
    return {"job": None, "orderCancelUserErrors": [{**error, "code": code}], "userErrors": [error]}


def _order_update(_root: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    """The native OMS's address change: applied at once, or (a warehouse has the work)
    recorded for it to decide, the order answered unchanged."""
    context: Context = info.context
    update = args["input"]
    order_id = _order_id(update["id"])
    order = None if order_id is None else context.dataset.orders.get(order_id)
    if order is None:
        return {"order": None, "userErrors": [{"field": ["id"], "message": "Order does not exist"}]}
    if update.get("shippingAddress") is None:
        return {"order": _order_node(order), "userErrors": []}
    value = msgspec.convert(update["shippingAddress"], MailingAddressInput)
    now = context.app[CLOCK_KEY].now()
    try:
        change, event = change_shipping_address(
            context.dataset, order.id, address_from_input(value), now
        )
    except ChangeError as exc:
        error = {"field": ["shippingAddress"], "message": str(exc)}
        return {"order": None, "userErrors": [error]}
    context.emit(event)
    return {"order": _order_node(change.order), "userErrors": []}


def _quantities(source: Mapping[str, Any], _info: GraphQLResolveInfo, names: list[str]) -> Any:
    return [q for q in source["quantities"] if q["name"] in names]


def _has_previous(source: Mapping[str, Any], _info: GraphQLResolveInfo) -> bool:
    return bool(source.get("hasPreviousPage", False))


SCHEMA = build_schema(SDL)
_RESOLVERS: dict[tuple[str, str], Callable[..., Any]] = {
    ("QueryRoot", "nodes"): _nodes,
    ("QueryRoot", "orders"): _orders,
    ("QueryRoot", "inventoryItems"): _inventory_items,
    ("QueryRoot", "job"): _job,
    ("QueryRoot", "shop"): _shop,
    ("Mutation", "orderCancel"): _order_cancel,
    ("Mutation", "orderUpdate"): _order_update,
    ("InventoryLevel", "quantities"): _quantities,
    ("PageInfo", "hasPreviousPage"): _has_previous,
}
for (type_name, field_name), resolve in _RESOLVERS.items():
    cast(GraphQLObjectType, SCHEMA.get_type(type_name)).fields[field_name].resolve = resolve
