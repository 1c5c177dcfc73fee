"""Where a parcel is, from the carrier source."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain.carrier_events import TimedCheckpoint, in_time_order, sub_status
from domain.status import shipment_milestone
from resolvers.access import requires
from resolvers.types.common import DateWindow, built_on_read
from resolvers.types.enums import ShipmentStatus, ShipmentSubStatus
from sources import records

_CARRIERS: dict[str, tuple[str, str]] = {
    "ups": ("UPS", "https://www.ups.com/track?tracknum={}"),
    "usps": ("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={}"),
    "fedex": ("FedEx", "https://www.fedex.com/fedextrack/?trknbr={}"),
    "dhl": ("DHL Express", "https://www.dhl.com/global-en/home/tracking.html?tracking-id={}"),
}


@strawberry.type(description="The carrier of a shipment.")
class Carrier:
    code: str = strawberry.field(
        description='The carrier code the OMS records, e.g. "ups", "usps", "fedex", "dhl".'
    )
    name: str = strawberry.field(
        description="Display name, set by the gateway from the code (the code in capitals "
        "for a carrier it does not know)."
    )

    @classmethod
    def of(cls, code: str) -> Carrier:
        return cls(code=code, name=_CARRIERS.get(code, (code.upper(), ""))[0])


def tracking_url(carrier_code: str, tracking_number: str | None) -> str | None:
    template = _CARRIERS.get(carrier_code, ("", ""))[1]
    return template.format(tracking_number) if template and tracking_number else None


@strawberry.type(description="Where a carrier checkpoint happened, as the carrier gives it.")
class TrackingLocation:
    city: str | None = strawberry.field(description="City, if given.")
    region: str | None = strawberry.field(description="State or region, if given.")
    postal_code: str | None = strawberry.field(description="Postal code, if given.")
    country_code: str | None = strawberry.field(
        description="ISO 3166-1 alpha-2 country code, if given."
    )


@strawberry.type(description="One carrier checkpoint (carrier source).")
class TrackingEvent:
    occurred_at: datetime = strawberry.field(
        description="When it happened, in the checkpoint's local time with the offset the "
        "carrier gives (UTC when it gives none)."
    )
    date_only: bool = strawberry.field(
        description="The carrier gave only a date; `occurredAt` is that day's start (UTC)."
    )
    status: ShipmentStatus = strawberry.field(description="The checkpoint's normalised status.")
    raw_tag: str = strawberry.field(description='The carrier\'s raw tag, e.g. "InTransit".')
    raw_subtag: str | None = strawberry.field(
        description='The carrier\'s raw subtag, e.g. "InTransit_003", if any.'
    )
    message: str = strawberry.field(
        description="The carrier's message, as sent (often in capitals)."
    )
    location: TrackingLocation | None = strawberry.field(
        description="Where it happened; null when the carrier gives no place."
    )


def _events(tracking: Tracking) -> list[TrackingEvent]:
    return [
        TrackingEvent(
            occurred_at=item.occurred_at,
            date_only=item.date_only,
            status=item.checkpoint.status,
            raw_tag=item.checkpoint.tag,
            raw_subtag=item.checkpoint.subtag,
            message=item.checkpoint.message,
            location=_location(item.checkpoint.location),
        )
        for item in tracking.checkpoints
    ]


@built_on_read(
    milestone=lambda tracking: shipment_milestone(tracking.record),
    sub_status=lambda tracking: sub_status(tracking.record.subtag, tracking.record.message),
    last_event_at=lambda tracking: (
        tracking.checkpoints[-1].occurred_at if tracking.checkpoints else None
    ),
    estimated_delivery=lambda tracking: DateWindow.from_record(
        tracking.record.latest_estimated_delivery
    ),
    first_estimated_delivery=lambda tracking: DateWindow.from_record(
        tracking.record.first_estimated_delivery
    ),
    events=_events,
    checkpoints=lambda tracking: in_time_order(tracking.record.checkpoints),
)
@strawberry.type(
    description="A shipment's tracking as the carrier reports it (carrier source); times "
    "keep the carrier's offsets."
)
class Tracking:
    status: ShipmentStatus = strawberry.field(description="The carrier's current status.")
    milestone: ShipmentStatus = strawberry.field(
        description=(
            "The most advanced milestone this shipment has reached: unlike `status`, "
            "late or out-of-order events never move it back."
        )
    )
    sub_status: ShipmentSubStatus | None = strawberry.field(
        description="Why it is where it is, named by the gateway from the raw subtag and "
        "message; null for ordinary progress."
    )
    raw_tag: str = strawberry.field(description='The carrier\'s raw current tag, e.g. "InTransit".')
    raw_subtag: str | None = strawberry.field(
        description='The carrier\'s raw current subtag, e.g. "Exception_011", if any.'
    )
    message: str | None = strawberry.field(description="The carrier's latest message, if any.")
    last_event_at: datetime | None = strawberry.field(
        description="Time of the latest checkpoint in `events` (carrier's local time with "
        "its offset); null without checkpoints."
    )
    estimated_delivery: DateWindow | None = strawberry.field(
        description="The carrier's latest estimated delivery window, in the destination's "
        "local time; null when the carrier gives none."
    )
    first_estimated_delivery: DateWindow | None = strawberry.field(
        description="The carrier's first estimate, to show how far it has moved "
        "(destination's local time); null when the carrier gave none."
    )
    promised_date: datetime | None = strawberry.field(
        description="The order's promised delivery date as the carrier's record holds it, "
        "if any (with the offset the carrier gives)."
    )
    first_attempt_at: datetime | None = strawberry.field(
        description="When the carrier first tried to deliver (with the carrier's offset); "
        "null before any attempt."
    )
    signed_by: str | None = strawberry.field(
        description="Who signed for the parcel: a person's name, masked (null) without "
        "pii:read, and withheld from the carrier's messages too.",
        directives=requires("pii:read"),
    )
    updated_at: datetime = strawberry.field(
        description="When the carrier last updated this record (with the carrier's offset)."
    )
    events: list[TrackingEvent] = strawberry.field(
        description="Checkpoints in time order, exact duplicates and unreadable times removed "
        "by the gateway."
    )

    record: strawberry.Private[records.Tracking]
    checkpoints: strawberry.Private[list[TimedCheckpoint]]  # in time order, no duplicates

    def __init__(self, tracking: records.Tracking) -> None:
        self.record = tracking
        self.status = tracking.status
        self.raw_tag = tracking.tag
        self.raw_subtag = tracking.subtag
        self.message = tracking.message
        self.promised_date = tracking.promised_delivery_date
        self.first_attempt_at = tracking.first_attempted_at
        self.signed_by = tracking.signed_by
        self.updated_at = tracking.updated_at

    @classmethod
    def from_record(cls, tracking: records.Tracking) -> Tracking:
        """The tracking as a graph object; its events, milestone and estimates are
        worked out only when a query reads them. ``tracking`` is already masked for
        the caller (``order_facts.masked``)."""
        return cls(tracking)


def _location(location: records.CheckpointLocation | None) -> TrackingLocation | None:
    if location is None:
        return None
    return TrackingLocation(
        city=location.city,
        region=location.region,
        postal_code=location.postal_code,
        country_code=location.country_code,
    )
