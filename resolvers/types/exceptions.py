"""Exceptions and health as the graph shows them; the rules live in
``resolvers.exceptions``."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from resolvers import exceptions as rules
from resolvers.relay import to_global_id

strawberry.enum(rules.ExceptionCode, name="OrderExceptionCode")
strawberry.enum(rules.Severity, name="ExceptionSeverity")
strawberry.enum(
    rules.Health,
    name="OrderHealth",
    description="How the order is doing, the worst of its exceptions (ON_TRACK without any).",
)


@strawberry.enum
class ExceptionSubjectKind(enum.Enum):
    ORDER = "order"
    LINE = "line"
    FULFILLMENT_ORDER = "fulfillment_order"
    SHIPMENT = "shipment"


_NODE_TYPES = {"line": "LineItem", "fulfillment_order": "FulfillmentOrder", "shipment": "Shipment"}


@strawberry.type(description="What an exception is about; `id` is that object's global id.")
class ExceptionSubject:
    kind: ExceptionSubjectKind
    id: strawberry.ID


@strawberry.type(description="A raw source fact behind an exception.")
class Evidence:
    key: str
    value: str


@strawberry.type(description="Something wrong (or about to be) with the order.")
class OrderException:
    code: rules.ExceptionCode
    severity: rules.Severity
    detected_at: datetime
    subject: ExceptionSubject
    customer_message: str | None = strawberry.field(
        description="What to tell the customer; null for internal exceptions."
    )
    recommended_action: str
    evidence: list[Evidence]
    internal: bool = strawberry.field(description="Shown to consoles only.")

    @classmethod
    def of(cls, order_id: str, found: rules.OrderException) -> OrderException:
        subject = found.subject
        if subject.kind == "order":
            global_id = to_global_id("Order", order_id)
        else:
            global_id = to_global_id(_NODE_TYPES[subject.kind], order_id, subject.id)
        return cls(
            code=found.code,
            severity=found.severity,
            detected_at=found.detected_at,
            subject=ExceptionSubject(
                kind=ExceptionSubjectKind(subject.kind), id=strawberry.ID(global_id)
            ),
            customer_message=found.customer_message,
            recommended_action=found.recommended_action,
            evidence=[Evidence(key=key, value=value) for key, value in found.evidence],
            internal=found.internal,
        )
