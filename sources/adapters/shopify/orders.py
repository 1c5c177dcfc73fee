"""Shopify's orders onto our records, and back (for the simulated Shopify API).

Enum values go through :mod:`.vocabulary`, ids through :mod:`.gid`. An ON_HOLD order
whose fulfillment order has a HIGH_RISK_OF_FRAUD hold stays an order on hold:
fulfillment status ON_HOLD, its fulfillment order ON_HOLD with a HIGH_RISK_OF_FRAUD hold
whose note is Shopify's ``reasonNotes``. It is not cancelled or declined: the merchant
releases the hold, or cancels with reason FRAUD.

Where the rest comes from, where the reference left us a choice:

- number: ``name`` without its leading ``#`` (a shop's own prefix or suffix stays);
- account: ``sourceName``, the channel or app that placed the order; "" when null, so
  only a viewer of every account sees the order;
- customer: ``displayName``, ``defaultEmailAddress``, ``defaultPhoneNumber``; a guest
  checkout (null customer) is customer "" with the order's email;
- placed: ``createdAt`` (``processedAt`` may be backdated on imported orders);
- money: the shop currency (``currencyCode`` and ``shopMoney``), so an amount and its
  currency always agree; amounts stay Shopify's decimal strings ("42.0");
- line quantities: ordered is ``quantity``; returned, refunded units with restockType
  RETURN; cancelled, the other units Shopify no longer counts (``quantity`` -
  ``currentQuantity`` - returned: removed by an edit, refunded unshipped, or refunded
  without coming back), and on a cancelled order every unit not shipped; shipped, the
  units on fulfillments not CANCELLED, ERROR or FAILURE; delivered, those on such
  fulfillments whose ``displayStatus`` is DELIVERED or PICKED_UP;
- shipments: those fulfillments; the carrier is ``trackingInfo.company``
  (:func:`.vocabulary.carrier_code`), the number the first tracking number, the
  fulfillment order the fulfillment's first;
- service: ``deliveryMethod.presentedName``; a null delivery method is SHIPPING "".

What Shopify cannot carry, and what the round trip does with it:

- when a hold was placed: a hold has no time, so it is its fulfillment order's
  ``updatedAt`` (at or after the hold): exact while the fulfillment order has not
  changed since, as every seeded one;
- which shipment was delivered: our lines count delivered units, Shopify marks
  fulfillments; the simulated API marks shipments delivered in order while their lines'
  delivered counts last, exact when those counts are whole shipments (as the seed's).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sources import records
from sources.adapters.shopify import wire
from sources.adapters.shopify.gid import gid, our_id, parse_gid, shopify_gid
from sources.adapters.shopify.vocabulary import (
    CANCEL_REASON,
    DELIVERY_METHOD_TYPE,
    FINANCIAL_STATUS,
    FULFILLMENT_ORDER_STATUS,
    FULFILLMENT_STATUS,
    HOLD_REASON,
    RETURN_STATUS,
    carrier_code,
    tracking_company,
)
from sources.records import DeliveryMethodType

# FulfillmentStatus values of a fulfillment that carries no goods; a later one does
DROPPED_FULFILLMENTS = frozenset({"CANCELLED", "ERROR", "FAILURE"})
# FulfillmentDisplayStatus values of a fulfillment in the customer's hands
DELIVERED_DISPLAY = frozenset({"DELIVERED", "PICKED_UP"})
SHIPPED_DISPLAY = "FULFILLED"
RETURN_RESTOCK = "RETURN"  # RefundLineItemRestockType of units that came back
CANCEL_RESTOCK = "CANCEL"  # ... of units refunded before they shipped


# --- Shopify → ours ------------------------------------------------------------------


@dataclass(frozen=True)
class _Units:
    """Units per line item gid: on live fulfillments, delivered, and returned."""

    shipped: Counter[str]
    delivered: Counter[str]
    returned: Counter[str]

    @classmethod
    def of(cls, live: Sequence[wire.Fulfillment], refunds: Sequence[wire.Refund]) -> _Units:
        delivered = [f for f in live if f.display_status in DELIVERED_DISPLAY]
        returned = Counter[str]()
        for refund in refunds:
            for item in refund.refund_line_items.nodes:
                if item.restock_type == RETURN_RESTOCK:
                    returned[item.line_item.id] += item.quantity
        return cls(_units_on(live), _units_on(delivered), returned)


def _units_on(fulfillments: Iterable[wire.Fulfillment]) -> Counter[str]:
    units = Counter[str]()
    for fulfillment in fulfillments:
        for item in fulfillment.fulfillment_line_items.nodes:
            units[item.line_item.id] += item.quantity or 0
    return units


def order_from_shopify(node: wire.Order) -> records.Order:
    """Our record of Shopify's ``node``; ``ValueError`` for an id that is no gid of a
    type we keep (the order is then unreadable, like a bad record from any source)."""
    live = [f for f in node.fulfillments if f.status not in DROPPED_FULFILLMENTS]
    units = _Units.of(live, node.refunds)
    cancelled = node.cancelled_at is not None
    address = node.shipping_address
    return records.Order(
        id=our_id(node.id),
        number=node.name.removeprefix("#"),
        account_id=node.source_name or "",
        customer=_customer(node),
        shipping_address=None if address is None else _address(address),
        financial_status=FINANCIAL_STATUS.read(node.display_financial_status),
        fulfillment_status=FULFILLMENT_STATUS.read(node.display_fulfillment_status),
        currency_code=node.currency_code,
        placed_at=node.created_at,
        updated_at=node.updated_at,
        lines=[_line(item, units, cancelled) for item in node.line_items.nodes],
        fulfillment_orders=[_fulfillment_order(fo) for fo in node.fulfillment_orders.nodes],
        shipments=[_shipment(fulfillment) for fulfillment in live],
        cancelled_at=node.cancelled_at,
        cancel_reason=None
        if node.cancel_reason is None
        else CANCEL_REASON.read(node.cancel_reason),
        return_status=RETURN_STATUS.read(node.return_status),
    )


def _customer(node: wire.Order) -> records.Customer:
    customer = node.customer
    if customer is None:
        return records.Customer(id="", name="", email=node.email or "")
    email, phone = customer.default_email_address, customer.default_phone_number
    return records.Customer(
        id=our_id(customer.id),
        name=customer.display_name,
        email=(node.email or "") if email is None else email.email_address,
        phone=None if phone is None else phone.phone_number,
    )


def _address(address: wire.MailingAddress) -> records.MailingAddress:
    return records.MailingAddress(
        name=address.name or "",
        line1=address.address1 or "",
        line2=address.address2,
        city=address.city or "",
        region=address.province_code,
        postal_code=address.zip or "",
        country_code=address.country_code_v2 or "",
        phone=address.phone,
    )


def _line(item: wire.LineItem, units: _Units, order_cancelled: bool) -> records.OrderLine:
    shipped, returned = units.shipped[item.id], units.returned[item.id]
    cancelled = item.quantity - item.current_quantity - returned
    if order_cancelled:  # nothing unshipped will ship any more
        cancelled = max(cancelled, item.quantity - shipped - returned)
    price = item.original_unit_price_set.shop_money
    return records.OrderLine(
        id=our_id(item.id),
        sku=item.sku or "",
        name=item.name,
        unit_price=records.Money(amount=price.amount, currency_code=price.currency_code),
        quantities=records.LineQuantities(
            ordered=item.quantity,
            cancelled=min(max(cancelled, 0), item.quantity),
            shipped=shipped,
            delivered=units.delivered[item.id],
            returned=returned,
        ),
    )


def _fulfillment_order(fo: wire.FulfillmentOrder) -> records.FulfillmentOrder:
    place = fo.assigned_location
    method = fo.delivery_method or wire.DeliveryMethod(
        method_type=DeliveryMethodType.SHIPPING.value
    )
    return records.FulfillmentOrder(
        id=our_id(fo.id),
        location=records.Location(
            id="" if place.location is None else our_id(place.location.id),
            name=place.name,
            country_code=place.country_code,
        ),
        status=FULFILLMENT_ORDER_STATUS.read(fo.status),
        holds=[
            records.FulfillmentHold(
                reason=HOLD_REASON.read(hold.reason), note=hold.reason_notes, held_at=fo.updated_at
            )
            for hold in fo.fulfillment_holds
        ],
        delivery_method=records.DeliveryMethod(
            method_type=DELIVERY_METHOD_TYPE.read(method.method_type),
            service_name=method.presented_name or "",
            min_delivery_at=method.min_delivery_date_time,
            max_delivery_at=method.max_delivery_date_time,
        ),
        lines=[
            records.LineQuantity(line_id=our_id(item.line_item.id), quantity=item.total_quantity)
            for item in fo.line_items.nodes
        ],
        updated_at=fo.updated_at,
    )


def _shipment(fulfillment: wire.Fulfillment) -> records.Shipment:
    tracking = fulfillment.tracking_info[0] if fulfillment.tracking_info else wire.TrackingInfo()
    orders = fulfillment.fulfillment_orders.nodes
    return records.Shipment(
        id=our_id(fulfillment.id),
        fulfillment_order_id=our_id(orders[0].id) if orders else "",
        carrier_code=carrier_code(tracking.company),
        tracking_number=tracking.number,
        lines=[
            records.LineQuantity(line_id=our_id(item.line_item.id), quantity=item.quantity or 0)
            for item in fulfillment.fulfillment_line_items.nodes
        ],
        shipped_at=fulfillment.created_at,
    )


# --- ours → Shopify (the simulated API) ----------------------------------------------


def shopify_from_order(order: records.Order) -> wire.Order:
    """Shopify's shape of our ``order``: ``order_from_shopify`` gives it back (see the
    module docstring for the two fields that hold only as the seed's do)."""
    order_gid = shopify_gid("Order", order.id)
    delivered = _delivered_shipments(order)
    pickups = {
        fo.id
        for fo in order.fulfillment_orders
        if fo.delivery_method.method_type is DeliveryMethodType.PICK_UP
    }
    return wire.Order(
        id=order_gid,
        legacy_resource_id=parse_gid(order_gid)[1],
        name=f"#{order.number}",
        source_name=order.account_id,
        email=order.customer.email or None,
        customer=_shopify_customer(order.customer),
        shipping_address=_shopify_address(order.shipping_address),
        display_financial_status=FINANCIAL_STATUS.write(order.financial_status),
        display_fulfillment_status=FULFILLMENT_STATUS.write(order.fulfillment_status),
        currency_code=order.currency_code,
        created_at=order.placed_at,
        updated_at=order.updated_at,
        cancelled_at=order.cancelled_at,
        cancel_reason=None
        if order.cancel_reason is None
        else CANCEL_REASON.write(order.cancel_reason),
        return_status=RETURN_STATUS.write(order.return_status),
        line_items=wire.one_page([_shopify_line(line) for line in order.lines]),
        fulfillment_orders=wire.one_page(
            [_shopify_fulfillment_order(fo, order.shipments) for fo in order.fulfillment_orders]
        ),
        fulfillments=[
            _shopify_fulfillment(s, s.id in delivered, s.fulfillment_order_id in pickups)
            for s in order.shipments
        ],
        refunds=_shopify_refunds(order),
    )


