"""Simulated carrier tracking aggregator (AfterShip-like): trackings by number; admin advance."""

from __future__ import annotations

from sim.changes.carrier import AdvanceTracking, advance_tracking
from sim.routes import Admin, Source, batch, id_list, path_param
from sources.events import EventType
from sources.records import Tracking, TrackingBatch

SOURCE = Source(
    name="carrier",
    title="OrderGraph simulated carrier tracking",
    description="Normalised tracking with raw AfterShip-style tags and checkpoints.",
    routes=(
        batch(
            "/trackings",
            id_list("numbers", "tracking numbers"),
            lambda dataset, number: dataset.trackings.get(number),
            normalize=str.upper,  # tracking numbers are case-insensitive
            operation_id="getTrackings",
            summary="Trackings by tracking number",
            note="Checkpoints are as the carrier sent them: possibly out of order, duplicated "
            "or date-only.",
            response=TrackingBatch,
        ),
        Admin(
            path="/admin/trackings/{number}/advance",
            operation_id="advanceTracking",
            summary="Advance a tracking",
            description="Appends a checkpoint and updates status, tag, subtag, message and "
            "updatedAt. Without a body: the next milestone (LABEL_CREATED → IN_TRANSIT → "
            "OUT_FOR_DELIVERY → DELIVERED, signed; DELIVERY_ATTEMPTED → OUT_FOR_DELIVERY; "
            "EXCEPTION → IN_TRANSIT). With status: that status (subtag and message "
            "default to the carrier's usual ones). Answers the tracking.",
            key=path_param("number", "Tracking number (case-insensitive)."),
            apply=advance_tracking,
            body=AdvanceTracking,
            response=Tracking,
            event=EventType.TRACKING_UPDATED,
            conflict="The tracking has no next milestone: pass a status (code NO_NEXT_MILESTONE).",
        ),
    ),
)
