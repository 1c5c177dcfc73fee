"""Make a messy carrier feed readable: parse times, drop duplicates, sort, and name
the sub-status. Pure functions over ``sources.records.Tracking``."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sources.records import Checkpoint, carrier_time


class ShipmentSubStatus(enum.Enum):
    """Why a shipment is where it is, from the carrier's raw subtag (AfterShip codes)."""

    CUSTOMS_DELAY = "CUSTOMS_DELAY"
    UNFORESEEN_DELAY = "UNFORESEEN_DELAY"
    WEATHER_DELAY = "WEATHER_DELAY"
    HELD_FOR_PAYMENT = "HELD_FOR_PAYMENT"
    INCORRECT_ADDRESS = "INCORRECT_ADDRESS"
    CUSTOMER_MOVED = "CUSTOMER_MOVED"
    REFUSED = "REFUSED"
    NOT_COLLECTED = "NOT_COLLECTED"
    DAMAGED = "DAMAGED"
    LOST = "LOST"
    RETURNING_TO_SENDER = "RETURNING_TO_SENDER"
    RETURNED_TO_SENDER = "RETURNED_TO_SENDER"
    FORWARDED = "FORWARDED"
    ADDRESSEE_NOT_AVAILABLE = "ADDRESSEE_NOT_AVAILABLE"
    BUSINESS_CLOSED = "BUSINESS_CLOSED"
    OTHER = "OTHER"


SUB_STATUS_BY_SUBTAG = {  # the AfterShip subtags the gateway names (docs/vocabulary.md)
    "Exception_002": ShipmentSubStatus.CUSTOMER_MOVED,
    "Exception_003": ShipmentSubStatus.REFUSED,
    "Exception_004": ShipmentSubStatus.CUSTOMS_DELAY,
    "Exception_005": ShipmentSubStatus.UNFORESEEN_DELAY,
    "Exception_006": ShipmentSubStatus.HELD_FOR_PAYMENT,
    "Exception_007": ShipmentSubStatus.INCORRECT_ADDRESS,
    "Exception_008": ShipmentSubStatus.NOT_COLLECTED,
    "Exception_010": ShipmentSubStatus.RETURNING_TO_SENDER,
    "Exception_011": ShipmentSubStatus.RETURNED_TO_SENDER,
    "Exception_012": ShipmentSubStatus.DAMAGED,
    "Exception_013": ShipmentSubStatus.LOST,
    "InTransit_009": ShipmentSubStatus.FORWARDED,
    # AttemptFail_001 is a failed attempt for a reason the carrier did not give
    "AttemptFail_002": ShipmentSubStatus.ADDRESSEE_NOT_AVAILABLE,
    "AttemptFail_003": ShipmentSubStatus.BUSINESS_CLOSED,
}


# What the subtag leaves open: a message that mentions weather then says why.
_WEATHER_MAY_NAME = frozenset({None, ShipmentSubStatus.OTHER, ShipmentSubStatus.UNFORESEEN_DELAY})


def sub_status(subtag: str | None, message: str | None = None) -> ShipmentSubStatus | None:
    """The named reason behind a raw subtag and message.

    The subtag decides first: ``None`` for ordinary progress (``InTransit_003``,
    ``Delivered_001``…), ``OTHER`` for an exception the table does not name. Only where
    it names nothing more specific (no subtag, ordinary progress, ``OTHER`` or an
    unforeseen delay) does a message mentioning weather make it ``WEATHER_DELAY``: a
    parcel lost, damaged or misaddressed in a storm is lost, damaged or misaddressed.
    """
    named = None if subtag is None else SUB_STATUS_BY_SUBTAG.get(subtag)
    if named is None and subtag is not None and subtag.startswith("Exception"):
        named = ShipmentSubStatus.OTHER
    if named in _WEATHER_MAY_NAME and message and "WEATHER" in message.upper():
        return ShipmentSubStatus.WEATHER_DELAY
    return named


@dataclass(frozen=True, slots=True)
class TimedCheckpoint:
    """A checkpoint at its time. A date-only one happened at some moment of its day, so
    it sorts at the day's start but spans the day: compare two checkpoints with
    :meth:`follows` or :meth:`may_follow`, not by ``occurred_at`` alone."""

    occurred_at: datetime  # the earliest it can have happened
    date_only: bool  # the carrier gave a day, not a time: occurred_at is that day's midnight UTC
    checkpoint: Checkpoint

    @property
    def latest_at(self) -> datetime:
        """The latest it can have happened: a date-only checkpoint's day's end."""
        return self.occurred_at + _DAY if self.date_only else self.occurred_at

    def follows(self, other: TimedCheckpoint) -> bool:
        """Whether this surely happened after ``other``, whichever moments of their
        days two date-only checkpoints stand for."""
        return self.occurred_at > other.occurred_at and self.occurred_at >= other.latest_at

    def may_follow(self, other: TimedCheckpoint) -> bool:
        """Whether this can have happened after ``other``: surely, or on a day they share."""
        return self.latest_at > other.occurred_at


_DAY = timedelta(days=1)


def in_time_order(checkpoints: list[Checkpoint]) -> list[TimedCheckpoint]:
    """Checkpoints in time order with exact duplicates removed.

    Unparsable times are dropped rather than failing the whole tracking record.
    """
    seen: set[Checkpoint] = set()  # the same in every field: two scans at two hubs are two
    timed: list[TimedCheckpoint] = []
    for checkpoint in checkpoints:
        if checkpoint in seen:
            continue
        seen.add(checkpoint)
        try:
            moment, date_only = carrier_time(checkpoint.time)
        except ValueError:
            continue
        timed.append(TimedCheckpoint(moment, date_only, checkpoint))
    timed.sort(key=lambda item: item.occurred_at)
    return timed
