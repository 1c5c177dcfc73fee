"""Exceptions and health as the graph shows them; the rules live in
``domain.exception_rules``."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from domain import exception_rules as rules
from resolvers.relay import to_global_id
from resolvers.types.describe import described_enum

described_enum(
    rules.ExceptionCode,
    {
        "PAYMENT_ISSUE": "Awaiting payment: a payment hold, or a pending, expired or voided "
        "payment (OMS).",
        "FRAUD_REVIEW": "Held for fraud review (OMS); internal.",
        "ADDRESS_ISSUE": "The address must be confirmed (OMS hold or carrier sub-status).",
        "BACKORDERED": "Out of stock (OMS hold or inventory), with the restock date while it "
        "is still ahead.",
        "WAREHOUSE_DELAY": "Not shipped within the ship-by time after placement (OMS).",
        "NOT_PICKED_UP_BY_CARRIER": "Label created but never scanned by the carrier: "
        "WARNING after 2 days, CRITICAL after 5.",
        "PREDICTED_LATE": "The carrier's estimate ends on a later day than the promised "
        "delivery, both days at the destination (the estimate's local time).",
        "LATE": "The promised delivery time has passed and not everything has arrived "
        "(delivered, or waiting at a pickup point).",
        "CARRIER_DELAY": "The carrier reports a delay (customs, weather, unforeseen...).",
        "STALLED_IN_TRANSIT": "No carrier scan for 3 business days (7 international).",
        "DELIVERY_ATTEMPTED": "The carrier tried to deliver and could not.",
        "PICKUP_NOT_COLLECTED": "The parcel waits, or waited too long, at a pickup point.",
        "RETURNING_TO_SENDER": "The parcel is going, or went, back to the sender.",
        "LOST_OR_DAMAGED": "The carrier reports the parcel lost or damaged.",
        "PARTIAL_SHIPMENT": "Part of the order has shipped, the rest has not (INFO).",
        "SOURCES_DISAGREE": "The OMS and the carrier disagree about a shipment (delivered "
        "per the OMS only, or a tracking number the carrier does not know).",
        "UNANSWERED_TICKET": "A critical exception without an open ticket, or a ticket "
        "waiting too long for a reply; internal.",
    },
    name="OrderExceptionCode",
    description="What kind of exception, as the gateway's rules name it.",
)
described_enum(
    rules.Severity,
    {
        "INFO": "Worth knowing; nothing to do.",
        "WARNING": "Needs attention.",
        "CRITICAL": "Needs action now.",
    },
    name="ExceptionSeverity",
    description="How serious an exception is (gateway's rules), least to most severe.",
)
described_enum(
    rules.Health,
    {
        "ON_TRACK": "No exception, or only ones that do not threaten delivery.",
        "AT_RISK": "Delivery may be affected (e.g. predicted late, sources disagree).",
        "DELAYED": "Delivery is late or will be (e.g. backordered, stalled, late).",
        "ACTION_REQUIRED": "Someone must act (e.g. payment, address, delivery attempt).",
        "FAILED": "Delivery failed (lost, damaged or returning to sender).",
    },
    name="OrderHealth",
    description="How the order is doing, the worst of its exceptions (ON_TRACK without "
    "any); derived by the gateway, best to worst.",
)


@strawberry.enum(description="The kind of object an exception is about.")
class ExceptionSubjectKind(enum.Enum):
    ORDER = strawberry.enum_value("order", description="The order as a whole.")
    LINE = strawberry.enum_value("line", description="One order line (`LineItem`).")
    FULFILLMENT_ORDER = strawberry.enum_value(
        "fulfillment_order", description="One fulfillment order."
    )
    SHIPMENT = strawberry.enum_value("shipment", description="One shipment.")


_NODE_TYPES = {"line": "LineItem", "fulfillment_order": "FulfillmentOrder", "shipment": "Shipment"}


@strawberry.type(description="What an exception is about; `id` is that object's global id.")
class ExceptionSubject:
    kind: ExceptionSubjectKind = strawberry.field(description="What kind of object.")
    id: strawberry.ID = strawberry.field(description="Its global id, fetchable with `node(id:)`.")


@strawberry.type(description="A raw source fact behind an exception.")
class Evidence:
    key: str = strawberry.field(
        description='Which fact, prefixed by its source, e.g. "carrier.subtag", '
        '"oms.placed_at", "inventory.available".'
    )
    value: str = strawberry.field(
        description="The fact's value as text (times in ISO 8601, as the source gave them)."
    )


@strawberry.type(
    description="Something wrong (or about to be) with the order, found by the gateway's "
    "rules over the four sources."
)
class OrderException:
    code: rules.ExceptionCode = strawberry.field(description="What kind of exception.")
    severity: rules.Severity = strawberry.field(description="How serious it is.")
    detected_at: datetime = strawberry.field(
        description="When the condition became true, taken from the source facts (a hold's "
        "time, a scan plus a threshold, a promise's end), not when the gateway noticed; "
        "always in UTC (the gateway works it out), even from a carrier's local scan time."
    )
    subject: ExceptionSubject = strawberry.field(
        description="The order, line, fulfillment order or shipment it is about."
    )
    customer_message: str | None = strawberry.field(
        description="What to tell the customer; null for internal exceptions."
    )
    recommended_action: str = strawberry.field(description="What an agent should do.")
    evidence: list[Evidence] = strawberry.field(description="The source facts that raised it.")
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
