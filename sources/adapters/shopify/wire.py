"""Shopify Admin GraphQL API JSON, as far as the gateway reads it (and the simulated
Shopify API writes it).

Shapes follow the GraphQL Admin API reference for :data:`API_VERSION` (objects
``Order``, ``LineItem``, ``FulfillmentOrder``, ``Fulfillment``, ``Refund``,
``MailingAddress``, ``Customer``, ``InventoryItem``, ``InventoryLevel``, ``PageInfo``,
``OrderCancelUserError``, ``UserError``; "GraphQL Admin API rate limits" for
``extensions.cost``): camelCase names, connections read through ``nodes``. A field
Shopify documents as nullable is optional here; fields the gateway does not read are
not declared, so msgspec skips them; every other field is required, so a query that
forgot one fails loudly rather than reading as "no holds". Enum values stay strings:
Shopify adds values between versions (``FULFILLMENT_NOT_REQUIRED`` came in 2026-10),
and an unknown one must reach the vocabulary's fallback rather than fail the answer.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from sources.records import Instant

API_VERSION = "2026-04"  # the version these shapes were checked against
MAX_IDS = 250  # "Shopify API limits": an input array, e.g. nodes(ids:), takes at most 250
MAX_PAGE = 250  # "Paginating results with GraphQL": at most 250 nodes per page
THROTTLED = "THROTTLED"  # errors[].extensions.code of a query refused for its cost
# errors[].extensions.code of a query that costs more than one query may, whatever the
# bucket holds ("GraphQL Admin API rate limits": a single query costs at most 1,000)
MAX_COST_EXCEEDED = "MAX_COST_EXCEEDED"
MAX_QUERY_COST = 1000
# errors[].extensions.code of a request whose variables the schema does not take (a
# value its type has not, e.g. a CountryCode Shopify lacks): the query did not run
INVALID_VARIABLE = "INVALID_VARIABLE"
# The quantity names ("Apps in inventory management", inventory states) we read.
QUANTITY_NAMES = ("available", "committed", "reserved", "incoming", "on_hand")

T = TypeVar("T")


class Wire(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    """Base of Shopify's objects: camelCase, as sent."""


class Ref(Wire, frozen=True, kw_only=True):
    """An object read for its id only, e.g. ``lineItem { id }``."""

    id: str


class PageInfo(Wire, frozen=True, kw_only=True):
    has_next_page: bool
    end_cursor: str | None = None


class Connection(Wire, Generic[T], frozen=True, kw_only=True):
    nodes: list[T]
    page_info: PageInfo | None = None  # None when the query did not ask for it


def one_page(nodes: list[T]) -> Connection[T]:
    """A connection whose one page holds every node (how the simulated API answers)."""
    return Connection(nodes=nodes, page_info=PageInfo(has_next_page=False))


class MoneyV2(Wire, frozen=True, kw_only=True):
    amount: str  # Decimal, serialized as a string ("42.0")
    currency_code: str


class MoneyBag(Wire, frozen=True, kw_only=True):
    shop_money: MoneyV2
    presentment_money: MoneyV2 | None = None  # None when the query did not ask for it


class MailingAddress(Wire, frozen=True, kw_only=True):
    name: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province_code: str | None = None
    zip: str | None = None
    country_code_v2: str | None = None
    phone: str | None = None


class EmailAddress(Wire, frozen=True, kw_only=True):
    email_address: str


class PhoneNumber(Wire, frozen=True, kw_only=True):
    phone_number: str


class Customer(Wire, frozen=True, kw_only=True):
    id: str
    display_name: str  # the name; without one the email, then the phone
    default_email_address: EmailAddress | None = None
    default_phone_number: PhoneNumber | None = None


class LineItem(Wire, frozen=True, kw_only=True):
    id: str
    sku: str | None = None
    name: str
    quantity: int  # ordered, refunded and removed units included
    current_quantity: int  # refunded and removed units excluded
    unfulfilled_quantity: int
    original_unit_price_set: MoneyBag


class AssignedLocation(Wire, frozen=True, kw_only=True):
    """``FulfillmentOrderAssignedLocation``: where the fulfillment order is fulfilled."""

    name: str
    country_code: str
    location: Ref | None = None


class DeliveryMethod(Wire, frozen=True, kw_only=True):
    method_type: str  # DeliveryMethodType
    presented_name: str | None = None
    min_delivery_date_time: Instant | None = None
    max_delivery_date_time: Instant | None = None


class FulfillmentHold(Wire, frozen=True, kw_only=True):
    reason: str  # FulfillmentHoldReason
    reason_notes: str | None = None


class FulfillmentOrderLineItem(Wire, frozen=True, kw_only=True):
    line_item: Ref
    total_quantity: int
    remaining_quantity: int


class FulfillmentOrder(Wire, frozen=True, kw_only=True):
    id: str
    status: str  # FulfillmentOrderStatus
    assigned_location: AssignedLocation
    delivery_method: DeliveryMethod | None = None
    fulfillment_holds: list[FulfillmentHold]
    line_items: Connection[FulfillmentOrderLineItem]
    updated_at: Instant


class TrackingInfo(Wire, frozen=True, kw_only=True):
    """``FulfillmentTrackingInfo``: every field may be null."""

    company: str | None = None
    number: str | None = None
    url: str | None = None


class FulfillmentLineItem(Wire, frozen=True, kw_only=True):
    line_item: Ref
    quantity: int | None = None


