"""AfterShip's words onto ours, and back (for the simulated AfterShip API).

Our carrier vocabulary follows AfterShip's delivery statuses (tags) and sub-statuses
(subtags), so the mapping is small (docs/vocabulary.md, "Carrier tracking"):

- a tag is one status, except ``Exception``, whose subtags ``Exception_010``
  (returning) and ``Exception_011`` (returned) are statuses of their own; an
  ``Exception`` without a subtag is a plain EXCEPTION; a tag AfterShip may add later
  is NO_INFO (the gateway claims nothing it does not know);
- a failed attempt is the tag ``AttemptFail`` (subtags ``AttemptFail_001`` no reason
  given, ``_002`` addressee not available, ``_003`` business closed);
- checkpoint times stay as the carrier sent them (a date only, or a time without an
  offset, is kept as is: the graph orders and reads them);
- countries are ISO 3166-1 alpha-3 at AfterShip and alpha-2 everywhere else;
- AfterShip has no "carrier's latest message" on a tracking: it is the message of the
  latest checkpoint with the tracking's own tag and subtag (the one that set them);
- a time without an offset (``first_attempted_at`` may be one) is read as UTC; an
  estimate given as a date only spans that whole day in UTC;
- ``order_promised_delivery_date`` is a date without a time zone: it becomes the end
  of that day in UTC. A promise the native carrier holds at another instant (the
  seeded data set's are all the end of a UTC day) shows differently over AfterShip:
  the one field where the two can differ (docs/adapters.md).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import iso3166

from sources.adapters.aftership import wire
from sources.records import (
    Checkpoint,
    CheckpointLocation,
    DeliveryWindow,
    ShipmentStatus,
    Tracking,
    carrier_time,
)

STATUS_BY_TAG: dict[str, ShipmentStatus] = {
    "Pending": ShipmentStatus.NO_INFO,
    "InfoReceived": ShipmentStatus.LABEL_CREATED,
    "InTransit": ShipmentStatus.IN_TRANSIT,
    "OutForDelivery": ShipmentStatus.OUT_FOR_DELIVERY,
    "AvailableForPickup": ShipmentStatus.READY_FOR_PICKUP,
    "AttemptFail": ShipmentStatus.DELIVERY_ATTEMPTED,
    "Delivered": ShipmentStatus.DELIVERED,
    "Exception": ShipmentStatus.EXCEPTION,
    "Expired": ShipmentStatus.TRACKING_EXPIRED,
}
STATUS_BY_SUBTAG: dict[str, ShipmentStatus] = {
    "Exception_010": ShipmentStatus.RETURNING_TO_SENDER,
    "Exception_011": ShipmentStatus.RETURNED_TO_SENDER,
}
UNKNOWN_TAG_STATUS = ShipmentStatus.NO_INFO
_END_OF_DAY = time(23, 59, 59, tzinfo=UTC)


def status_of(tag: str, subtag: str | None) -> ShipmentStatus:
    """Our status for AfterShip's ``tag`` and ``subtag``."""
    if subtag is not None and subtag in STATUS_BY_SUBTAG:
        return STATUS_BY_SUBTAG[subtag]
    return STATUS_BY_TAG.get(tag, UNKNOWN_TAG_STATUS)


def tracking_from_aftership(tracking: wire.Tracking) -> Tracking:
    """Our record of AfterShip's ``tracking``; raises ``ValueError`` on a time that is
    no ISO 8601 date or date-time (the record is then unreadable, like a bad one from
    any source)."""
    return Tracking(
        tracking_number=tracking.tracking_number,
        carrier_code=tracking.slug,
        status=status_of(tracking.tag, tracking.subtag),
        tag=tracking.tag,
        subtag=tracking.subtag,
        message=_latest_message(tracking),
        checkpoints=[_checkpoint(c) for c in tracking.checkpoints],
        first_estimated_delivery=_window(tracking.first_estimated_delivery),
        latest_estimated_delivery=_window(tracking.latest_estimated_delivery),
        promised_delivery_date=_end_of(tracking.order_promised_delivery_date),
        first_attempted_at=_instant(tracking.first_attempted_at),
        signed_by=tracking.signed_by,
        updated_at=_required_instant(tracking.updated_at),
    )


def aftership_from_tracking(tracking: Tracking, *, estimate_source: str) -> wire.Tracking:
    """AfterShip's shape of our ``tracking`` (the simulated AfterShip API serves it);
    ``estimate_source`` names whose estimates they are ("Carrier EDD" …)."""
    return wire.Tracking(
        tracking_number=tracking.tracking_number,
        slug=tracking.carrier_code,
        tag=tracking.tag,
        subtag=tracking.subtag,
        checkpoints=[_aftership_checkpoint(c) for c in tracking.checkpoints],
        first_estimated_delivery=_estimate(tracking.first_estimated_delivery, estimate_source),
        latest_estimated_delivery=_estimate(tracking.latest_estimated_delivery, estimate_source),
        order_promised_delivery_date=(
            None
            if tracking.promised_delivery_date is None
            else tracking.promised_delivery_date.date().isoformat()
        ),
        first_attempted_at=_text(tracking.first_attempted_at),
        signed_by=tracking.signed_by,
        updated_at=_utc_text(tracking.updated_at),
    )


