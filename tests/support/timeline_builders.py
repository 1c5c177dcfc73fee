"""Builders the timeline and eligibility tests need beyond tests/support/builders.py."""

from __future__ import annotations

from datetime import datetime, timedelta

from sources.records import (
    Checkpoint,
    DeliveryWindow,
    ShipmentStatus,
    Ticket,
    TicketChannel,
    TicketPriority,
    TicketStatus,
    TicketType,
)
from tests.support.builders import NOW


def checkpoint(
    time: str, status: ShipmentStatus = ShipmentStatus.IN_TRANSIT, message: str = "SCAN"
) -> Checkpoint:
    return Checkpoint(time=time, status=status, tag=status.value, message=message)


def window(day: int) -> DeliveryWindow:
    """A 9:00 to 17:00 delivery window ``day`` days after NOW's midnight."""
    start = NOW.replace(hour=9) + timedelta(days=day)
    return DeliveryWindow(earliest=start, latest=start + timedelta(hours=8))


def ticket(
    ticket_id: str = "52001",
    status: TicketStatus = TicketStatus.OPEN,
    created_at: datetime = NOW,
    updated_at: datetime | None = None,
) -> Ticket:
    return Ticket(
        id=ticket_id,
        order_id="o1",
        status=status,
        priority=TicketPriority.NORMAL,
        type=TicketType.QUESTION,
        channel=TicketChannel.EMAIL,
        subject="Where is my order #1001?",
        created_at=created_at,
        updated_at=updated_at or created_at,
        url=f"https://support.example.com/tickets/{ticket_id}",
    )
