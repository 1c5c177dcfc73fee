"""The eligibility table: orders in every shape and what each still accepts (cancel,
cancel lines, change address). The rules' tests and the simulator's both run it."""

from __future__ import annotations

import msgspec

from domain import eligibility as E
from domain.eligibility import Decision
from sources.records import DeliveryMethodType, FulfillmentOrder, LineQuantity
from sources.records import FulfillmentOrderStatus as FO
from sources.records import HoldReason as H
from tests.support.builders import fulfillment, line, order, shipment

T1 = "1Z0000000000000001"
OK = Decision(allowed=True, reason_code=None)
APPROVAL = Decision(allowed=True, reason_code=E.REQUIRES_WAREHOUSE_APPROVAL)
REASON_CODES = {
    E.ALREADY_CANCELLED,
    E.NOTHING_TO_CANCEL,
    E.PICKUP_ORDER,
    E.ALREADY_SHIPPED,
    E.PARTIALLY_SHIPPED,
    E.IN_FULFILLMENT,
    E.REQUIRES_WAREHOUSE_APPROVAL,
}
# Decided by what the OMS can do, not by the order: tested apart from CASES.
OMS_REASON_CODES = {E.LINE_CANCEL_NOT_SUPPORTED}


def no(code: str) -> Decision:
    return Decision(allowed=False, reason_code=code)


def pickup(fo: FulfillmentOrder) -> FulfillmentOrder:
    method = msgspec.structs.replace(fo.delivery_method, method_type=DeliveryMethodType.PICK_UP)
    return msgspec.structs.replace(fo, delivery_method=method)


def carrying(fo: FulfillmentOrder, **quantities: int) -> FulfillmentOrder:
    lines = [LineQuantity(line_id=k, quantity=v) for k, v in quantities.items()]
    return msgspec.structs.replace(fo, id=f"fo-{fo.status.value}", lines=lines)


def fo(status: FO, line_id: str, *holds: H) -> FulfillmentOrder:
    return fulfillment(status, *holds, lines=(line_id,))


TWO = [line("l1"), line("l2")]
L1_SHIPPED = [line("l1", shipped=1), line("l2")]
SHIP_L1 = [shipment(T1, ("l1", 1))]
# One line of 2: a held fulfillment order carries 1 unit, which shipped from it before
# the hold; a warehouse picks the other.
HELD_AFTER_SHIPPING = order(
    [line(ordered=2, shipped=1)],
    [
        carrying(fulfillment(FO.ON_HOLD, H.OTHER), l1=1),
        carrying(fulfillment(FO.IN_PROGRESS), l1=1),
    ],
    [msgspec.structs.replace(SHIP_L1[0], fulfillment_order_id="fo-ON_HOLD")],
)

# fmt: off
CASES = [
    # (name, order, (cancel, cancel_lines, change_address))
    ("just placed", order([line()]), (OK, OK, OK)),
    ("scheduled", order([line()], [fulfillment(FO.SCHEDULED)]), (OK, OK, OK)),
    ("on hold", order([line()], [fulfillment(FO.ON_HOLD, H.INCORRECT_ADDRESS)]), (OK, OK, OK)),
    ("warehouse picking", order([line()], [fulfillment(FO.IN_PROGRESS)]),
     (no(E.IN_FULFILLMENT), no(E.IN_FULFILLMENT), APPROVAL)),
    ("warehouse stuck half-way", order([line()], [fulfillment(FO.INCOMPLETE)]),
     (no(E.IN_FULFILLMENT), no(E.IN_FULFILLMENT), APPROVAL)),
    ("closed without a shipment counts as handed over", order([line()], [fulfillment(FO.CLOSED)]),
     (no(E.IN_FULFILLMENT), no(E.IN_FULFILLMENT), APPROVAL)),
    ("one location picking, the other not started",
     order(TWO, [fo(FO.IN_PROGRESS, "l1"), fo(FO.OPEN, "l2")]),
     (no(E.IN_FULFILLMENT), OK, APPROVAL)),
    ("cancelled fulfillment order ignored",
     order(TWO, [fo(FO.CANCELLED, "l1"), fo(FO.OPEN, "l2")]), (OK, OK, OK)),
    ("cancelled order", order([line(cancelled=1)], [fulfillment(FO.CANCELLED)], cancelled=True),
     (no(E.ALREADY_CANCELLED),) * 3),
    ("cancelled order whose lines were not zeroed", order([line()], cancelled=True),
     (no(E.ALREADY_CANCELLED),) * 3),
    ("every line cancelled, order not", order([line(cancelled=1)], [fulfillment(FO.CANCELLED)]),
     (no(E.NOTHING_TO_CANCEL),) * 3),
    ("everything shipped", order([line(shipped=1)], [fulfillment(FO.CLOSED)], SHIP_L1),
     (no(E.ALREADY_SHIPPED),) * 3),
    ("OMS counter lagging: the shipment says shipped",
     order([line()], [fulfillment(FO.IN_PROGRESS)], SHIP_L1), (no(E.ALREADY_SHIPPED),) * 3),
    ("shipped, the rest cancelled",
     order([line("l1", shipped=1), line("l2", cancelled=1)], [fo(FO.CLOSED, "l1")], SHIP_L1),
     (no(E.ALREADY_SHIPPED),) * 3),
    ("one line shipped, the other not started",
     order(L1_SHIPPED, [fo(FO.CLOSED, "l1"), fo(FO.OPEN, "l2")], SHIP_L1),
     (no(E.PARTIALLY_SHIPPED), OK, no(E.PARTIALLY_SHIPPED))),
    ("one line shipped, the other being picked",
     order(L1_SHIPPED, [fo(FO.CLOSED, "l1"), fo(FO.IN_PROGRESS, "l2")], SHIP_L1),
     (no(E.PARTIALLY_SHIPPED), no(E.IN_FULFILLMENT), no(E.PARTIALLY_SHIPPED))),
    ("a held fulfillment order's units all shipped, the rest being picked", HELD_AFTER_SHIPPING,
     (no(E.PARTIALLY_SHIPPED), no(E.IN_FULFILLMENT), no(E.PARTIALLY_SHIPPED))),
    ("half a line shipped, rest with the warehouse",
     order([line(ordered=2, shipped=1)], [fulfillment(FO.INCOMPLETE)], SHIP_L1),
     (no(E.PARTIALLY_SHIPPED), no(E.IN_FULFILLMENT), no(E.PARTIALLY_SHIPPED))),
    ("pickup not started", order([line()], [pickup(fulfillment())]), (OK, OK, no(E.PICKUP_ORDER))),
    ("pickup ready at the store",
     order([line(shipped=1)], [pickup(fulfillment(FO.CLOSED))], SHIP_L1),
     (no(E.ALREADY_SHIPPED), no(E.ALREADY_SHIPPED), no(E.PICKUP_ORDER))),
    ("pickup plus shipping", order(TWO, [pickup(fo(FO.OPEN, "l1")), fo(FO.OPEN, "l2")]),
     (OK, OK, OK)),
    ("cancelled pickup, live shipping",
     order(TWO, [pickup(fo(FO.CANCELLED, "l1")), fo(FO.OPEN, "l2")]), (OK, OK, OK)),
]
# fmt: on
