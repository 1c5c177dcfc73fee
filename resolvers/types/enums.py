"""GraphQL enums: the sources' fixed vocabularies and the graph's derived ones.

``strawberry.enum`` registers each Python enum in place, so the types modules annotate
with the very same classes (imported from here, which guarantees registration).
"""

from __future__ import annotations

from domain.carrier_events import ShipmentSubStatus
from domain.status import CustomerOrderStatus
from resolvers.types.describe import described_enum
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

described_enum(
    FinancialStatus,
    {
        "AUTHORIZED": "The payment is authorized but not yet captured.",
        "PAID": "The payment is captured in full.",
        "PARTIALLY_PAID": "Part of the amount is captured.",
        "PARTIALLY_REFUNDED": "Part of the captured amount was refunded.",
        "PENDING": "The payment has not been completed yet.",
        "REFUNDED": "The captured amount was refunded in full.",
        "VOIDED": "The authorization was voided before capture.",
        "EXPIRED": "The authorization expired before capture.",
    },
    description="Payment state of an order, as the OMS reports it.",
)
described_enum(
    FulfillmentStatus,
    {
        "UNFULFILLED": "Nothing has shipped and no work is scheduled.",
        "SCHEDULED": "Fulfillment is scheduled for later.",
        "ON_HOLD": "Fulfillment is held (see the fulfillment orders' holds).",
        "IN_PROGRESS": "A warehouse is working on the order.",
        "PARTIALLY_FULFILLED": "Part of the order has shipped.",
        "FULFILLED": "Everything has shipped.",
        "REQUEST_DECLINED": "A location declined the fulfillment request.",
    },
    description="The OMS's own fulfillment state of the order.",
)
described_enum(
    FulfillmentOrderStatus,
    {
        "OPEN": "Ready to be worked on; not yet started.",
        "SCHEDULED": "To be released to the location at a later date.",
        "ON_HOLD": "Held; `holds` says why.",
        "IN_PROGRESS": "The location is working on it.",
        "INCOMPLETE": "The location could not fulfill all of it.",
        "CLOSED": "Done: everything it carried has shipped or was settled.",
        "CANCELLED": "Cancelled; it no longer counts toward the order.",
    },
    description="State of one fulfillment order, as the OMS reports it.",
)
described_enum(
    HoldReason,
    {
        "AWAITING_PAYMENT": "Waiting for the payment.",
        "HIGH_RISK_OF_FRAUD": "Under fraud review (internal: customers are not told).",
        "INCORRECT_ADDRESS": "The shipping address must be confirmed or corrected.",
        "INVENTORY_OUT_OF_STOCK": "An item is out of stock (backordered).",
        "UNKNOWN_DELIVERY_DATE": "The delivery date is not known yet.",
        "OTHER": "Another reason; see the hold's `note`.",
    },
    name="FulfillmentHoldReason",
    description="Why the OMS holds a fulfillment order.",
)
described_enum(
    DeliveryMethodType,
    {
        "SHIPPING": "Shipped by a carrier to the shipping address.",
        "PICK_UP": "Collected by the customer at a store or pickup location.",
        "LOCAL": "Delivered locally by the merchant.",
    },
    description="How a fulfillment order reaches the customer (OMS).",
)
described_enum(
    CancelReason,
    {
        "CUSTOMER": "The customer asked to cancel.",
        "DECLINED": "The payment was declined.",
        "FRAUD": "The order was judged fraudulent.",
        "INVENTORY": "The items are out of stock.",
        "STAFF": "Staff cancelled it (e.g. an error).",
        "OTHER": "Another reason.",
    },
    name="OrderCancelReason",
    description="Why an order was, or is to be, cancelled (OMS vocabulary).",
)
described_enum(
    ReturnStatus,
    {
        "NO_RETURN": "No return was requested.",
        "RETURN_REQUESTED": "The customer asked to return items.",
        "IN_PROGRESS": "The return is approved and items are on their way back.",
        "RETURNED": "The returned items were received.",
        "RETURN_FAILED": "Some returned items never came back.",
    },
    name="OrderReturnStatus",
    description="Where the customer's return stands (OMS).",
)
described_enum(
    ShipmentStatus,
    {
        "NO_INFO": "The carrier has no information yet.",
        "LABEL_CREATED": "A label exists; the carrier has not scanned the parcel yet.",
        "IN_TRANSIT": "On its way.",
        "OUT_FOR_DELIVERY": "On the vehicle for delivery today.",
        "READY_FOR_PICKUP": "Waiting at a pickup point for the customer.",
        "DELIVERY_ATTEMPTED": "The carrier tried to deliver and could not.",
        "DELIVERED": "Delivered.",
        "EXCEPTION": "A problem the carrier reports (see the sub-status and message).",
        "RETURNING_TO_SENDER": "On its way back to the sender.",
        "RETURNED_TO_SENDER": "Back with the sender.",
        "TRACKING_EXPIRED": "No carrier update for 30 days; tracking stopped.",
    },
    description="Carrier status normalised from the carrier's raw tag (AfterShip-style).",
)
described_enum(
    ShipmentSubStatus,
    {
        "CUSTOMS_DELAY": "Held in customs.",
        "UNFORESEEN_DELAY": "Delayed for a reason the carrier did not foresee.",
        "WEATHER_DELAY": "Delayed by weather: the carrier's message mentions it and the "
        "subtag names nothing more specific (none, ordinary progress, an unnamed exception "
        "or an unforeseen delay).",
        "HELD_FOR_PAYMENT": "Held until duties or fees are paid.",
        "INCORRECT_ADDRESS": "The address is wrong or incomplete.",
        "CUSTOMER_MOVED": "The addressee has moved.",
        "REFUSED": "The addressee refused the parcel.",
        "NOT_COLLECTED": "Not collected from the pickup point in time.",
        "DAMAGED": "The parcel is damaged.",
        "LOST": "The carrier lost the parcel.",
        "RETURNING_TO_SENDER": "Being returned to the sender.",
        "RETURNED_TO_SENDER": "Returned to the sender.",
        "FORWARDED": "Forwarded to another address.",
        "ADDRESSEE_NOT_AVAILABLE": "Delivery failed: nobody was there to receive it.",
        "BUSINESS_CLOSED": "Delivery failed: the business was closed.",
        "OTHER": "An exception the gateway's table does not name; see `rawSubtag`.",
    },
    description="Why a shipment is where it is: derived by the gateway from the carrier's "
    "raw subtag (AfterShip codes) and message.",
)
described_enum(
    TicketStatus,
    {
        "NEW": "Not yet looked at by an agent.",
        "OPEN": "An agent is working on it.",
        "PENDING": "Waiting for the requester's reply.",
        "ON_HOLD": "Waiting on a third party.",
        "SOLVED": "Solved; a new comment reopens it.",
        "CLOSED": "Closed and read-only; a follow-up is a new ticket.",
    },
    description="State of a support ticket (ticketing source).",
)
described_enum(
    TicketPriority,
    {
        "LOW": "Low priority.",
        "NORMAL": "Normal priority.",
        "HIGH": "High priority.",
        "URGENT": "Urgent.",
    },
    description="Priority of a support ticket (ticketing source).",
)
described_enum(
    TicketType,
    {
        "QUESTION": "A question.",
        "INCIDENT": "An occurrence of a problem.",
        "PROBLEM": "A problem behind one or more incidents.",
        "TASK": "Work to be done.",
    },
    description="Kind of support ticket (ticketing source).",
)
described_enum(
    TicketChannel,
    {
        "EMAIL": "Received by email.",
        "CHAT": "Received by chat.",
        "PHONE": "Received by phone.",
        "WEB": "Received through a web form or the API.",
    },
    description="Where a support ticket came in (ticketing source).",
)
described_enum(
    CustomerOrderStatus,
    {
        "ORDER_PLACED": "Placed; no work started.",
        "PROCESSING": "Being prepared (also shown during an internal fraud review).",
        "ON_HOLD": "Held for payment, address or another reason the customer can know.",
        "BACKORDERED": "An item is out of stock; it ships when restocked.",
        "PARTIALLY_SHIPPED": "Part of the order has shipped.",
        "SHIPPED": "Everything has shipped; some parcel is not yet out for delivery.",
        "OUT_FOR_DELIVERY": "Everything has shipped; the least advanced parcel is out for "
        "delivery.",
        "DELIVERY_ATTEMPTED": "Everything has shipped; the least advanced parcel had a failed "
        "delivery attempt.",
        "READY_FOR_PICKUP": "Everything has shipped; the least advanced parcel waits at a "
        "pickup point.",
        "RETURNING_TO_SENDER": "An undelivered parcel is going back to the sender.",
        "PARTIALLY_DELIVERED": "Part of the order has been delivered.",
        "DELIVERED": "Everything has been delivered.",
        "CANCELLED": "The order, or every line of it, is cancelled.",
    },
    description=(
        "The one status a customer is shown, derived by the gateway from the OMS's lines "
        "and fulfillment and the carrier's tracking; it never moves backwards on late or "
        "out-of-order carrier events."
    ),
)
