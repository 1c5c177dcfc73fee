"""What happened to an order: the merged timeline of the four sources, a page at a
time."""

from __future__ import annotations

import bisect
from datetime import datetime

import strawberry

from domain import timeline
from resolvers.relay import Cursors, bad_cursor, check_first
from resolvers.types.common import Connection, PageInfo
from resolvers.types.describe import described_enum

described_enum(
    timeline.EventSource,
    {
        "OMS": "The order management system.",
        "INVENTORY": "The inventory system.",
        "CARRIER": "The carrier's tracking.",
        "TICKETING": "The ticketing system.",
    },
    name="TimelineSource",
    description="The source a timeline event comes from.",
)
_NOT_EMITTED = " Not emitted yet: no source record dates it."
described_enum(
    timeline.EventKind,
    {
        "PLACED": "The order was placed (OMS).",
        "PAID": "The payment was captured (OMS); dated at placement, as checkout captures.",
        "BACKORDERED": "A line went backordered: its location is oversold (inventory; "
        "dated when it became so, or at placement if later).",
        "HELD": "A fulfillment order was put on hold (OMS).",
        "RELEASED": "A hold was released (OMS)." + _NOT_EMITTED,
        "EDITED": "The order was edited (OMS)." + _NOT_EMITTED,
        "ADDRESS_CHANGED": "The shipping address changed (OMS)." + _NOT_EMITTED,
        "SHIPPED": "A shipment left (OMS).",
        "TRACKING": "A carrier checkpoint other than an attempt or a delivery.",
        "DELIVERY_ATTEMPTED": "The carrier tried to deliver and could not.",
        "DELIVERED": "The carrier delivered a parcel.",
        "TICKET_OPENED": "A support ticket was opened (ticketing).",
        "TICKET_ANSWERED": "An agent replied and the ticket waits on the requester "
        "(ticketing; dated at the ticket's last update).",
        "TICKET_COMMENTED": "A comment or internal note was added to a ticket (ticketing).",
        "TICKET_SOLVED": "A ticket was solved or closed (ticketing; dated at its last update).",
        "CANCELLED": "The order was cancelled (OMS).",
        "RETURNED": "Returned units were received (OMS; dated at the order's last update, "
        "as the OMS keeps no return time).",
        "RESTOCK_EXPECTED": "A backordered line's expected restock date, when it was set: "
        "the one in force when the wait began, then each move (inventory).",
    },
    name="TimelineEventKind",
    description="What happened; events at one instant are listed by source (`TimelineSource` "
    "order), then in this order.",
)
described_enum(
    timeline.Visibility,
    {
        "CUSTOMER": "Shown to every caller that may see the order.",
        "INTERNAL": "Shown to consoles only (fraud holds, every ticket event).",
    },
    name="TimelineVisibility",
    description="CUSTOMER events are shown to every caller; INTERNAL ones to consoles only.",
)


@strawberry.type(description="One dated fact of an order's history.")
class TimelineEvent:
    at: datetime = strawberry.field(
        description="When it happened: a carrier scan with the local offset the carrier "
        "gave; every other event, derived by the gateway from a record, in UTC."
    )
    date_only: bool = strawberry.field(
        description="The source gave only a day: `at` is that day's start (UTC)."
    )
    source: timeline.EventSource = strawberry.field(description="The source it comes from.")
    kind: timeline.EventKind = strawberry.field(description="What happened.")
    message: str = strawberry.field(
        description="What happened in words: written by the gateway for OMS and ticketing "
        "events, the carrier's own message (with the place) for carrier events."
    )
    visibility: timeline.Visibility = strawberry.field(description="Who may see it.")
    subject_reference: str | None = strawberry.field(
        description="The source's id of the shipment, ticket or fulfillment order concerned."
    )


@strawberry.type(description="One event of a page of an order's timeline.")
class TimelineEdge:
    cursor: str = strawberry.field(
        description="Opaque cursor of this event, stable as late events arrive; pass it as "
        "`after` to continue after it."
    )
    node: TimelineEvent = strawberry.field(description="The event.")


@strawberry.type(description="A page of an order's timeline, oldest first.")
class TimelineConnection(Connection[TimelineEdge]):
    edges: list[TimelineEdge] = strawberry.field(description="The events with their cursors.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")


TIMELINE_CURSORS = Cursors("")  # no prefix: the first cursors were an event's key alone
_PLACE = "tl1:"  # a cursor's text since: "tl1:<at>|<source>|<kind>|<key>", the position


def timeline_page(
    events: list[timeline.TimelineEvent], first: int, after: str | None
) -> TimelineConnection:
    """``first`` events after the position ``after`` holds (``events`` are in that
    order), so a cursor resumes where it was even once its event has moved or gone."""
    check_first(first)
    start = 0 if after is None else _resume(events, TIMELINE_CURSORS.decode(after))
    edges = [
        TimelineEdge(
            cursor=_cursor(event),
            node=TimelineEvent(
                at=event.at,
                date_only=event.date_only,
                source=event.source,
                kind=event.kind,
                message=event.message,
                visibility=event.visibility,
                subject_reference=event.subject_id,
            ),
        )
        for event in events[start : start + first]
    ]
    return TimelineConnection.page(
        edges, has_next=start + first < len(events), has_previous=start > 0
    )


def _cursor(event: timeline.TimelineEvent) -> str:
    fields = (event.at.isoformat(), event.source.value, event.kind.value, event.key)
    return TIMELINE_CURSORS.encode(_PLACE + "|".join(fields))


def _resume(events: list[timeline.TimelineEvent], text: str) -> int:
    """The index of the first of ``events`` after the position a cursor's ``text``
    holds, or a BAD_USER_INPUT error."""
    if not text.startswith(_PLACE):  # a first cursor: after its event, while it is there
        keys = [event.key for event in events]
        if text not in keys:
            raise bad_cursor()
        return keys.index(text) + 1
    try:
        at, source, kind, key = text.removeprefix(_PLACE).split("|", 3)
        moment = datetime.fromisoformat(at)
        held = timeline.sort_position(
            moment, timeline.EventSource(source), timeline.EventKind(kind), key
        )
    except ValueError:
        raise bad_cursor() from None
    if moment.tzinfo is None:  # not one the gateway wrote, nor comparable with one
        raise bad_cursor()
    return bisect.bisect_right(events, held, key=lambda event: event.position)
