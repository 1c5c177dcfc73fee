"""An order draft turned into the OMS's frozen :class:`~sources.records.Order`."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import msgspec

from domain.progress import fulfillment_status
from sim import catalog as cat
from sim.seed.drafts import FoDraft, OrderDraft
from sim.seed.draw import Draw
from sources.records import (
    DeliveryMethod,
    DeliveryMethodType,
    FulfillmentHold,
    FulfillmentOrder,
    FulfillmentStatus,
    LineQuantities,
    LineQuantity,
    Money,
    Order,
    OrderLine,
    ReturnStatus,
    Shipment,
)

# Delivered orders with nothing back yet: the share whose return is under way or failed.
_OPEN_RETURNS = (
    (ReturnStatus.RETURN_REQUESTED, 0.05),
    (ReturnStatus.IN_PROGRESS, 0.03),
    (ReturnStatus.RETURN_FAILED, 0.01),
)


def order_record(draw: Draw, order_id: str, number: str, draft: OrderDraft) -> Order:
    cust = draft.cust
    lines = [
        OrderLine(
            id=line.id,
            sku=line.sku,
            name=line.name,
            unit_price=Money(amount=_amount(line.cents), currency_code=draft.currency),
            quantities=LineQuantities(
                ordered=line.ordered,
                cancelled=line.cancelled,
                shipped=line.shipped,
                delivered=line.delivered,
                returned=line.returned,
            ),
        )
        for line in draft.lines
    ]
    fos, shipments, times = [], [], [draft.placed_at, *draft.times]
    for fo in draft.fos:
        updated = _fo_updated(draw, fo, draft)
        times.append(updated)
        holds = []
        if fo.hold is not None and fo.held_at is not None:
            holds.append(FulfillmentHold(reason=fo.hold, note=fo.hold_note, held_at=fo.held_at))
        method = DeliveryMethod(
            method_type=fo.method,
            service_name=fo.service[0],
            min_delivery_at=fo.min_at,
            max_delivery_at=fo.max_at,
        )
        fos.append(
            FulfillmentOrder(
                id=fo.id,
                location=cat.LOCATIONS[fo.location_id],
                status=fo.status,
                holds=holds,
                delivery_method=method,
                lines=[LineQuantity(line_id=k, quantity=v) for k, v in fo.lines.items()],
                updated_at=updated,
            )
        )
        for p in fo.parcels:
            shipments.append(
                Shipment(
                    id=p.id,
                    fulfillment_order_id=fo.id,
                    carrier_code=p.carrier,
                    tracking_number=p.number,
                    lines=[LineQuantity(line_id=k, quantity=v) for k, v in p.lines.items()],
                    shipped_at=p.shipped_at,
                )
            )
    if draft.cancelled_at is not None:
        times.append(draft.cancelled_at)
    address = cust.address
    if draft.bad_address:  # drop the street number
        number_first = cust.group != "EU"
        street = address.line1.split(" ", 1)[1] if number_first else address.line1.rsplit(" ", 1)[0]
        address = msgspec.structs.replace(address, line1=street, line2=None)
    pickup_only = all(fo.method is DeliveryMethodType.PICK_UP for fo in draft.fos)
    return Order(
        id=order_id,
        number=number,
        account_id=cust.account_id,
        customer=cust.customer,
        shipping_address=None if pickup_only else address,
        financial_status=draft.financial,
        fulfillment_status=_fulfillment_status(draft),
        currency_code=draft.currency,
        placed_at=draft.placed_at,
        updated_at=max(times),
        lines=lines,
        fulfillment_orders=fos,
        shipments=shipments,
        cancelled_at=draft.cancelled_at,
        cancel_reason=draft.cancel_reason,
        return_status=_return_status(draw, order_id, draft),
    )


def _fo_updated(draw: Draw, fo: FoDraft, draft: OrderDraft) -> datetime:
    if fo.parcels:
        return max(p.oms_delivered_at or p.shipped_at for p in fo.parcels)
    if fo.held_at is not None:
        return fo.held_at
    if draft.cancelled_at is not None:
        return draft.cancelled_at
    age = (draw.now - draft.placed_at).total_seconds()
    offset = min(age * 0.5, draw.r.uniform(60, 3600))
    return (draft.placed_at + timedelta(seconds=offset)).replace(microsecond=0)


def _return_status(draw: Draw, order_id: str, draft: OrderDraft) -> ReturnStatus:
    """RETURNED once units came back; a few delivered orders have a return under way
    or failed. Drawn from the order's own generator, so the main sequence (and every
    other record) is the same with or without it."""
    if any(line.returned > 0 for line in draft.lines):
        return ReturnStatus.RETURNED
    if not any(line.delivered > 0 for line in draft.lines):
        return ReturnStatus.NO_RETURN
    roll = random.Random(f"{draw.seed}/{order_id}/return").random()
    for status, share in _OPEN_RETURNS:
        if roll < share:
            return status
        roll -= share
    return ReturnStatus.NO_RETURN


def _amount(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _fulfillment_status(draft: OrderDraft) -> FulfillmentStatus:
    """The order's fulfillment status, derived from its line quantities and FOs by the
    same rule the simulated OMS applies after a change (domain/progress.py)."""
    if draft.cancelled_at is not None:
        return FulfillmentStatus.UNFULFILLED
    return fulfillment_status(
        sum(line.active for line in draft.lines),
        sum(line.shipped for line in draft.lines),
        (fo.status for fo in draft.fos),
    )
