"""The order and everything the OMS knows about it; edges into the other sources
(availability, tracking, tickets, and what needs tracking) are the only async
resolvers, each one dataloader load."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

import strawberry

from domain import exception_rules as rules
from domain.eligibility import change_eligibility
from domain.progress import LineProgress, OrderProgress
from domain.status import derive_customer_status, latest_estimate, promised_window
from domain.timeline import build_timeline, previous_estimate, visible_to
from resolvers import order_facts
from resolvers.access import SOURCE_SCOPES, Access, requires
from resolvers.context import RequestContext
from resolvers.loader_fields import LoaderField
from resolvers.relay import MAX_PAGE, to_global_id
from resolvers.types.change_eligibility import ChangeEligibility
from resolvers.types.common import (
    Connection,
    DateWindow,
    MailingAddress,
    Money,
    Node,
    PageInfo,
    built_on_read,
)
from resolvers.types.enums import (
    CancelReason,
    CustomerOrderStatus,
    DeliveryMethodType,
    FinancialStatus,
    FulfillmentOrderStatus,
    FulfillmentStatus,
    HoldReason,
    ReturnStatus,
)
from resolvers.types.freshness import DataSource, SourceFreshness
from resolvers.types.inventory import InventoryAvailability
from resolvers.types.order_exceptions import OrderException
from resolvers.types.order_timeline import TimelineConnection, timeline_page
from resolvers.types.ticket import SupportTicket
from resolvers.types.tracking import Carrier, Tracking, tracking_url
from sources import records
from sources.cache.through import Cached

Info = strawberry.Info[RequestContext, None]


def _readable(tracking: records.Tracking | None, context: RequestContext) -> Tracking | None:
    readable = order_facts.masked(tracking, context.access)
    return None if readable is None else Tracking.from_record(readable)


# The edges into the other sources that are one load each (resolvers.loader_fields).
_AVAILABILITY: LoaderField[LineItem, records.InventoryItem, InventoryAvailability] = LoaderField(
    loader=lambda loaders: loaders.inventory_by_sku,
    key=lambda line: line.sku,
    convert=lambda line, item, context: (
        None if item is None else InventoryAvailability.from_record(item, context.clock.now())
    ),
)
_TRACKING: LoaderField[Shipment, records.Tracking, Tracking] = LoaderField(
    loader=lambda loaders: loaders.tracking_by_number,
    key=lambda shipment: shipment.tracking_number,
    convert=lambda shipment, found, context: _readable(found, context),
)
_TICKETS: LoaderField[Order, list[records.Ticket], list[SupportTicket]] = LoaderField(
    loader=lambda loaders: loaders.tickets_by_order,
    key=lambda order: order.record.id,
    convert=lambda order, found, context: (
        None if found is None else [SupportTicket.from_record(t) for t in found]
    ),
)


@strawberry.type(
    description="Who placed the order (OMS). Without pii:read, email and phone are masked (null)."
)
class Customer:
    reference: str = strawberry.field(description="The customer's id in the OMS.")
    name: str = strawberry.field(description="The customer's name.")
    email: str | None = strawberry.field(
        description="Email address; null without pii:read.", directives=requires("pii:read")
    )
    phone: str | None = strawberry.field(
        description="Phone number, if known; null without pii:read.",
        directives=requires("pii:read"),
    )


@strawberry.type(description="Quantities of one order line, in units (OMS).")
class LineItemQuantities:
    ordered: int = strawberry.field(description="Units ordered.")
    cancelled: int = strawberry.field(description="Units cancelled.")
    unfulfilled: int = strawberry.field(
        description="Units ordered, not cancelled, not yet shipped (derived by the gateway "
        "from the OMS's quantities; never below 0)."
    )
    shipped: int = strawberry.field(
        description="Units shipped: the line's count, or the units the order's shipments "
        "carry where that count lags behind them."
    )
    delivered: int = strawberry.field(
        description="Units the OMS counts delivered; it may lag the carrier by hours."
    )
    returned: int = strawberry.field(description="Units returned and received back.")


def _quantities(line: LineItem) -> LineItemQuantities:
    q, progress = line.record.quantities, line.progress
    return LineItemQuantities(
        ordered=q.ordered,
        cancelled=q.cancelled,
        unfulfilled=progress.unfulfilled,
        shipped=progress.shipped,
        delivered=q.delivered,
        returned=q.returned,
    )


@built_on_read(
    id=lambda line: strawberry.ID(to_global_id("LineItem", line.order_id, line.record.id)),
    unit_price=lambda line: Money(
        amount=line.record.unit_price.amount, currency_code=line.record.unit_price.currency_code
    ),
    quantities=_quantities,
)
@strawberry.type(description="One line of an order: a SKU and its quantities (OMS).")
class LineItem(Node):
    sku: str = strawberry.field(description="Stock keeping unit; links to the inventory source.")
    name: str = strawberry.field(description="Product name as ordered.")
    unit_price: Money = strawberry.field(description="Price of one unit, in the order's currency.")
    quantities: LineItemQuantities = strawberry.field(
        description="Ordered, cancelled, shipped, delivered and returned units."
    )
    order_id: strawberry.Private[str]
    record: strawberry.Private[records.OrderLine]
    progress: strawberry.Private[LineProgress]

    def __init__(self, order_id: str, line: records.OrderLine, progress: LineProgress) -> None:
        self.order_id = order_id
        self.record = line
        self.progress = progress
        self.sku = line.sku
        self.name = line.name

    availability = _AVAILABILITY.field(
        InventoryAvailability,
        description="Stock of this SKU now (inventory source); null when inventory cannot "
        "be read or does not know the SKU.",
        scope=SOURCE_SCOPES[DataSource.INVENTORY],
    )


@strawberry.type(description="A quantity of one order line (OMS).")
class LineItemQuantity:
    line_item: LineItem = strawberry.field(description="The order line.")
    quantity: int = strawberry.field(description="Units of that line.")


class OrderLines:
    """An order's lines as graph objects, built on first use and shared by the order,
    its fulfillment orders and its shipments. It refers to none of them, so an answer's
    objects hold no reference cycle and are freed as soon as it is sent."""

    __slots__ = ("_by_id", "_order", "_progress", "order_id")

    def __init__(self, order: records.Order) -> None:
        self.order_id = order.id
        self._order = order
        self._progress: OrderProgress | None = None
        self._by_id: dict[str, LineItem] | None = None

    def progress(self) -> OrderProgress:
        """The order's progress (shipments count, not only the lines' counters), worked
        out once for its lines' quantities and its change eligibility."""
        if self._progress is None:
            self._progress = OrderProgress.of(self._order)
        return self._progress

    def by_id(self) -> dict[str, LineItem]:
        if self._by_id is None:
            progress = self.progress().lines
            self._by_id = {
                line.id: LineItem(self.order_id, line, progress[line.id])
                for line in self._order.lines
            }
        return self._by_id

    def quantities(self, parts: list[records.LineQuantity]) -> list[LineItemQuantity]:
        lines = self.by_id()
        return [
            LineItemQuantity(line_item=lines[part.line_id], quantity=part.quantity)
            for part in parts
            if part.line_id in lines
        ]