def alpha2(alpha3: str | None) -> str | None:
    """The alpha-2 code of an ISO 3166-1 alpha-3 one; None for none or an unknown one."""
    country = iso3166.countries_by_alpha3.get((alpha3 or "").upper())
    return None if country is None else country.alpha2


def alpha3(alpha2_code: str | None) -> str | None:
    country = iso3166.countries_by_alpha2.get((alpha2_code or "").upper())
    return None if country is None else country.alpha3


def _checkpoint(checkpoint: wire.Checkpoint) -> Checkpoint:
    return Checkpoint(
        time=checkpoint.checkpoint_time,
        status=status_of(checkpoint.tag, checkpoint.subtag),
        tag=checkpoint.tag,
        subtag=checkpoint.subtag,
        message=checkpoint.message or "",
        location=_location(checkpoint),
    )


def _location(checkpoint: wire.Checkpoint) -> CheckpointLocation | None:
    country = alpha2(checkpoint.country_iso3)
    parts = (checkpoint.city, checkpoint.state, checkpoint.zip, country)
    if any(part is not None for part in parts):
        return CheckpointLocation(
            city=checkpoint.city,
            region=checkpoint.state,
            postal_code=checkpoint.zip,
            country_code=country,
        )
    if checkpoint.location:  # only the carrier's free text: the best we have is a city
        return CheckpointLocation(city=checkpoint.location)
    return None


def _aftership_checkpoint(checkpoint: Checkpoint) -> wire.Checkpoint:
    place = checkpoint.location or CheckpointLocation()
    return wire.Checkpoint(
        checkpoint_time=checkpoint.time,
        tag=checkpoint.tag,
        subtag=checkpoint.subtag,
        message=checkpoint.message,
        location=", ".join(p for p in (place.city, place.region, place.postal_code) if p) or None,
        city=place.city,
        state=place.region,
        zip=place.postal_code,
        country_iso3=alpha3(place.country_code),
    )


def _latest_message(tracking: wire.Tracking) -> str | None:
    """The message of the latest checkpoint that set the tracking's tag and subtag (any
    latest one if none did); None without checkpoints."""
    own = [c for c in tracking.checkpoints if (c.tag, c.subtag) == (tracking.tag, tracking.subtag)]
    candidates = own or tracking.checkpoints
    if not candidates:
        return None
    ordered = sorted(enumerate(candidates), key=lambda pair: (_sort_key(pair[1]), pair[0]))
    return ordered[-1][1].message


def _sort_key(checkpoint: wire.Checkpoint) -> datetime:
    """When the checkpoint happened, for ordering only: a date is its day's start, an
    unreadable time sorts first."""
    try:
        return _instant(checkpoint.checkpoint_time) or datetime.min.replace(tzinfo=UTC)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def _window(estimate: wire.EstimatedDelivery | None) -> DeliveryWindow | None:
    if estimate is None:
        return None
    if estimate.datetime_min is not None or estimate.datetime_max is not None:
        earliest = _instant(estimate.datetime_min or estimate.datetime_max)
        latest = _end_of(estimate.datetime_max or estimate.datetime_min)
    else:
        earliest, latest = _instant(estimate.datetime), _end_of(estimate.datetime)
    if earliest is None or latest is None:
        return None
    return DeliveryWindow(earliest=earliest, latest=latest)


def _estimate(window: DeliveryWindow | None, source: str) -> wire.EstimatedDelivery | None:
    if window is None:
        return None
    if window.earliest == window.latest:
        return wire.EstimatedDelivery(type="specific", source=source, datetime=_text(window.latest))
    return wire.EstimatedDelivery(
        type="range",
        source=source,
        datetime_min=_text(window.earliest),
        datetime_max=_text(window.latest),
    )


def _instant(text: str | None) -> datetime | None:
    """An ISO 8601 date-time (UTC when it has no offset) or date (its start, UTC)."""
    return None if text is None else carrier_time(text)[0]


def _end_of(text: str | None) -> datetime | None:
    """Like :func:`_instant`, but a date alone is the end of that day."""
    if text is not None and len(text) == 10:
        return datetime.combine(date.fromisoformat(text), _END_OF_DAY)
    return _instant(text)


def _required_instant(text: str) -> datetime:
    moment = _instant(text)
    assert moment is not None  # text is not None
    return moment


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _utc_text(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:mm:ssZ`` as AfterShip writes its own times (fractions kept)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
