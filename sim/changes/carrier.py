"""Carrier changes: a tracking moves on to its next milestone, or to a given status."""

from __future__ import annotations

import zlib
from datetime import datetime

from msgspec.structs import replace

from sim import catalog as cat
from sim.changes import NOT_FOUND, Body, Change, ChangeError, after
from sim.seed import Dataset
from sources.events import ChangeEvent, EventType
from sources.records import Checkpoint, ShipmentStatus

NO_NEXT_MILESTONE = "NO_NEXT_MILESTONE"
# current status -> catalog step an advance without an explicit status records
_NEXT_STEP = {
    ShipmentStatus.LABEL_CREATED: "pickup",
    ShipmentStatus.IN_TRANSIT: "ofd",
    ShipmentStatus.OUT_FOR_DELIVERY: "signed",
    ShipmentStatus.DELIVERY_ATTEMPTED: "ofd",
    ShipmentStatus.EXCEPTION: "depart",
}


class AdvanceTracking(Body, frozen=True, kw_only=True):
    """Without ``status`` the tracking moves to its next milestone."""

    status: ShipmentStatus | None = None
    subtag: str | None = None
    message: str | None = None


def advance_tracking(dataset: Dataset, number: str, body: AdvanceTracking, now: datetime) -> Change:
    """Append a checkpoint: the next milestone, or ``body.status`` when given."""
    tracking = dataset.trackings.get(number.upper())
    if tracking is None:
        raise ChangeError(404, NOT_FOUND, f"no tracking {number!r}")
    if body.status is not None:
        step = _explicit_step(body.status, body.subtag)
        if step is None:
            raise ChangeError(400, "BAD_REQUEST", f"status {body.status.value} cannot be set")
    else:
        step = _NEXT_STEP.get(tracking.status)
        if step is None:
            raise ChangeError(
                409,
                NO_NEXT_MILESTONE,
                f"tracking {tracking.tracking_number} is {tracking.status.value}: "
                "pass an explicit status",
            )
    status, tag, subtag = cat.STEPS[step]
    signer = cat.SIGNERS[zlib.crc32(tracking.tracking_number.encode()) % len(cat.SIGNERS)]
    message = body.message or cat.CARRIER_MESSAGES[tracking.carrier_code][step].format(
        carrier=cat.CARRIER_NAMES[tracking.carrier_code],
        signer=signer,
        point="PICKUP POINT",
        reason="RETURN REQUESTED",
    )
    at = after(tracking.updated_at, now)
    checkpoint = Checkpoint(
        time=at.isoformat(),
        status=status,
        tag=tag,
        subtag=body.subtag or subtag,
        message=message,
    )
    advanced = replace(
        tracking,
        status=status,
        tag=tag,
        subtag=checkpoint.subtag,
        message=message,
        checkpoints=[*tracking.checkpoints, checkpoint],
        signed_by=signer if step == "signed" else tracking.signed_by,
        first_attempted_at=tracking.first_attempted_at
        or (at if step in cat.ATTEMPT_STEPS else None),
        updated_at=at,
    )
    dataset.trackings[advanced.tracking_number] = advanced
    event = ChangeEvent(
        type=EventType.TRACKING_UPDATED, occurred_at=at, tracking_number=advanced.tracking_number
    )
    return advanced, event


def _explicit_step(status: ShipmentStatus, subtag: str | None) -> str | None:
    """The catalog step (tag, default subtag and message) recording ``status``: the one
    with ``subtag`` if there is one, else the status's first."""
    steps = [step for step, (s, _, _) in cat.STEPS.items() if s is status]
    return next((step for step in steps if cat.STEPS[step][2] == subtag), next(iter(steps), None))