@strawberry.type(description="A warehouse or store that fulfills orders (OMS).")
class Location:
    id: str = strawberry.field(
        description="The location's id in the OMS; inventory uses the same ids."
    )
    name: str = strawberry.field(description="The location's name.")
    country_code: str = strawberry.field(description="ISO 3166-1 alpha-2 country code.")


@strawberry.type(description="Why a fulfillment order is held (OMS).")
class FulfillmentHold:
    reason: HoldReason = strawberry.field(description="Why it is held.")
    note: str | None = strawberry.field(description="The OMS's free-text note on the hold, if any.")
    held_at: datetime = strawberry.field(
        description="When the hold was placed (OMS time, with the offset the OMS gives)."
    )


@strawberry.type(description="How a fulfillment order reaches the customer (OMS).")
class DeliveryMethod:
    type: DeliveryMethodType = strawberry.field(description="Shipping, pickup or local delivery.")
    service_name: str = strawberry.field(
        description='The service chosen at checkout, e.g. "Express Shipping".'
    )
    promised_delivery: DateWindow | None = strawberry.field(
        description="The window promised at checkout for this method (OMS times); null "
        "when the OMS holds no promise."
    )


def _delivery_method(fo: FulfillmentOrder) -> DeliveryMethod:
    method = fo.record.delivery_method
    promised = (
        (method.min_delivery_at, method.max_delivery_at)
        if method.min_delivery_at and method.max_delivery_at
        else None
    )
    return DeliveryMethod(
        type=method.method_type,
        service_name=method.service_name,
        promised_delivery=DateWindow.of(promised),
    )