def _ref(type_: str, value: str) -> wire.Ref:
    return wire.Ref(id=shopify_gid(type_, value))


def _shopify_customer(customer: records.Customer) -> wire.Customer | None:
    if not customer.id:  # a guest checkout
        return None
    return wire.Customer(
        id=shopify_gid("Customer", customer.id),
        display_name=customer.name,
        default_email_address=wire.EmailAddress(email_address=customer.email)
        if customer.email
        else None,
        default_phone_number=None
        if customer.phone is None
        else wire.PhoneNumber(phone_number=customer.phone),
    )


def _shopify_address(address: records.MailingAddress | None) -> wire.MailingAddress | None:
    if address is None:
        return None
    return wire.MailingAddress(
        name=address.name,
        address1=address.line1,
        address2=address.line2,
        city=address.city,
        province_code=address.region,
        zip=address.postal_code,
        country_code_v2=address.country_code,
        phone=address.phone,
    )


def _shopify_line(line: records.OrderLine) -> wire.LineItem:
    q = line.quantities
    return wire.LineItem(
        id=shopify_gid("LineItem", line.id),
        sku=line.sku or None,
        name=line.name,
        quantity=q.ordered,
        current_quantity=q.ordered - q.cancelled - q.returned,
        unfulfilled_quantity=max(q.ordered - q.cancelled - q.shipped, 0),
        original_unit_price_set=wire.MoneyBag(
            shop_money=_money(line.unit_price), presentment_money=_money(line.unit_price)
        ),
    )


