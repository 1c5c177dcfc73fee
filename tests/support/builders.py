"""Concise record builders for the pure-rule tests."""

from __future__ import annotations

from datetime import timedelta

from sources.records import (
    Checkpoint,
    Customer,
    DeliveryMethod,
    DeliveryMethodType,
    DeliveryWindow,
    FinancialStatus,
    FulfillmentHold,
    FulfillmentOrder,
    FulfillmentOrderStatus,
    FulfillmentStatus,
    HoldReason,
    LineQuantities,
    LineQuantity,
    Location,
    Money,
    Order,
    OrderLine,
    Shipment,
    ShipmentStatus,
    Tracking,
)
from tests.support.gateways import FIXED_NOW

# Noon of FIXED_NOW's day: tests/unit/test_timeline.py's literal checkpoint times are
# written against it.
NOW = FIXED_NOW - timedelta(hours=3)


def line(line_id: str = "l1", ordered: int = 1, **quantities: int) -> OrderLine:
    return OrderLine(
        id=line_id,
        sku=f"SKU-{line_id}",
        name=f"Item {line_id}",
        unit_price=Money(amount="10.00", currency_code="USD"),
        quantities=LineQuantities(ordered=ordered, **quantities),
    )


def fulfillment(
    status: FulfillmentOrderStatus = FulfillmentOrderStatus.OPEN,
    *holds: HoldReason,
    lines: tuple[str, ...] = ("l1",),
    promise_days: tuple[int, int] | None = (3, 5),
) -> FulfillmentOrder:
    return FulfillmentOrder(
        id=f"fo-{'-'.join(lines)}",
        location=Location(id="loc-reno", name="Reno DC", country_code="US"),
        status=status,
        holds=[FulfillmentHold(reason=reason, held_at=NOW) for reason in holds],
        delivery_method=DeliveryMethod(
            method_type=DeliveryMethodType.SHIPPING,
            service_name="Standard",
            min_delivery_at=NOW + timedelta(days=promise_days[0]) if promise_days else None,
            max_delivery_at=NOW + timedelta(days=promise_days[1]) if promise_days else None,
        ),
        lines=[LineQuantity(line_id=line_id, quantity=1) for line_id in lines],
        updated_at=NOW,
    )


def shipment(number: str | None, *parts: tuple[str, int], shipment_id: str = "") -> Shipment:
    return Shipment(
        id=shipment_id or f"sh-{number}",
        fulfillment_order_id="fo-l1",
        carrier_code="ups",
        tracking_number=number,
        lines=[LineQuantity(line_id=line_id, quantity=qty) for line_id, qty in parts],
        shipped_at=NOW,
    )


def order(
    lines: list[OrderLine],
    fulfillment_orders: list[FulfillmentOrder] | None = None,
    shipments: list[Shipment] | None = None,
    cancelled: bool = False,
) -> Order:
    return Order(
        id="o1",
        number="1001",
        account_id="acct_webshop",
        customer=Customer(id="c1", name="Ada Lovelace", email="ada@example.com"),
        financial_status=FinancialStatus.PAID,
        fulfillment_status=FulfillmentStatus.UNFULFILLED,
        currency_code="USD",
        placed_at=NOW - timedelta(days=2),
        updated_at=NOW,
        lines=lines,
        fulfillment_orders=fulfillment_orders or [fulfillment()],
        shipments=shipments or [],
        cancelled_at=NOW if cancelled else None,
    )


def tracking(
    number: str,
    status: ShipmentStatus,
    *checkpoints: tuple[str, ShipmentStatus],
    estimate_day: int | None = None,
) -> Tracking:
    window = None
    if estimate_day is not None:
        day = NOW + timedelta(days=estimate_day)
        window = DeliveryWindow(earliest=day, latest=day + timedelta(hours=8))
    return Tracking(
        tracking_number=number,
        carrier_code="ups",
        status=status,
        tag=status.value,
        checkpoints=[
            Checkpoint(time=time, status=cp_status, tag=cp_status.value, message=cp_status.value)
            for time, cp_status in checkpoints
        ],
        latest_estimated_delivery=window,
        updated_at=NOW,
    )