class Fulfillment(Wire, frozen=True, kw_only=True):
    id: str
    status: str  # FulfillmentStatus
    display_status: str | None = None  # FulfillmentDisplayStatus
    created_at: Instant
    tracking_info: list[TrackingInfo]
    fulfillment_line_items: Connection[FulfillmentLineItem]
    fulfillment_orders: Connection[Ref]


class RefundLineItem(Wire, frozen=True, kw_only=True):
    line_item: Ref
    quantity: int
    restock_type: str  # RefundLineItemRestockType


class Refund(Wire, frozen=True, kw_only=True):
    id: str
    created_at: Instant | None = None
    refund_line_items: Connection[RefundLineItem]


class Order(Wire, frozen=True, kw_only=True):
    id: str
    legacy_resource_id: str  # UnsignedInt64, serialized as a string
    name: str  # "#1001" in a shop without an order number prefix or suffix
    source_name: str | None = None
    email: str | None = None
    customer: Customer | None = None  # None for a guest checkout
    shipping_address: MailingAddress | None = None
    display_financial_status: str | None = None  # OrderDisplayFinancialStatus
    display_fulfillment_status: str  # OrderDisplayFulfillmentStatus
    currency_code: str
    created_at: Instant
    updated_at: Instant
    cancelled_at: Instant | None = None
    cancel_reason: str | None = None  # OrderCancelReason
    return_status: str  # OrderReturnStatus
    line_items: Connection[LineItem]
    fulfillment_orders: Connection[FulfillmentOrder]
    fulfillments: list[Fulfillment]
    refunds: list[Refund]


class InventoryQuantity(Wire, frozen=True, kw_only=True):
    name: str
    quantity: int


class InventoryLevel(Wire, frozen=True, kw_only=True):
    location: Ref
    quantities: list[InventoryQuantity]
    updated_at: Instant


class InventoryItem(Wire, frozen=True, kw_only=True):
    id: str
    sku: str | None = None
    inventory_levels: Connection[InventoryLevel]


# --- user errors of the mutations ----------------------------------------------------


class UserError(Wire, frozen=True, kw_only=True):
    field: list[str] | None = None  # the path of the input field at fault
    message: str


class OrderCancelUserError(UserError, frozen=True, kw_only=True):
    code: str | None = None  # OrderCancelUserErrorCode


class Job(Wire, frozen=True, kw_only=True):
    id: str
    done: bool


class OrderCancelPayload(Wire, frozen=True, kw_only=True):
    job: Job | None = None  # the cancellation runs asynchronously
    order_cancel_user_errors: list[OrderCancelUserError]


class OrderUpdatePayload(Wire, frozen=True, kw_only=True):
    order: Order | None = None
    user_errors: list[UserError]


# --- the GraphQL envelope ------------------------------------------------------------


class VariableProblem(Wire, frozen=True, kw_only=True):
    """What is wrong with a variable's value, and where in it (graphql-ruby's shape)."""

    path: list[str | int] = []
    explanation: str = ""


class ErrorExtensions(Wire, frozen=True, kw_only=True):
    code: str | None = None  # e.g. THROTTLED, MAX_COST_EXCEEDED, ACCESS_DENIED
    cost: int | None = None  # MAX_COST_EXCEEDED: what the query would have cost
    max_cost: int | None = None  # MAX_COST_EXCEEDED: the most one query may cost
    # a variable's value the schema does not take ("was provided invalid value"),
    # with INVALID_VARIABLE or, as graphql-ruby writes it, without a code
    problems: list[VariableProblem] | None = None


class GraphQLError(Wire, frozen=True, kw_only=True):
    message: str
    extensions: ErrorExtensions | None = None


class ThrottleStatus(Wire, frozen=True, kw_only=True):
    maximum_available: float
    currently_available: float
    restore_rate: float  # points restored per second


class Cost(Wire, frozen=True, kw_only=True):
    requested_query_cost: int
    actual_query_cost: int | None = None  # None when the query did not run
    throttle_status: ThrottleStatus

    def wait_s(self) -> float:
        """Seconds until the bucket, refilling at the restore rate, holds the requested
        cost again: how long a throttled query should wait before it is resent."""
        status = self.throttle_status
        missing = self.requested_query_cost - status.currently_available
        return max(0.0, missing / status.restore_rate) if status.restore_rate > 0 else 0.0


class Extensions(Wire, frozen=True, kw_only=True):
    cost: Cost | None = None


class Envelope(Wire, Generic[T], frozen=True, kw_only=True):
    """Every answer: ``data`` (None when the query did not run), ``errors`` and the
    query's cost. A throttled query answers no data and one THROTTLED error."""

    data: T | None = None
    errors: list[GraphQLError] = []
    extensions: Extensions | None = None

    @property
    def throttled(self) -> bool:
        return any(e.extensions is not None and e.extensions.code == THROTTLED for e in self.errors)


class NodesData(Wire, Generic[T], frozen=True, kw_only=True):
    """``nodes(ids:)``: one entry per id asked, in order; None for an unknown id."""

    nodes: list[T | None]


class OrdersData(Wire, frozen=True, kw_only=True):
    orders: Connection[Order]


class InventoryItemsData(Wire, frozen=True, kw_only=True):
    inventory_items: Connection[InventoryItem]


class OrderCancelData(Wire, frozen=True, kw_only=True):
    order_cancel: OrderCancelPayload | None = None


class OrderUpdateData(Wire, frozen=True, kw_only=True):
    order_update: OrderUpdatePayload | None = None
