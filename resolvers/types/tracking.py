"""Where a parcel is, from the carrier source."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.access import requires
from resolvers.status import shipment_milestone
from resolvers.tracking import sub_status, timeline
from resolvers.types.common import DateWindow
from resolvers.types.enums import ShipmentStatus, ShipmentSubStatus
from sources import records

_CARRIERS: dict[str, tuple[str, str]] = {
    "ups": ("UPS", "https://www.ups.com/track?tracknum={}"),
    "usps": ("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={}"),
    "fedex": ("FedEx", "https://www.fedex.com/fedextrack/?trknbr={}"),
    "dhl": ("DHL Express", "https://www.dhl.com/global-en/home/tracking.html?tracking-id={}"),
}


@strawberry.type
class Carrier:
    code: str
    name: str

    @classmethod
    def of(cls, code: str) -> Carrier:
        return cls(code=code, name=_CARRIERS.get(code, (code.upper(), ""))[0])


def tracking_url(carrier_code: str, tracking_number: str | None) -> str | None:
    template = _CARRIERS.get(carrier_code, ("", ""))[1]
    return template.format(tracking_number) if template and tracking_number else None


@strawberry.type
class TrackingLocation:
    city: str | None
    region: str | None
    postal_code: str | None
    country_code: str | None


@strawberry.type(description="One carrier checkpoint.")
class TrackingEvent:
    occurred_at: datetime
    date_only: bool = strawberry.field(
        description="The carrier gave only a date; `occurredAt` is that day's start (UTC)."
    )
    status: ShipmentStatus
    raw_tag: str
    raw_subtag: str | None
    message: str
    location: TrackingLocation | None


@strawberry.type(description="A shipment's tracking as the carrier reports it.")
class Tracking:
    status: ShipmentStatus = strawberry.field(description="The carrier's current status.")
    milestone: ShipmentStatus = strawberry.field(
        description=(
            "The most advanced milestone this shipment has reached: unlike `status`, "
            "late or out-of-order events never move it back."
        )
    )
    sub_status: ShipmentSubStatus | None
    raw_tag: str
    raw_subtag: str | None
    message: str | None
    last_event_at: datetime | None
    estimated_delivery: DateWindow | None = strawberry.field(
        description="The carrier's latest estimate."
    )
    first_estimated_delivery: DateWindow | None = strawberry.field(
        description="The carrier's first estimate, to show how far it has moved."
    )
    promised_date: datetime | None
    first_attempt_at: datetime | None
    signed_by: str | None = strawberry.field(
        description="Who signed for the parcel: a person's name, masked (null) without "
        "pii:read, and withheld from the carrier's messages too.",
        directives=requires("pii:read"),
    )
    updated_at: datetime
    events: list[TrackingEvent] = strawberry.field(
        description="Checkpoints in time order, duplicates removed."
    )

    @classmethod
    def from_record(cls, tracking: records.Tracking) -> Tracking:
        events = [
            TrackingEvent(
                occurred_at=item.occurred_at,
                date_only=item.date_only,
                status=item.checkpoint.status,
                raw_tag=item.checkpoint.tag,
                raw_subtag=item.checkpoint.subtag,
                message=item.checkpoint.message,
                location=_location(item.checkpoint.location),
            )
            for item in timeline(tracking.checkpoints)
        ]
        return cls(
            status=tracking.status,
            milestone=shipment_milestone(tracking),
            sub_status=sub_status(tracking.subtag, tracking.message),
            raw_tag=tracking.tag,
            raw_subtag=tracking.subtag,
            message=tracking.message,
            last_event_at=events[-1].occurred_at if events else None,
            estimated_delivery=DateWindow.from_record(tracking.latest_estimated_delivery),
            first_estimated_delivery=DateWindow.from_record(tracking.first_estimated_delivery),
            promised_date=tracking.promised_delivery_date,
            first_attempt_at=tracking.first_attempted_at,
            signed_by=tracking.signed_by,
            updated_at=tracking.updated_at,
            events=events,
        )


def _location(location: records.CheckpointLocation | None) -> TrackingLocation | None:
    if location is None:
        return None
    return TrackingLocation(
        city=location.city,
        region=location.region,
        postal_code=location.postal_code,
        country_code=location.country_code,
    )