def _money(money: records.Money) -> wire.MoneyV2:
    return wire.MoneyV2(amount=money.amount, currency_code=money.currency_code)


def _shopify_fulfillment_order(
    fo: records.FulfillmentOrder, shipments: Sequence[records.Shipment]
) -> wire.FulfillmentOrder:
    shipped = Counter[str]()
    for shipment in shipments:
        if shipment.fulfillment_order_id == fo.id:
            shipped.update({part.line_id: part.quantity for part in shipment.lines})
    method = fo.delivery_method
    return wire.FulfillmentOrder(
        id=shopify_gid("FulfillmentOrder", fo.id),
        status=FULFILLMENT_ORDER_STATUS.write(fo.status),
        assigned_location=wire.AssignedLocation(
            name=fo.location.name,
            country_code=fo.location.country_code,
            location=_ref("Location", fo.location.id) if fo.location.id else None,
        ),
        delivery_method=wire.DeliveryMethod(
            method_type=DELIVERY_METHOD_TYPE.write(method.method_type),
            presented_name=method.service_name or None,
            min_delivery_date_time=method.min_delivery_at,
            max_delivery_date_time=method.max_delivery_at,
        ),
        fulfillment_holds=[
            wire.FulfillmentHold(reason=HOLD_REASON.write(hold.reason), reason_notes=hold.note)
            for hold in fo.holds
        ],
        line_items=wire.one_page(
            [
                wire.FulfillmentOrderLineItem(
                    line_item=_ref("LineItem", part.line_id),
                    total_quantity=part.quantity,
                    remaining_quantity=max(part.quantity - shipped[part.line_id], 0),
                )
                for part in fo.lines
            ]
        ),
        updated_at=fo.updated_at,
    )