@built_on_read(
    id=lambda fo: strawberry.ID(to_global_id("FulfillmentOrder", fo.lines.order_id, fo.record.id)),
    location=lambda fo: Location(
        id=fo.record.location.id,
        name=fo.record.location.name,
        country_code=fo.record.location.country_code,
    ),
    holds=lambda fo: [
        FulfillmentHold(reason=h.reason, note=h.note, held_at=h.held_at) for h in fo.record.holds
    ],
    delivery_method=_delivery_method,
    line_items=lambda fo: fo.lines.quantities(fo.record.lines),
)
@strawberry.type(description="The part of an order one location fulfills (OMS).")
class FulfillmentOrder(Node):
    location: Location = strawberry.field(description="The location that fulfills it.")
    status: FulfillmentOrderStatus = strawberry.field(description="Where the work stands.")
    holds: list[FulfillmentHold] = strawberry.field(
        description="Its current holds, as the OMS lists them; empty when none."
    )
    delivery_method: DeliveryMethod = strawberry.field(
        description="How its items reach the customer."
    )
    line_items: list[LineItemQuantity] = strawberry.field(
        description="The order lines and units it carries."
    )
    updated_at: datetime = strawberry.field(
        description="When the OMS last changed it (OMS time, with the offset the OMS gives)."
    )
    lines: strawberry.Private[OrderLines]
    record: strawberry.Private[records.FulfillmentOrder]

    def __init__(self, lines: OrderLines, fo: records.FulfillmentOrder) -> None:
        self.lines = lines
        self.record = fo
        self.status = fo.status
        self.updated_at = fo.updated_at


@built_on_read(
    id=lambda shipment: strawberry.ID(
        to_global_id("Shipment", shipment.lines.order_id, shipment.record.id)
    ),
    carrier=lambda shipment: Carrier.of(shipment.record.carrier_code),
    tracking_url=lambda shipment: tracking_url(
        shipment.record.carrier_code, shipment.record.tracking_number
    ),
    line_items=lambda shipment: shipment.lines.quantities(shipment.record.lines),
)
@strawberry.type(description="A parcel sent for an order, as the OMS records it.")
class Shipment(Node):
    carrier: Carrier = strawberry.field(description="The carrier carrying it.")
    tracking_number: str | None = strawberry.field(
        description="The carrier's tracking number; null when the OMS has none."
    )
    tracking_url: str | None = strawberry.field(
        description="The carrier's public tracking page, built by the gateway from the "
        "carrier and number; null for an unknown carrier or without a number."
    )
    shipped_at: datetime = strawberry.field(
        description="When it shipped (OMS time, with the offset the OMS gives)."
    )
    line_items: list[LineItemQuantity] = strawberry.field(
        description="The order lines and units in the parcel."
    )
    lines: strawberry.Private[OrderLines]
    record: strawberry.Private[records.Shipment]

    def __init__(self, lines: OrderLines, shipment: records.Shipment) -> None:
        self.lines = lines
        self.record = shipment
        self.tracking_number = shipment.tracking_number
        self.shipped_at = shipment.shipped_at

    tracking = _TRACKING.field(
        Tracking,
        description="The carrier's tracking (carrier source); null without a tracking "
        "number, or when the carrier cannot be read or has no record of it.",
        scope=SOURCE_SCOPES[DataSource.CARRIER],
    )


def _customer(order: Order) -> Customer:
    customer, pii = order.record.customer, order.pii
    return Customer(
        reference=customer.id,
        name=customer.name,
        email=customer.email if pii else None,
        phone=customer.phone if pii else None,
    )


def _shipping_address(order: Order) -> MailingAddress | None:
    address = order.record.shipping_address
    return None if address is None else MailingAddress.from_record(address, pii=order.pii)


