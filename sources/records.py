"""Typed records for the four upstream sources: the wire contract of every source.

msgspec Structs decode and validate JSON in one pass (several times faster than
pydantic or dataclasses plus a validator), so parsing an upstream batch stays cheap
on the gateway's hot path. Field names are snake_case in Python and camelCase on
the wire (``rename="camel"``). The simulated sources encode these same records, so
the contract cannot drift between client and server.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Annotated

import msgspec


class Record(msgspec.Struct, rename="camel", frozen=True):
    """Base of every wire record.

    Subclasses repeat ``frozen=True`` (for type checkers) and add ``kw_only=True`` so
    optional fields can sit next to the required ones they belong with.
    """


# An instant a source sends: RFC 3339, so always with its offset. One without could be
# any zone's (a local time read as UTC is hours off), and the rules compare instants:
# a record carrying one is refused as it is decoded (msgspec checks it, at no cost).
Instant = Annotated[datetime, msgspec.Meta(tz=True)]


# --- OMS vocabularies (docs/vocabulary.md) -------------------------------------------


class FinancialStatus(enum.Enum):
    AUTHORIZED = "AUTHORIZED"  # authorized, not captured yet
    PAID = "PAID"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    PENDING = "PENDING"
    REFUNDED = "REFUNDED"
    VOIDED = "VOIDED"  # the authorization was voided before capture
    EXPIRED = "EXPIRED"  # the authorization expired before capture


class FulfillmentStatus(enum.Enum):
    UNFULFILLED = "UNFULFILLED"
    SCHEDULED = "SCHEDULED"
    ON_HOLD = "ON_HOLD"
    IN_PROGRESS = "IN_PROGRESS"
    PARTIALLY_FULFILLED = "PARTIALLY_FULFILLED"
    FULFILLED = "FULFILLED"  # everything has shipped (not necessarily delivered)
    REQUEST_DECLINED = "REQUEST_DECLINED"  # a location declined the fulfillment request


class FulfillmentOrderStatus(enum.Enum):
    OPEN = "OPEN"  # released to its location, not started yet
    SCHEDULED = "SCHEDULED"  # to be released to its location at a later date
    ON_HOLD = "ON_HOLD"
    IN_PROGRESS = "IN_PROGRESS"
    INCOMPLETE = "INCOMPLETE"  # the location could not fulfil all of it
    CLOSED = "CLOSED"  # done: all it carried has shipped or was settled
    CANCELLED = "CANCELLED"


class HoldReason(enum.Enum):
    AWAITING_PAYMENT = "AWAITING_PAYMENT"
    HIGH_RISK_OF_FRAUD = "HIGH_RISK_OF_FRAUD"  # under fraud review: customers are not told
    INCORRECT_ADDRESS = "INCORRECT_ADDRESS"
    INVENTORY_OUT_OF_STOCK = "INVENTORY_OUT_OF_STOCK"
    UNKNOWN_DELIVERY_DATE = "UNKNOWN_DELIVERY_DATE"
    OTHER = "OTHER"  # any other reason: the hold's note may say which


class DeliveryMethodType(enum.Enum):
    SHIPPING = "SHIPPING"
    PICK_UP = "PICK_UP"  # the customer collects it at a location: no address to change
    LOCAL = "LOCAL"  # delivered locally by the merchant


class CancelReason(enum.Enum):
    CUSTOMER = "CUSTOMER"
    DECLINED = "DECLINED"  # the payment was declined
    FRAUD = "FRAUD"
    INVENTORY = "INVENTORY"
    STAFF = "STAFF"  # staff cancelled it, e.g. after a mistake
    OTHER = "OTHER"


class ReturnStatus(enum.Enum):
    """Where the customer's return of an order stands (Shopify ``OrderReturnStatus``)."""

    NO_RETURN = "NO_RETURN"
    RETURN_REQUESTED = "RETURN_REQUESTED"
    IN_PROGRESS = "IN_PROGRESS"  # approved, items on their way back
    RETURNED = "RETURNED"
    RETURN_FAILED = "RETURN_FAILED"  # some items never came back


# --- OMS records ---------------------------------------------------------------------


class Money(Record, frozen=True, kw_only=True):
    amount: str  # decimal string, never a float
    currency_code: str


class MailingAddress(Record, frozen=True, kw_only=True):
    name: str
    line1: str
    line2: str | None = None
    city: str
    region: str | None = None
    postal_code: str
    country_code: str
    phone: str | None = None


class Customer(Record, frozen=True, kw_only=True):
    id: str
    name: str
    email: str
    phone: str | None = None


class LineQuantities(Record, frozen=True, kw_only=True):
    ordered: int
    cancelled: int = 0
    shipped: int = 0
    delivered: int = 0
    returned: int = 0


