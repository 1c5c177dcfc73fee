"""Builders for the exception-rule tests, on top of tests/support/builders.py.

Times are relative to ``NOW`` (Friday 2026-11-20 12:00 UTC); ``at(days)`` is NOW plus days.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from msgspec.structs import replace

from domain.queue_entries import QueueEntry
from sim.seed import Dataset
from sources.records import (
    Checkpoint,
    CheckpointLocation,
    DeliveryWindow,
    FinancialStatus,
    FulfillmentOrderStatus,
    HoldReason,
    InventoryItem,
    InventoryLevel,
    MailingAddress,
    Order,
    OrderLine,
    Shipment,
    ShipmentStatus,
    Ticket,
    TicketChannel,
    TicketPriority,
    TicketStatus,
    TicketType,
    Tracking,
    carrier_time,
)
from tests.support.builders import NOW, fulfillment, line, order, shipment

T1 = "1Z0000000000000001"
LOCATION = "loc-reno"  # where tests.support.builders.fulfillment ships from (US)


def at(days: float = 0, hours: float = 0) -> datetime:
    return NOW + timedelta(days=days, hours=hours)


def cp(
    when: datetime | str,
    status: ShipmentStatus = ShipmentStatus.IN_TRANSIT,
    subtag: str | None = None,
    message: str | None = None,
    country: str = "US",
) -> Checkpoint:
    """A checkpoint; ``when`` as a datetime, or a raw carrier string such as a bare date."""
    return Checkpoint(
        time=when if isinstance(when, str) else when.isoformat(),
        status=status,
        tag=status.value,
        subtag=subtag,
        message=message or status.value,
        location=CheckpointLocation(country_code=country),
    )


def carrier(*checkpoints: Checkpoint, estimate_latest: datetime | None = None) -> Tracking:
    """T1's carrier record whose current status, subtag and message are the last checkpoint's."""
    last = checkpoints[-1]
    window = None
    if estimate_latest is not None:
        window = DeliveryWindow(
            earliest=estimate_latest - timedelta(hours=8), latest=estimate_latest
        )
    return Tracking(
        tracking_number=T1,
        carrier_code="ups",
        status=last.status,
        tag=last.tag,
        subtag=last.subtag,
        message=last.message,
        checkpoints=list(checkpoints),
        latest_estimated_delivery=window,
        updated_at=max(carrier_time(c.time)[0] for c in checkpoints),
    )


def parcel(*parts: tuple[str, int], fo: str = "fo-l1", shipped_at: datetime = NOW) -> Shipment:
    return replace(shipment(T1, *parts), fulfillment_order_id=fo, shipped_at=shipped_at)


def shipped_order(
    *, delivered: int = 0, shipped_at: datetime = NOW, ship_to: str | None = None
) -> Order:
    """One line, fully shipped in T1 from a closed fulfillment order promised for NOW+3..5 days."""
    shipped = order(
        [line(shipped=1, delivered=delivered)],
        [fulfillment(FulfillmentOrderStatus.CLOSED)],
        [parcel(("l1", 1), shipped_at=shipped_at)],
    )
    if ship_to is None:
        return shipped
    address = MailingAddress(
        name="Ada", line1="1 Main St", city="Toronto", postal_code="M5V", country_code=ship_to
    )
    return replace(shipped, shipping_address=address)


def unshipped_order(
    status: FulfillmentOrderStatus = FulfillmentOrderStatus.OPEN,
    *holds: HoldReason,
    financial: FinancialStatus = FinancialStatus.PAID,
    lines: list[OrderLine] | None = None,
) -> Order:
    """Placed at NOW-2d, nothing shipped; holds are held at NOW."""
    lines = lines or [line()]
    ids = tuple(item.id for item in lines)
    unshipped = order(lines, [fulfillment(status, *holds, lines=ids)])
    return replace(unshipped, financial_status=financial)


def stock(
    available: int, *, sku: str = "SKU-l1", incoming_at: datetime | None = None
) -> dict[str, InventoryItem | None]:
    level = InventoryLevel(
        location_id=LOCATION,
        available=available,
        committed=1,
        reserved=0,
        on_hand=max(available + 1, 0),
        incoming=40 if incoming_at else 0,
        incoming_expected_at=incoming_at,
        as_of=NOW,
    )
    return {sku: InventoryItem(sku=sku, levels=[level])}


def ticket(status: TicketStatus, updated_at: datetime = NOW, ticket_id: str = "52001") -> Ticket:
    return Ticket(
        id=ticket_id,
        order_id="o1",
        status=status,
        priority=TicketPriority.NORMAL,
        type=TicketType.QUESTION,
        channel=TicketChannel.EMAIL,
        subject="Where is my order #1001?",
        created_at=updated_at - timedelta(hours=1),
        updated_at=updated_at,
        url=f"https://support.example.com/tickets/{ticket_id}",
    )


def open_line_with_stock(data: Dataset, queued: dict[str, QueueEntry]) -> tuple[Order, str, str]:
    """An order a warehouse is working on, not backordered, with a line still to ship
    whose SKU its warehouse has in stock (and some committed, so it can be oversold)."""
    working = {FulfillmentOrderStatus.OPEN, FulfillmentOrderStatus.IN_PROGRESS}
    for candidate in data.orders.values():
        entry = queued.get(candidate.id)  # queued or not: the index knows its open SKUs
        if entry is not None and any(f.code.value == "BACKORDERED" for f in entry.exceptions):
            continue
        skus = {line.id: line.sku for line in candidate.lines}
        for fo in candidate.fulfillment_orders:
            if fo.status not in working or candidate.shipments:
                continue
            for part in fo.lines:
                levels = data.inventory[skus[part.line_id]].levels
                if any(
                    lv.location_id == fo.location.id and lv.on_hand > lv.available >= 0
                    for lv in levels
                ):
                    return candidate, skus[part.line_id], fo.location.id
    raise AssertionError("no order waiting for stock it has")