@built_on_read(
    id=lambda order: strawberry.ID(to_global_id("Order", order.record.id)),
    customer=_customer,
    shipping_address=_shipping_address,
    promised_delivery=lambda order: DateWindow.of(promised_window(order.record)),
    line_items=lambda order: list(order.lines.by_id().values()),
    fulfillment_orders=lambda order: [
        FulfillmentOrder(order.lines, fo) for fo in order.record.fulfillment_orders
    ],
    shipments=lambda order: [
        Shipment(order.lines, shipment) for shipment in order.record.shipments
    ],
)
@strawberry.type(
    description="An order after checkout: what the OMS knows, with stock (inventory), "
    "tracking (carrier) and tickets (ticketing) joined by the gateway."
)
class Order(Node):
    number: str = strawberry.field(description='The order number (OMS), e.g. "1001".')
    name: str = strawberry.field(description='The order number as customers see it: "#1001".')
    placed_at: datetime = strawberry.field(
        description="When the order was placed (OMS time, with the offset the OMS gives)."
    )
    updated_at: datetime = strawberry.field(
        description="When the OMS last changed the order (OMS time, with the offset the OMS "
        "gives); changes in the other sources do not move it."
    )
    cancelled_at: datetime | None = strawberry.field(
        description="When the order was cancelled (OMS time); null unless cancelled."
    )
    cancel_reason: CancelReason | None = strawberry.field(
        description="Why it was cancelled (OMS); null unless cancelled."
    )
    customer: Customer = strawberry.field(description="Who placed the order.")
    shipping_address: MailingAddress | None = strawberry.field(
        description="Where the order ships (OMS); null when it has none, e.g. a pickup order."
    )
    financial_status: FinancialStatus = strawberry.field(description="Payment state (OMS).")
    fulfillment_status: FulfillmentStatus = strawberry.field(
        description="Fulfillment state as the OMS reports it; `customerStatus` is the "
        "status to show a customer."
    )
    return_status: ReturnStatus = strawberry.field(description="Return state (OMS).")
    promised_delivery: DateWindow | None = strawberry.field(
        description="The delivery window promised at checkout: the widest window over the "
        "fulfillment orders that are not cancelled (OMS times); null when none has one."
    )
    line_items: list[LineItem] = strawberry.field(
        description="The order's lines, as the OMS lists them."
    )
    fulfillment_orders: list[FulfillmentOrder] = strawberry.field(
        description="The order split by fulfilling location and delivery method (OMS)."
    )
    shipments: list[Shipment] = strawberry.field(
        description="Parcels sent so far (OMS); empty before the first ships."
    )
    record: strawberry.Private[records.Order]
    cached: strawberry.Private[Cached[records.Order]]
    pii: strawberry.Private[bool]
    lines: strawberry.Private[OrderLines]
    memo: strawberry.Private[dict[str, Any]]

    def __init__(self, order: records.Order, cached: Cached[records.Order], *, pii: bool) -> None:
        """``pii``: whether the caller may read personal data; masked (null) if not."""
        self.record = order
        self.cached = cached
        self.pii = pii
        self.lines = OrderLines(order)
        self.memo = {}
        self.number = order.number
        self.name = f"#{order.number}"
        self.placed_at = order.placed_at
        self.updated_at = order.updated_at
        self.cancelled_at = order.cancelled_at
        self.cancel_reason = order.cancel_reason
        self.financial_status = order.financial_status
        self.fulfillment_status = order.fulfillment_status
        self.return_status = order.return_status

    @strawberry.field(
        description="The one status the customer is shown, derived by the gateway from the "
        "OMS and the carrier. The carrier's stages (out for delivery, ready for pickup, "
        "returning to sender...) need shipments:read: without it, as when the carrier does "
        "not answer, the OMS alone decides (e.g. SHIPPED)."
    )
    async def customer_status(self, info: Info) -> CustomerOrderStatus:
        trackings = await order_facts.readable_trackings(self.record, info.context)
        return derive_customer_status(self.record, trackings)

    @strawberry.field(
        description="The carrier's latest estimate among the undelivered shipments, in the "
        "destination's local time as the carrier gives it; null when none has an estimate "
        "or the carrier cannot be read.",
        extensions=[order_facts.guard("Order.estimatedDelivery")],
    )
    async def estimated_delivery(self, info: Info) -> DateWindow | None:
        trackings = await order_facts.trackings(self.record, info.context)
        return DateWindow.of(latest_estimate(self.record, trackings))

    tickets = _TICKETS.field(
        list[SupportTicket],
        description="Support tickets about this order (ticketing source); null when "
        "ticketing cannot be read.",
        scope=SOURCE_SCOPES[DataSource.TICKETING],
    )

    @strawberry.field(
        description="The carrier's first estimate for the shipment `estimatedDelivery` "
        'comes from, when it has moved since ("was Tuesday, now Thursday"); carrier source, '
        "destination's local time; null when it never moved.",
        extensions=[order_facts.guard("Order.previousEstimatedDelivery")],
    )
    async def previous_estimated_delivery(self, info: Info) -> DateWindow | None:
        trackings = await order_facts.trackings(self.record, info.context)
        return DateWindow.of(previous_estimate(self.record, trackings))

    @strawberry.field(
        description="How the order is doing: the worst of its exceptions (derived by the "
        "gateway). App and partner "
        "keys get the customer's view (internal exceptions do not count). Needs "
        "shipments:read and inventory:read, the sources of the exceptions customers see: "
        "without them it would say ON_TRACK over a lost parcel or missing stock it cannot "
        "read, so it is null (UNAUTHORIZED_FIELD). Consoles also count internal "
        "exceptions, those about tickets only with tickets:read. When a source it reads "
        "fails, it is null too, with that source's error: it would say ON_TRACK over "
        "what it could not read.",
        extensions=[order_facts.guard("Order.health")],
    )
    async def health(self, info: Info) -> rules.Health | None:
        found = await self._exceptions(info, "Order.health")
        return rules.order_health(found, include_internal=info.context.access.internal)

    @strawberry.field(
        description="What is wrong or about to go wrong, derived by the gateway from all "
        "four sources, most severe and newest first. "
        "Internal exceptions (fraud review, support response) are shown to consoles only. "
        "Worked out from the sources this key may read: without shipments:read, "
        "inventory:read or tickets:read, what only that source shows is not listed. "
        "Nullable on purpose, as every field inventory, the carrier or ticketing feeds: "
        "when a source it reads fails, it is null, with that source's error, rather than "
        "a list without what that source shows."
    )
    async def exceptions(self, info: Info) -> list[OrderException] | None:
        found = await self._exceptions(info, "Order.exceptions")
        internal = info.context.access.internal
        return [OrderException.of(self.record.id, e) for e in found if internal or not e.internal]

    async def _facts(self, info: Info, coordinate: str) -> order_facts.SourceFacts:
        """The other sources' records of the order, as the caller may read them, read
        once per object however many fields ask; the failure of a source the field at
        ``coordinate`` reads is raised (its answer would be wrong without it)."""
        if "facts" not in self.memo:
            self.memo["facts"] = asyncio.ensure_future(
                order_facts.gather_facts(self.record, info.context)
            )
        facts: order_facts.SourceFacts = await self.memo["facts"]
        failure = facts.failure(coordinate, internal=info.context.access.internal)
        if failure is not None:
            raise failure
        return facts

    async def _exceptions(self, info: Info, coordinate: str) -> list[rules.OrderException]:
        """The order's exceptions for the field at ``coordinate`` (see :meth:`_facts`),
        worked out once per object."""
        facts = await self._facts(info, coordinate)
        if "exceptions" not in self.memo:
            self.memo["exceptions"] = facts.exceptions(self.record, info.context.clock.now())
        found: list[rules.OrderException] = self.memo["exceptions"]
        return found

    @strawberry.field(
        description="What may still change on this order, and why not (derived by the "
        "gateway from the OMS's fulfillment state)."
    )
    def change_eligibility(self, info: Info) -> ChangeEligibility:
        cancels_lines = info.context.oms_cancels_lines
        decisions = change_eligibility(
            self.record, self.lines.progress(), oms_cancels_lines=cancels_lines
        )
        return ChangeEligibility.of(decisions)

    @strawberry.field(
        description="Everything that happened, merged by the gateway from the OMS, "
        "inventory, the carrier and ticketing, oldest first. App and partner keys see "
        "CUSTOMER events only. "
        f"`first` is required, 1 to {MAX_PAGE}. Null, with the error at its path, when "
        "`first` or `after` is refused, or when a source it reads fails (ticketing only "
        "for consoles, the only keys shown its events), rather than a timeline without "
        "what that source shows: the rest of the answer stands."
    )
    async def timeline(
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description=f"How many events, 1 to {MAX_PAGE}.")
        ],
        after: Annotated[
            str | None,
            strawberry.argument(
                description="Start after this event: a cursor from this timeline's edges or "
                "`pageInfo.endCursor`; omit for the first page."
            ),
        ] = None,
    ) -> TimelineConnection | None:
        facts = await self._facts(info, "Order.timeline")
        tickets = facts.tickets
        if info.context.access.internal:  # ticket events are internal: read only for them
            tickets = await order_facts.with_comments(tickets, info.context)
        events = build_timeline(self.record, facts.trackings, tickets, facts.stock)
        return timeline_page(
            visible_to(events, internal=info.context.access.internal), first, after
        )

    @strawberry.field(
        description="Each source this order was assembled from and how fresh its data is, "
        "as measured by the gateway; only sources the order uses and the key may read."
    )
    async def data_sources(self, info: Info) -> list[SourceFreshness]:
        context = info.context
        # Only the sources whose data the caller may read (and that this order uses),
        # all loaded at once so each joins its source's batch.
        reads = order_facts.FIELD_SOURCES["Order.dataSources"].sources
        readable = [
            source
            for source in DataSource  # in the enum's order
            if source in reads and order_facts.readable(context.access, source)
        ]
        settled = await asyncio.gather(
            *(order_facts.load(source, self.record, context) for source in readable)
        )
        parts: list[tuple[DataSource, Iterable[object]]] = [(DataSource.OMS, [self.cached])]
        parts += [(source, found.values()) for source, found in zip(readable, settled, strict=True)]
        now = context.clock.time()
        return [SourceFreshness.summarise(source, found, now) for source, found in parts if found]

    @classmethod
    def visible(cls, cached: Cached[records.Order], access: Access) -> Order | None:
        """The order if it exists and belongs to the caller's tenant, else ``None``:
        another tenant's order is as absent as one that does not exist."""
        order = cached.value
        if order is None or not access.sees(order.account_id):
            return None
        return cls.from_record(order, cached, pii=access.pii)

    @classmethod
    def from_record(
        cls, order: records.Order, cached: Cached[records.Order], *, pii: bool
    ) -> Order:
        """The order as a graph object; what a query does not select is never built."""
        return cls(order, cached, pii=pii)


