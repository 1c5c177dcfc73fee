"""GraphQL enums: the sources' fixed vocabularies and the graph's derived ones.

``strawberry.enum`` registers each Python enum in place, so the types modules annotate
with the very same classes (imported from here, which guarantees registration).
"""

from __future__ import annotations

import strawberry

from resolvers.status import CustomerOrderStatus
from resolvers.tracking import ShipmentSubStatus
from sources.records import (
    CancelReason,
    DeliveryMethodType,
    FinancialStatus,
    FulfillmentOrderStatus,
    FulfillmentStatus,
    HoldReason,
    ReturnStatus,
    ShipmentStatus,
    TicketChannel,
    TicketPriority,
    TicketStatus,
    TicketType,
)

__all__ = [
    "CancelReason",
    "CustomerOrderStatus",
    "DeliveryMethodType",
    "FinancialStatus",
    "FulfillmentOrderStatus",
    "FulfillmentStatus",
    "HoldReason",
    "ReturnStatus",
    "ShipmentStatus",
    "ShipmentSubStatus",
    "TicketChannel",
    "TicketPriority",
    "TicketStatus",
    "TicketType",
]

strawberry.enum(FinancialStatus, description="Payment state (OMS).")
strawberry.enum(FulfillmentStatus, description="The OMS's own fulfillment state of the order.")
strawberry.enum(FulfillmentOrderStatus)
strawberry.enum(HoldReason, name="FulfillmentHoldReason")
strawberry.enum(DeliveryMethodType)
strawberry.enum(CancelReason, name="OrderCancelReason")
strawberry.enum(
    ReturnStatus, name="OrderReturnStatus", description="Where the customer's return stands (OMS)."
)
strawberry.enum(ShipmentStatus, description="Normalised carrier status.")
strawberry.enum(ShipmentSubStatus, description="Why a shipment is where it is.")
strawberry.enum(TicketStatus)
strawberry.enum(TicketPriority)
strawberry.enum(TicketType)
strawberry.enum(TicketChannel)
strawberry.enum(
    CustomerOrderStatus,
    description=(
        "The one status a customer is shown, derived from lines, fulfillment and "
        "tracking; it never moves backwards on late or out-of-order carrier events."
    ),
)