def _delivered_shipments(order: records.Order) -> set[str]:
    """Ids of the shipments to show delivered: in order, each whose every line still
    has that many delivered units left to account for."""
    left = {line.id: line.quantities.delivered for line in order.lines}
    delivered: set[str] = set()
    for shipment in order.shipments:
        if shipment.lines and all(left.get(p.line_id, 0) >= p.quantity for p in shipment.lines):
            for part in shipment.lines:
                left[part.line_id] -= part.quantity
            delivered.add(shipment.id)
    return delivered


def _shopify_fulfillment(
    shipment: records.Shipment, delivered: bool, pickup: bool
) -> wire.Fulfillment:
    company = tracking_company(shipment.carrier_code)
    tracked = company is not None or shipment.tracking_number is not None
    display = ("PICKED_UP" if pickup else "DELIVERED") if delivered else SHIPPED_DISPLAY
    return wire.Fulfillment(
        id=shopify_gid("Fulfillment", shipment.id),
        status="SUCCESS",
        display_status=display,
        created_at=shipment.shipped_at,
        tracking_info=[wire.TrackingInfo(company=company, number=shipment.tracking_number)]
        if tracked
        else [],
        fulfillment_line_items=wire.one_page(
            [
                wire.FulfillmentLineItem(
                    line_item=_ref("LineItem", part.line_id), quantity=part.quantity
                )
                for part in shipment.lines
            ]
        ),
        fulfillment_orders=wire.one_page(
            [_ref("FulfillmentOrder", shipment.fulfillment_order_id)]
            if shipment.fulfillment_order_id
            else []
        ),
    )


def _shopify_refunds(order: records.Order) -> list[wire.Refund]:
    """One refund of the order's cancelled units (CANCEL) and returned ones (RETURN)."""
    items = [
        wire.RefundLineItem(line_item=_ref("LineItem", line.id), quantity=units, restock_type=kind)
        for line in order.lines
        for kind, units in (
            (CANCEL_RESTOCK, line.quantities.cancelled),
            (RETURN_RESTOCK, line.quantities.returned),
        )
        if units > 0
    ]
    if not items:
        return []
    legacy_id = parse_gid(shopify_gid("Order", order.id))[1]
    return [wire.Refund(id=gid("Refund", legacy_id), refund_line_items=wire.one_page(items))]
