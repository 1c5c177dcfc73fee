"""What happened to an order and what may still change: the merged timeline of the
four sources and the change eligibility."""

from __future__ import annotations

import base64
import enum
from datetime import datetime

import strawberry

from resolvers import eligibility, timeline
from resolvers.errors import UserInputError
from resolvers.types.common import PageInfo

strawberry.enum(timeline.EventSource, name="TimelineSource")
strawberry.enum(timeline.EventKind, name="TimelineEventKind")
strawberry.enum(
    timeline.Visibility,
    name="TimelineVisibility",
    description="CUSTOMER events are shown to every caller; INTERNAL ones to consoles only.",
)


@strawberry.enum(description="Why a change is refused, or the condition it comes with.")
class ChangeReason(enum.Enum):
    ALREADY_CANCELLED = eligibility.ALREADY_CANCELLED
    NOTHING_TO_CANCEL = eligibility.NOTHING_TO_CANCEL
    PICKUP_ORDER = eligibility.PICKUP_ORDER
    ALREADY_SHIPPED = eligibility.ALREADY_SHIPPED
    PARTIALLY_SHIPPED = eligibility.PARTIALLY_SHIPPED
    IN_FULFILLMENT = eligibility.IN_FULFILLMENT
    REQUIRES_WAREHOUSE_APPROVAL = eligibility.REQUIRES_WAREHOUSE_APPROVAL


@strawberry.type
class ChangeDecision:
    allowed: bool
    reason_code: ChangeReason | None

    @classmethod
    def of(cls, decision: eligibility.Decision) -> ChangeDecision:
        reason = None if decision.reason_code is None else ChangeReason(decision.reason_code)
        return cls(allowed=decision.allowed, reason_code=reason)


@strawberry.type(description="What may still change on the order, and why not.")
class ChangeEligibility:
    cancel: ChangeDecision
    cancel_lines: ChangeDecision
    change_address: ChangeDecision

    @classmethod
    def of(cls, decisions: eligibility.ChangeEligibility) -> ChangeEligibility:
        return cls(
            cancel=ChangeDecision.of(decisions.cancel),
            cancel_lines=ChangeDecision.of(decisions.cancel_lines),
            change_address=ChangeDecision.of(decisions.change_address),
        )


@strawberry.type
class TimelineEvent:
    at: datetime
    date_only: bool = strawberry.field(
        description="The source gave only a day: `at` is that day's start (UTC)."
    )
    source: timeline.EventSource
    kind: timeline.EventKind
    message: str
    visibility: timeline.Visibility
    subject_reference: str | None = strawberry.field(
        description="The source's id of the shipment, ticket or fulfillment order concerned."
    )


@strawberry.type
class TimelineEdge:
    cursor: str
    node: TimelineEvent


@strawberry.type
class TimelineConnection:
    edges: list[TimelineEdge]
    page_info: PageInfo


def timeline_page(
    events: list[timeline.TimelineEvent], first: int, after: str | None
) -> TimelineConnection:
    """``first`` events after the one ``after`` points at (keys are stable, so a
    cursor survives late carrier events)."""
    if not 1 <= first <= 100:
        raise UserInputError("first must be between 1 and 100", field="first")
    start = 0
    if after is not None:
        keys = [event.key for event in events]
        try:
            start = keys.index(base64.urlsafe_b64decode(after.encode()).decode()) + 1
        except (ValueError, UnicodeError):
            raise UserInputError("after is not a cursor of this timeline", field="after") from None
    page = events[start : start + first]
    edges = [
        TimelineEdge(
            cursor=base64.urlsafe_b64encode(event.key.encode()).decode(),
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
        for event in page
    ]
    return TimelineConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=start + first < len(events),
            end_cursor=edges[-1].cursor if edges else None,
            has_previous_page=start > 0,
            start_cursor=edges[0].cursor if edges else None,
        ),
    )