class OrderLine(Record, frozen=True, kw_only=True):
    id: str
    sku: str
    name: str
    unit_price: Money
    quantities: LineQuantities


class Location(Record, frozen=True, kw_only=True):
    id: str
    name: str
    country_code: str


class DeliveryMethod(Record, frozen=True, kw_only=True):
    method_type: DeliveryMethodType
    service_name: str
    min_delivery_at: Instant | None = None
    max_delivery_at: Instant | None = None


class FulfillmentHold(Record, frozen=True, kw_only=True):
    reason: HoldReason
    note: str | None = None
    held_at: Instant


class LineQuantity(Record, frozen=True, kw_only=True):
    """A quantity of one order line carried by a fulfillment order or a shipment."""

    line_id: str
    quantity: int


class FulfillmentOrder(Record, frozen=True, kw_only=True):
    id: str
    location: Location
    status: FulfillmentOrderStatus
    holds: list[FulfillmentHold] = []
    delivery_method: DeliveryMethod
    lines: list[LineQuantity]
    updated_at: Instant


class Shipment(Record, frozen=True, kw_only=True):
    id: str
    fulfillment_order_id: str
    carrier_code: str
    tracking_number: str | None = None
    lines: list[LineQuantity]
    shipped_at: Instant


class Order(Record, frozen=True, kw_only=True):
    id: str
    number: str  # human order number without the leading '#', e.g. "1001"
    account_id: str  # the sales channel or partner account that owns the order
    customer: Customer
    shipping_address: MailingAddress | None = None
    financial_status: FinancialStatus
    fulfillment_status: FulfillmentStatus
    currency_code: str
    placed_at: Instant
    updated_at: Instant
    lines: list[OrderLine]
    fulfillment_orders: list[FulfillmentOrder]
    shipments: list[Shipment] = []
    cancelled_at: Instant | None = None
    cancel_reason: CancelReason | None = None
    return_status: ReturnStatus = ReturnStatus.NO_RETURN


class PageInfo(Record, frozen=True, kw_only=True):
    has_next_page: bool
    end_cursor: str | None = None


class OrderEdge(Record, frozen=True, kw_only=True):
    cursor: str  # opaque; pass it as ``cursor`` to continue right after this order
    node: Order


class OrderPage(Record, frozen=True, kw_only=True):
    """One page of ``GET /orders/search``. listedAt is the OMS's clock when it read the
    page: every later change sets its order's updatedAt at or after it, so a later
    search with updatedSince=listedAt lists every order changed since. An OMS that
    does not say leaves it out."""

    edges: list[OrderEdge]
    page_info: PageInfo
    listed_at: Instant | None = None


# --- Inventory (docs/vocabulary.md) ---------------------------------------------------


class RestockExpectation(Record, frozen=True, kw_only=True):
    """An expected arrival date of incoming stock, and when it was set."""

    expected_at: Instant
    set_at: Instant


class InventoryLevel(Record, frozen=True, kw_only=True):
    location_id: str
    available: int  # may be negative when oversold
    committed: int
    reserved: int
    on_hand: int
    incoming: int
    incoming_expected_at: Instant | None = None
    as_of: Instant
    # when ``available`` last went negative (committed units without stock); None
    # while it is not
    oversold_since: Instant | None = None
    # every expected date of the stock now incoming, oldest first, each with when it was
    # set: the last one is ``incoming_expected_at``; empty when nothing is incoming
    restock_history: list[RestockExpectation] = []


class InventoryItem(Record, frozen=True, kw_only=True):
    sku: str
    levels: list[InventoryLevel]


# --- Carrier (docs/vocabulary.md) -----------------------------------------------------


class ShipmentStatus(enum.Enum):
    NO_INFO = "NO_INFO"  # the carrier has no information yet
    LABEL_CREATED = "LABEL_CREATED"  # labelled, not yet scanned by the carrier
    IN_TRANSIT = "IN_TRANSIT"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    READY_FOR_PICKUP = "READY_FOR_PICKUP"
    DELIVERY_ATTEMPTED = "DELIVERY_ATTEMPTED"
    DELIVERED = "DELIVERED"
    EXCEPTION = "EXCEPTION"  # a problem: the subtag says which
    RETURNING_TO_SENDER = "RETURNING_TO_SENDER"
    RETURNED_TO_SENDER = "RETURNED_TO_SENDER"
    TRACKING_EXPIRED = "TRACKING_EXPIRED"  # no news for 30 days: tracking stopped


class CheckpointLocation(Record, frozen=True, kw_only=True):
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country_code: str | None = None