@strawberry.type(description="One order of a page of `orders`.")
class OrderEdge:
    cursor: str = strawberry.field(
        description="Opaque cursor of this order; pass it as `after` to continue after it."
    )
    node: Order = strawberry.field(description="The order.")


@strawberry.type(description="A page of orders, newest first (OMS search).")
class OrderConnection(Connection[OrderEdge]):
    edges: list[OrderEdge] = strawberry.field(description="The orders with their cursors.")
    nodes: list[Order] = strawberry.field(description="The same orders, without cursors.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")


@strawberry.input(description="Filters of `orders`; all optional, combined with AND.")
class OrderFilter:
    customer_reference: str | None = strawberry.field(
        default=None, description="Only this customer's orders: `Customer.reference`."
    )
    fulfillment_statuses: list[FulfillmentStatus] | None = strawberry.field(
        default=None, description="Only orders in any of these fulfillment statuses."
    )
    financial_statuses: list[FinancialStatus] | None = strawberry.field(
        default=None, description="Only orders in any of these payment states."
    )
    updated_since: datetime | None = strawberry.field(
        default=None,
        description="Only orders the OMS changed at or after this time (give an offset; "
        "UTC when none).",
    )
    placed_from: datetime | None = strawberry.field(
        default=None,
        description="Only orders placed at or after this time (inclusive; give an offset, "
        "UTC when none).",
    )
    placed_to: datetime | None = strawberry.field(
        default=None,
        description="Only orders placed before this time (exclusive; give an offset, UTC "
        "when none).",
    )
