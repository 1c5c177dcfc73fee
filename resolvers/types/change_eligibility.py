"""What may still change on an order, and why not: the change eligibility the
domain decides (``domain.eligibility``), as graph types."""

from __future__ import annotations

import enum

import strawberry

from domain import eligibility


@strawberry.enum(
    description="Why a change is refused, or the condition it comes with (derived by the "
    "gateway from the OMS's order)."
)
class ChangeReason(enum.Enum):
    ALREADY_CANCELLED = strawberry.enum_value(
        eligibility.ALREADY_CANCELLED,
        description="The order is cancelled; cancellation is irreversible.",
    )
    NOTHING_TO_CANCEL = strawberry.enum_value(
        eligibility.NOTHING_TO_CANCEL,
        description="Every line's quantity is already cancelled.",
    )
    LINE_CANCEL_NOT_SUPPORTED = strawberry.enum_value(
        eligibility.LINE_CANCEL_NOT_SUPPORTED,
        description="The order management system cancels whole orders only.",
    )
    PICKUP_ORDER = strawberry.enum_value(
        eligibility.PICKUP_ORDER,
        description="Every live fulfillment order is a pickup: no address to change.",
    )
    ALREADY_SHIPPED = strawberry.enum_value(
        eligibility.ALREADY_SHIPPED, description="Everything left on the order has shipped."
    )
    PARTIALLY_SHIPPED = strawberry.enum_value(
        eligibility.PARTIALLY_SHIPPED, description="Part of the order has shipped."
    )
    IN_FULFILLMENT = strawberry.enum_value(
        eligibility.IN_FULFILLMENT,
        description="A warehouse already works on what the change would stop.",
    )
    REQUIRES_WAREHOUSE_APPROVAL = strawberry.enum_value(
        eligibility.REQUIRES_WAREHOUSE_APPROVAL,
        description="Allowed as a request: a warehouse has the work and may reject it.",
    )


@strawberry.type(description="Whether one kind of change is allowed (derived by the gateway).")
class ChangeDecision:
    allowed: bool = strawberry.field(description="True when the change may be made.")
    reason_code: ChangeReason | None = strawberry.field(
        description="Why it is refused, or the condition it comes with; null when allowed "
        "without conditions."
    )

    @classmethod
    def of(cls, decision: eligibility.Decision) -> ChangeDecision:
        reason = None if decision.reason_code is None else ChangeReason(decision.reason_code)
        return cls(allowed=decision.allowed, reason_code=reason)


@strawberry.type(description="What may still change on the order, and why not.")
class ChangeEligibility:
    cancel: ChangeDecision = strawberry.field(description="Cancel the whole order.")
    cancel_lines: ChangeDecision = strawberry.field(
        description="Cancel some unfulfilled line quantities."
    )
    change_address: ChangeDecision = strawberry.field(description="Change the shipping address.")

    @classmethod
    def of(cls, decisions: eligibility.ChangeEligibility) -> ChangeEligibility:
        return cls(
            cancel=ChangeDecision.of(decisions.cancel),
            cancel_lines=ChangeDecision.of(decisions.cancel_lines),
            change_address=ChangeDecision.of(decisions.change_address),
        )