class Checkpoint(Record, frozen=True, kw_only=True):
    # ISO 8601 as the carrier sent it: a datetime with offset, or a bare date
    # ("2026-11-20") when the carrier only knows the day.
    time: str
    status: ShipmentStatus
    tag: str
    subtag: str | None = None
    message: str
    location: CheckpointLocation | None = None


def carrier_time(raw: str) -> tuple[datetime, bool]:
    """A carrier's time (a checkpoint's, an estimate's) as an aware datetime, and
    whether the carrier gave only a date: a bare date is that day's start in UTC, and a
    time without an offset is UTC. ``ValueError`` for neither."""
    if len(raw) == 10:
        day = date.fromisoformat(raw)
        return datetime(day.year, day.month, day.day, tzinfo=UTC), True
    moment = datetime.fromisoformat(raw)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)), False


class DeliveryWindow(Record, frozen=True, kw_only=True):
    earliest: Instant
    latest: Instant


class Tracking(Record, frozen=True, kw_only=True):
    tracking_number: str
    carrier_code: str
    status: ShipmentStatus  # the carrier's current normalised status
    tag: str  # raw tag, e.g. AfterShip's "InTransit"
    subtag: str | None = None  # raw subtag, e.g. "Exception_011"
    message: str | None = None  # the carrier's latest message
    checkpoints: list[Checkpoint]  # as sent: may be out of order and duplicated
    first_estimated_delivery: DeliveryWindow | None = None
    latest_estimated_delivery: DeliveryWindow | None = None
    promised_delivery_date: Instant | None = None
    first_attempted_at: Instant | None = None
    signed_by: str | None = None
    updated_at: Instant


# --- Ticketing (docs/vocabulary.md) ---------------------------------------------------


class TicketStatus(enum.Enum):
    NEW = "NEW"  # not assigned to an agent yet
    OPEN = "OPEN"  # assigned and worked on
    PENDING = "PENDING"  # waits on the requester's reply
    ON_HOLD = "ON_HOLD"  # waits on a third party
    SOLVED = "SOLVED"  # settled: a new comment reopens it
    CLOSED = "CLOSED"  # over and read-only: a follow-up is a new ticket


