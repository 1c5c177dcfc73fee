"""The order and everything the OMS knows about it; edges into the other sources
(availability, tracking, tickets, and what needs tracking) are the only async
resolvers, each one dataloader load."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from aiodataloader import DataLoader

from resolvers import exceptions as rules
from resolvers import order_facts
from resolvers.access import Access, requires
from resolvers.context import RequestContext
from resolvers.eligibility import change_eligibility
from resolvers.loaders import settle
from resolvers.relay import to_global_id
from resolvers.status import derive_customer_status, latest_estimate, promised_window
from resolvers.timeline import build_timeline, previous_estimate, visible_to
from resolvers.types.common import DateWindow, MailingAddress, Money, Node, PageInfo
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
from resolvers.types.exceptions import OrderException
from resolvers.types.freshness import DataSource, SourceFreshness
from resolvers.types.inventory import InventoryAvailability
from resolvers.types.lifecycle import ChangeEligibility, TimelineConnection, timeline_page
from resolvers.types.ticket import SupportTicket
from resolvers.types.tracking import Carrier, Tracking, tracking_url
from sources import records
from sources.cache.through import Cached

Info = strawberry.Info[RequestContext, None]


@strawberry.type(description="Without pii:read, email and phone are masked (null).")
class Customer:
    reference: str = strawberry.field(description="The customer's id in the OMS.")
    name: str
    email: str | None = strawberry.field(directives=requires("pii:read"))
    phone: str | None = strawberry.field(directives=requires("pii:read"))


@strawberry.type
class LineItemQuantities:
    ordered: int
    cancelled: int
    unfulfilled: int = strawberry.field(description="Ordered, not cancelled, not yet shipped.")
    shipped: int
    delivered: int
    returned: int


@strawberry.type
class LineItem(Node):
    sku: str
    name: str
    unit_price: Money
    quantities: LineItemQuantities

    @strawberry.field(
        description="Stock of this SKU (inventory source).", directives=requires("inventory:read")
    )
    async def availability(self, info: Info) -> InventoryAvailability | None:
        info.context.access.require("LineItem.availability")
        item = (await info.context.loaders.inventory_by_sku.load(self.sku)).value
        return None if item is None else InventoryAvailability.from_record(item)

    @classmethod
    def from_record(cls, order_id: str, line: records.OrderLine) -> LineItem:
        q = line.quantities
        return cls(
            id=strawberry.ID(to_global_id("LineItem", order_id, line.id)),
            sku=line.sku,
            name=line.name,
            unit_price=Money(
                amount=line.unit_price.amount, currency_code=line.unit_price.currency_code
            ),
            quantities=LineItemQuantities(
                ordered=q.ordered,
                cancelled=q.cancelled,
                unfulfilled=max(0, q.ordered - q.cancelled - q.shipped),
                shipped=q.shipped,
                delivered=q.delivered,
                returned=q.returned,
            ),
        )


@strawberry.type(description="A quantity of one order line.")
class LineItemQuantity:
    line_item: LineItem
    quantity: int


@strawberry.type
class Location:
    id: str
    name: str
    country_code: str


@strawberry.type
class FulfillmentHold:
    reason: HoldReason
    note: str | None
    held_at: datetime


@strawberry.type
class DeliveryMethod:
    type: DeliveryMethodType
    service_name: str
    promised_delivery: DateWindow | None


@strawberry.type(description="The part of an order one location fulfills.")
class FulfillmentOrder(Node):
    location: Location
    status: FulfillmentOrderStatus
    holds: list[FulfillmentHold]
    delivery_method: DeliveryMethod
    line_items: list[LineItemQuantity]
    updated_at: datetime


@strawberry.type
class Shipment(Node):
    carrier: Carrier
    tracking_number: str | None
    tracking_url: str | None
    shipped_at: datetime
    line_items: list[LineItemQuantity]

    @strawberry.field(
        description="The carrier's tracking (carrier source).",
        directives=requires("shipments:read"),
    )
    async def tracking(self, info: Info) -> Tracking | None:
        info.context.access.require("Shipment.tracking")
        if self.tracking_number is None:
            return None
        found = (await info.context.loaders.tracking_by_number.load(self.tracking_number)).value
        readable = order_facts.masked(found, info.context.access)
        return None if readable is None else Tracking.from_record(readable)


@strawberry.type
class Order(Node):
    number: str = strawberry.field(description='The order number, e.g. "1001".')
    name: str = strawberry.field(description='The order number as customers see it: "#1001".')
    placed_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None
    cancel_reason: CancelReason | None
    customer: Customer
    shipping_address: MailingAddress | None
    financial_status: FinancialStatus
    fulfillment_status: FulfillmentStatus
    return_status: ReturnStatus
    promised_delivery: DateWindow | None = strawberry.field(
        description="The delivery window promised at checkout."
    )
    line_items: list[LineItem]
    fulfillment_orders: list[FulfillmentOrder]
    shipments: list[Shipment]
    record: strawberry.Private[records.Order]
    cached: strawberry.Private[Cached[records.Order]]
    memo: strawberry.Private[dict[str, Any]]

    @strawberry.field(
        description="The one status the customer is shown. The carrier's stages (out for "
        "delivery, ready for pickup, returning to sender...) need shipments:read: without "
        "it, as when the carrier does not answer, the OMS alone decides (e.g. SHIPPED)."
    )
    async def customer_status(self, info: Info) -> CustomerOrderStatus:
        trackings = await order_facts.readable_trackings(self.record, info.context)
        return derive_customer_status(self.record, trackings)

    @strawberry.field(
        description="The carrier's latest estimate among the undelivered shipments.",
        directives=requires("shipments:read"),
    )
    async def estimated_delivery(self, info: Info) -> DateWindow | None:
        info.context.access.require("Order.estimatedDelivery")
        trackings = await order_facts.trackings(self.record, info.context, strict=True)
        return DateWindow.of(latest_estimate(self.record, trackings))

    @strawberry.field(
        description="Support tickets about this order (ticketing source).",
        directives=requires("tickets:read"),
    )
    async def tickets(self, info: Info) -> list[SupportTicket] | None:
        info.context.access.require("Order.tickets")
        found = (await info.context.loaders.tickets_by_order.load(self.record.id)).value
        return None if found is None else [SupportTicket.from_record(t) for t in found]

    @strawberry.field(
        description="The carrier's earlier estimate, when the latest one moved "
        '("was Tuesday, now Thursday").',
        directives=requires("shipments:read"),
    )
    async def previous_estimated_delivery(self, info: Info) -> DateWindow | None:
        info.context.access.require("Order.previousEstimatedDelivery")
        trackings = await order_facts.trackings(self.record, info.context, strict=True)
        return DateWindow.of(previous_estimate(self.record, trackings))

    @strawberry.field(
        description="How the order is doing: the worst of its exceptions. App and partner "
        "keys get the customer's view (internal exceptions do not count). Needs "
        "shipments:read and inventory:read, the sources of the exceptions customers see: "
        "without them it would say ON_TRACK over a lost parcel or missing stock it cannot "
        "read, so it is null (UNAUTHORIZED_FIELD). Consoles also count internal "
        "exceptions, those about tickets only with tickets:read.",
        directives=requires("shipments:read", "inventory:read"),
    )
    async def health(self, info: Info) -> rules.Health | None:
        info.context.access.require("Order.health")
        found = await self._exceptions(info)
        return rules.order_health(found, include_internal=info.context.access.internal)

    @strawberry.field(
        description="What is wrong or about to go wrong, most severe and newest first. "
        "Internal exceptions (fraud review, support response) are shown to consoles only. "
        "Worked out from the sources this key may read: without shipments:read, "
        "inventory:read or tickets:read, what only that source shows is not listed."
    )
    async def exceptions(self, info: Info) -> list[OrderException]:
        found = await self._exceptions(info)
        internal = info.context.access.internal
        return [OrderException.of(self.record.id, e) for e in found if internal or not e.internal]

    def _exceptions(self, info: Info) -> asyncio.Future[list[rules.OrderException]]:
        """The order's exceptions, worked out once per object however many fields ask,
        from the sources the caller may read."""
        if self.memo.get("exceptions") is None:
            self.memo["exceptions"] = asyncio.ensure_future(
                order_facts.detect(self.record, info.context)
            )
        return self.memo["exceptions"]

    @strawberry.field(description="What may still change on this order, and why not.")
    def change_eligibility(self) -> ChangeEligibility:
        return ChangeEligibility.of(change_eligibility(self.record))

    @strawberry.field(
        description="Everything that happened, from all four sources, oldest first. "
        "App and partner keys see CUSTOMER events only. `first` is required, 1 to 100."
    )
    async def timeline(
        self, info: Info, first: int, after: str | None = None
    ) -> TimelineConnection:
        trackings, tickets = await asyncio.gather(
            order_facts.readable_trackings(self.record, info.context),
            order_facts.readable_tickets(self.record, info.context),
        )
        events = build_timeline(self.record, trackings, tickets)
        return timeline_page(
            visible_to(events, internal=info.context.access.internal), first, after
        )

    @strawberry.field(
        description="Each source this order was assembled from, and how fresh its data is."
    )
    async def data_sources(self, info: Info) -> list[SourceFreshness]:
        loaders, order, denied = info.context.loaders, self.record, info.context.access.denied
        numbers = [s.tracking_number for s in order.shipments if s.tracking_number]
        # Only the sources whose data the caller may read (and that this order uses),
        # all loaded at once so each joins its source's batch.
        wanted: list[tuple[DataSource, str, DataLoader[str, Any], list[str]]] = [
            (DataSource.INVENTORY, "LineItem.availability", loaders.inventory_by_sku,
             [line.sku for line in order.lines]),
            (DataSource.CARRIER, "Shipment.tracking", loaders.tracking_by_number, numbers),
            (DataSource.TICKETING, "Order.tickets", loaders.tickets_by_order, [order.id]),
        ]  # fmt: skip
        readable = [(source, loader, keys) for source, coordinate, loader, keys in wanted
                    if coordinate not in denied]  # fmt: skip
        settled = await asyncio.gather(*(settle(loader, keys) for _, loader, keys in readable))
        parts: list[tuple[DataSource, Iterable[object]]] = [(DataSource.OMS, [self.cached])]
        parts += [
            (source, found.values())
            for (source, _, _), found in zip(readable, settled, strict=True)
        ]
        now = info.context.clock.time()
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
        lines = {line.id: LineItem.from_record(order.id, line) for line in order.lines}
        customer = order.customer
        return cls(
            id=strawberry.ID(to_global_id("Order", order.id)),
            number=order.number,
            name=f"#{order.number}",
            placed_at=order.placed_at,
            updated_at=order.updated_at,
            cancelled_at=order.cancelled_at,
            cancel_reason=order.cancel_reason,
            customer=Customer(
                reference=customer.id,
                name=customer.name,
                email=customer.email if pii else None,
                phone=customer.phone if pii else None,
            ),
            shipping_address=(
                MailingAddress.from_record(order.shipping_address, pii=pii)
                if order.shipping_address
                else None
            ),
            financial_status=order.financial_status,
            fulfillment_status=order.fulfillment_status,
            return_status=order.return_status,
            promised_delivery=DateWindow.of(promised_window(order)),
            line_items=list(lines.values()),
            fulfillment_orders=[
                _fulfillment_order(order.id, fo, lines) for fo in order.fulfillment_orders
            ],
            shipments=[_shipment(order.id, shipment, lines) for shipment in order.shipments],
            record=order,
            cached=cached,
            memo={},
        )


def _quantities(
    parts: list[records.LineQuantity], lines: dict[str, LineItem]
) -> list[LineItemQuantity]:
    return [
        LineItemQuantity(line_item=lines[part.line_id], quantity=part.quantity)
        for part in parts
        if part.line_id in lines
    ]


def _fulfillment_order(
    order_id: str, fo: records.FulfillmentOrder, lines: dict[str, LineItem]
) -> FulfillmentOrder:
    method = fo.delivery_method
    promised = (
        (method.min_delivery_at, method.max_delivery_at)
        if method.min_delivery_at and method.max_delivery_at
        else None
    )
    return FulfillmentOrder(
        id=strawberry.ID(to_global_id("FulfillmentOrder", order_id, fo.id)),
        location=Location(
            id=fo.location.id, name=fo.location.name, country_code=fo.location.country_code
        ),
        status=fo.status,
        holds=[FulfillmentHold(reason=h.reason, note=h.note, held_at=h.held_at) for h in fo.holds],
        delivery_method=DeliveryMethod(
            type=method.method_type,
            service_name=method.service_name,
            promised_delivery=DateWindow.of(promised),
        ),
        line_items=_quantities(fo.lines, lines),
        updated_at=fo.updated_at,
    )


def _shipment(order_id: str, shipment: records.Shipment, lines: dict[str, LineItem]) -> Shipment:
    return Shipment(
        id=strawberry.ID(to_global_id("Shipment", order_id, shipment.id)),
        carrier=Carrier.of(shipment.carrier_code),
        tracking_number=shipment.tracking_number,
        tracking_url=tracking_url(shipment.carrier_code, shipment.tracking_number),
        shipped_at=shipment.shipped_at,
        line_items=_quantities(shipment.lines, lines),
    )


@strawberry.type
class OrderEdge:
    cursor: str
    node: Order


@strawberry.type
class OrderConnection:
    edges: list[OrderEdge]
    nodes: list[Order]
    page_info: PageInfo


@strawberry.input(description="Filters of `orders`; all optional, combined with AND.")
class OrderFilter:
    customer_reference: str | None = None
    fulfillment_statuses: list[FulfillmentStatus] | None = None
    financial_statuses: list[FinancialStatus] | None = None
    updated_since: datetime | None = None
    placed_from: datetime | None = strawberry.field(default=None, description="Inclusive.")
    placed_to: datetime | None = strawberry.field(default=None, description="Exclusive.")