class TicketPriority(enum.Enum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    URGENT = "URGENT"


class TicketType(enum.Enum):
    QUESTION = "QUESTION"
    INCIDENT = "INCIDENT"  # one occurrence of a problem
    PROBLEM = "PROBLEM"  # the issue behind one or more incidents
    TASK = "TASK"


class TicketChannel(enum.Enum):
    EMAIL = "EMAIL"
    CHAT = "CHAT"
    PHONE = "PHONE"  # calls and voicemail
    WEB = "WEB"  # a web form or the API


class TicketComment(Record, frozen=True, kw_only=True):
    """One message on a ticket; the first is the requester's description. Internal notes
    (``public`` false) are for agents only."""

    id: str
    author: str
    body: str
    public: bool = True
    created_at: Instant


class Ticket(Record, frozen=True, kw_only=True):
    id: str
    order_id: str
    status: TicketStatus
    priority: TicketPriority
    type: TicketType
    channel: TicketChannel
    subject: str
    tags: list[str] = []
    created_at: Instant
    updated_at: Instant
    url: str
    # Oldest first; None when its source reads comments apart from tickets (Zendesk):
    # then they are the source's comments_by_tickets' under comments_key(...).
    comments: list[TicketComment] | None = []


def comments_key(order_id: str, ticket_id: str) -> str:
    """The key a ticket's comments are read and cached under: its order's id (whose
    change drops them) and its own."""
    return f"{order_id}/{ticket_id}"


def comments_key_parts(key: str) -> tuple[str, str]:
    """The (order id, ticket id) of a :func:`comments_key`."""
    order_id, _, ticket_id = key.rpartition("/")
    return order_id, ticket_id


def read_apart(tickets: Iterable[Ticket]) -> list[str]:
    """The :func:`comments_key` of each ticket read without its comments."""
    return [comments_key(t.order_id, t.id) for t in tickets if t.comments is None]


def with_comments(
    tickets: list[Ticket], comments: Mapping[str, list[TicketComment] | None]
) -> list[Ticket]:
    """``tickets``, each read without its comments given those ``comments`` holds
    under its :func:`comments_key` (still None where it holds none)."""

    def filled(ticket: Ticket) -> Ticket:
        if ticket.comments is not None:
            return ticket
        read = comments.get(comments_key(ticket.order_id, ticket.id))
        return msgspec.structs.replace(ticket, comments=read)

    return [filled(ticket) for ticket in tickets]


class OrderTickets(Record, frozen=True, kw_only=True):
    """All tickets linked to one order (possibly none)."""

    order_id: str
    tickets: list[Ticket]


# --- Batch envelopes -----------------------------------------------------------------

MAX_BATCH = 100  # every batch endpoint's documented maximum number of ids per call


class OrderBatch(Record, frozen=True, kw_only=True):
    data: list[Order]
    not_found: list[str] = []


class InventoryBatch(Record, frozen=True, kw_only=True):
    data: list[InventoryItem]
    not_found: list[str] = []


class TrackingBatch(Record, frozen=True, kw_only=True):
    data: list[Tracking]
    not_found: list[str] = []


class TicketBatch(Record, frozen=True, kw_only=True):
    data: list[OrderTickets]


class ErrorBody(Record, frozen=True, kw_only=True):
    """Every error a source answers with: a stable code and a human message."""

    code: str
    message: str


# --- OMS order changes (docs/vocabulary.md) -------------------------------------------

# The codes of the OMS's 409 answers to an order change: what the order rules
# (domain/eligibility.py) predict, and what the vendor adapters map their refusals to.
ALREADY_CANCELLED = "ALREADY_CANCELLED"
NOTHING_TO_CANCEL = "NOTHING_TO_CANCEL"  # every line is cancelled already
PICKUP_ORDER = "PICKUP_ORDER"  # collected, not shipped: no address to change
ALREADY_SHIPPED = "ALREADY_SHIPPED"
PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
IN_FULFILLMENT = "IN_FULFILLMENT"  # a warehouse works on it
NOT_CANCELLABLE = "NOT_CANCELLABLE"  # the staff cancel's refusal: shipped, or cancelled
QUANTITY_NOT_CANCELLABLE = "QUANTITY_NOT_CANCELLABLE"  # more than a line's cancellable units
# An OMS that cancels whole orders only (``OrdersAdapter.cancels_lines`` false) refuses a
# cancel of some lines with this code.
LINE_CANCEL_NOT_SUPPORTED = "LINE_CANCEL_NOT_SUPPORTED"


class CancelOrderRequest(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Body of ``POST /orders/{id}/cancel``: without ``lines`` the whole order."""

    reason: CancelReason
    lines: Annotated[list[LineQuantity], msgspec.Meta(min_length=1)] | None = None


class AddressChangeStatus(enum.Enum):
    APPLIED = "APPLIED"  # the order carries the new address
    REQUESTED = "REQUESTED"  # a warehouse has the work: it approves or rejects later


class AddressRequestStatus(enum.Enum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class AddressChange(Record, frozen=True, kw_only=True):
    """Answer of ``POST /orders/{id}/shipping-address`` (200 APPLIED, 202 REQUESTED)."""

    status: AddressChangeStatus
    request_id: str | None = None  # set when REQUESTED
    order: Order


class AddressChangeRequest(Record, frozen=True, kw_only=True):
    """An address change waiting for, or decided by, the warehouse holding the work."""

    id: str
    order_id: str
    address: MailingAddress
    status: AddressRequestStatus
    requested_at: Instant
    decided_at: Instant | None = None


class OrderAddressRequests(Record, frozen=True, kw_only=True):
    """``GET /orders/{id}/address-requests``: every request of one order, oldest first."""

    order_id: str
    requests: list[AddressChangeRequest]


# --- Ticketing changes (docs/vocabulary.md) -------------------------------------------

SUBJECT_MAX = 200
COMMENT_MAX = 10_000
AUTHOR_MAX = 100
TICKET_CLOSED = "TICKET_CLOSED"  # 409: a closed ticket is read-only (a follow-up is new)
ORDER_NOT_FOUND = "ORDER_NOT_FOUND"  # 404: a new ticket names an order nobody knows

# At least one character that is not white space, and at most ``n`` characters.
Subject = Annotated[str, msgspec.Meta(min_length=1, max_length=SUBJECT_MAX, pattern=r"\S")]
CommentBody = Annotated[str, msgspec.Meta(min_length=1, max_length=COMMENT_MAX, pattern=r"\S")]
Author = Annotated[str, msgspec.Meta(min_length=1, max_length=AUTHOR_MAX, pattern=r"\S")]


class CreateTicketRequest(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Body of ``POST /tickets``: a NEW ticket about an order, opened with its first
    (public) comment, written by ``author`` or else the order's customer."""

    order_id: str
    subject: Subject
    body: CommentBody
    author: Author | None = None
    priority: TicketPriority = TicketPriority.NORMAL
    type: TicketType = TicketType.QUESTION
    channel: TicketChannel = TicketChannel.WEB


class AddCommentRequest(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Body of ``POST /tickets/{id}/comments``."""

    body: CommentBody
    author: Author
    public: bool = True


class CommentAdded(Record, frozen=True, kw_only=True):
    """Answer of ``POST /tickets/{id}/comments``: the new comment and its ticket as it
    now is (the comment last among its comments)."""

    ticket: Ticket
    comment: TicketComment
