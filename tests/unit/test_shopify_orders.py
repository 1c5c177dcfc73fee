"""Shopify's orders and ours (sources/adapters/shopify/orders.py): the round trip of
a seeded data set, and answers written in Shopify's documented shapes, awkward cases,
throttling and refused variables included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from sim.seed import Dataset
from sources import records
from sources.adapters.shopify import wire
from sources.adapters.shopify.client import refuses_variables
from sources.adapters.shopify.gid import parse_gid
from sources.adapters.shopify.orders import order_from_shopify, shopify_from_order
from tests.support.shopify_payloads import through_json


@pytest.fixture(scope="module")
def dataset(make_dataset) -> Dataset:
    return make_dataset(orders=300)


def test_every_seeded_order_comes_back_equal(dataset: Dataset):
    unequal = [
        order.id
        for order in dataset.orders.values()
        if order_from_shopify(through_json(shopify_from_order(order), wire.Order)) != order
    ]
    assert unequal == []


def test_the_seed_exercises_every_awkward_part(dataset: Dataset):
    """The round trip above crosses holds, pickups, cancels, returns and deliveries."""
    orders = list(dataset.orders.values())
    holds = {h.reason for o in orders for fo in o.fulfillment_orders for h in fo.holds}
    assert records.HoldReason.HIGH_RISK_OF_FRAUD in holds
    assert any(o.cancelled_at for o in orders)
    assert any(line.quantities.returned for o in orders for line in o.lines)
    assert any(line.quantities.cancelled for o in orders if not o.cancelled_at for line in o.lines)
    assert any(o.shipping_address is None for o in orders)  # pickup only
    assert any(o.customer.phone is None for o in orders)
    statuses = {s.display_status for o in orders for s in shopify_from_order(o).fulfillments}
    assert statuses == {"DELIVERED", "PICKED_UP", "FULFILLED"}


def test_the_simulated_api_serves_shopify_ids(dataset: Dataset):
    for order in dataset.orders.values():
        node = shopify_from_order(order)
        assert node.name == f"#{order.number}"
        assert node.legacy_resource_id.isdigit()
        assert parse_gid(node.id) == ("Order", node.legacy_resource_id)
        assert all(parse_gid(item.id)[1].isdigit() for item in node.line_items.nodes)


def test_a_hold_is_as_old_as_its_fulfillment_orders_last_change(dataset: Dataset):
    """Shopify keeps no time on a hold: one placed before the last change reads later."""
    order = next(o for o in dataset.orders.values() if any(fo.holds for fo in o.fulfillment_orders))
    fo = next(fo for fo in order.fulfillment_orders if fo.holds)
    later = fo.updated_at + timedelta(hours=3)
    changed = msgspec.structs.replace(
        order,
        fulfillment_orders=[msgspec.structs.replace(fo, updated_at=later)],
    )
    back = order_from_shopify(shopify_from_order(changed))
    assert [h.held_at for h in back.fulfillment_orders[0].holds] == [later]


def test_a_line_split_over_shipments_comes_back_delivered_in_part(dataset: Dataset):
    order = next(o for o in dataset.orders.values() if len(o.shipments) == 1)
    line = order.lines[0]
    first = msgspec.structs.replace(
        order.shipments[0],
        lines=[msgspec.structs.replace(order.shipments[0].lines[0], line_id=line.id, quantity=1)],
    )
    second = msgspec.structs.replace(first, id="shp_7654321", tracking_number="1Z999")
    quantities = msgspec.structs.replace(line.quantities, ordered=2, shipped=2, delivered=1)
    split = msgspec.structs.replace(
        order,
        lines=[msgspec.structs.replace(line, quantities=quantities)],
        shipments=[first, second],
    )
    node = shopify_from_order(split)
    first_shown, second_shown = (f.display_status for f in node.fulfillments)
    assert (first_shown in {"DELIVERED", "PICKED_UP"}, second_shown) == (True, "FULFILLED")
    assert order_from_shopify(node).lines[0].quantities == quantities


# --- answers in Shopify's documented shapes ------------------------------------------

PARTIAL_REFUND = """
{"data": {"nodes": [null, {
  "id": "gid://shopify/Order/5678901234", "legacyResourceId": "5678901234",
  "name": "#1042", "sourceName": "web", "email": "ana@example.com",
  "customer": {"id": "gid://shopify/Customer/207119551", "displayName": "Ana Silva",
               "defaultEmailAddress": {"emailAddress": "ana@example.com"},
               "defaultPhoneNumber": null},
  "shippingAddress": {"name": "Ana Silva", "address1": "12 Rua Augusta", "address2": null,
                      "city": "Lisboa", "province": "Lisboa", "provinceCode": null,
                      "zip": "1100-053", "countryCodeV2": "PT", "phone": null},
  "displayFinancialStatus": "PARTIALLY_REFUNDED",
  "displayFulfillmentStatus": "PARTIALLY_FULFILLED",
  "currencyCode": "EUR", "createdAt": "2026-11-02T09:15:00Z",
  "updatedAt": "2026-11-12T16:40:05Z", "cancelledAt": null, "cancelReason": null,
  "returnStatus": "RETURNED", "tags": ["vip"],
  "lineItems": {"nodes": [
    {"id": "gid://shopify/LineItem/11111", "sku": "MUG-CER-350",
     "name": "Stoneware Mug 350 ml", "quantity": 2, "currentQuantity": 1,
     "unfulfilledQuantity": 0,
     "originalUnitPriceSet": {"shopMoney": {"amount": "18.0", "currencyCode": "EUR"},
                              "presentmentMoney": {"amount": "18.0", "currencyCode": "EUR"}}},
    {"id": "gid://shopify/LineItem/22222", "sku": null, "name": "Gift wrap",
     "quantity": 3, "currentQuantity": 2, "unfulfilledQuantity": 2,
     "originalUnitPriceSet": {"shopMoney": {"amount": "2.5", "currencyCode": "EUR"}}}],
    "pageInfo": {"hasNextPage": false, "endCursor": "eyJsYXN0X2lkIjoyMjIyMn0="}},
  "fulfillmentOrders": {"nodes": [{
    "id": "gid://shopify/FulfillmentOrder/33333", "status": "IN_PROGRESS",
    "assignedLocation": {"name": "Lisbon Warehouse", "countryCode": "PT",
                         "location": {"id": "gid://shopify/Location/44444"}},
    "deliveryMethod": {"methodType": "PICKUP_POINT", "presentedName": "CTT pickup point",
                       "minDeliveryDateTime": null, "maxDeliveryDateTime": null},
    "fulfillmentHolds": [],
    "lineItems": {"nodes": [
      {"lineItem": {"id": "gid://shopify/LineItem/11111"}, "totalQuantity": 2,
       "remainingQuantity": 0},
      {"lineItem": {"id": "gid://shopify/LineItem/22222"}, "totalQuantity": 2,
       "remainingQuantity": 2}]},
    "updatedAt": "2026-11-05T10:00:00Z"}]},
  "fulfillments": [
    {"id": "gid://shopify/Fulfillment/55555", "status": "SUCCESS",
     "displayStatus": "DELIVERED", "createdAt": "2026-11-03T08:00:00Z",
     "trackingInfo": [],
     "fulfillmentLineItems": {"nodes": [
       {"lineItem": {"id": "gid://shopify/LineItem/11111"}, "quantity": 2}]},
     "fulfillmentOrders": {"nodes": [{"id": "gid://shopify/FulfillmentOrder/33333"}]}},
    {"id": "gid://shopify/Fulfillment/66666", "status": "CANCELLED",
     "displayStatus": "CANCELED", "createdAt": "2026-11-02T12:00:00Z",
     "trackingInfo": [{"company": "CTT", "number": "RR123456785PT", "url": null}],
     "fulfillmentLineItems": {"nodes": [
       {"lineItem": {"id": "gid://shopify/LineItem/22222"}, "quantity": 3}]},
     "fulfillmentOrders": {"nodes": [{"id": "gid://shopify/FulfillmentOrder/33333"}]}}],
  "refunds": [{"id": "gid://shopify/Refund/77777", "createdAt": "2026-11-12T16:40:00Z",
    "refundLineItems": {"nodes": [
      {"lineItem": {"id": "gid://shopify/LineItem/11111"}, "quantity": 1,
       "restockType": "RETURN"},
      {"lineItem": {"id": "gid://shopify/LineItem/22222"}, "quantity": 1,
       "restockType": "CANCEL"}]}}]
}]},
 "extensions": {"cost": {"requestedQueryCost": 112, "actualQueryCost": 31,
   "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1969,
                      "restoreRate": 100.0}}}}
"""


def decode_order(text: str) -> records.Order:
    envelope = msgspec.json.decode(text, type=wire.Envelope[wire.NodesData[wire.Order]])
    assert envelope.data is not None and not envelope.errors
    nodes = [node for node in envelope.data.nodes if node is not None]
    assert len(nodes) == 1
    return order_from_shopify(nodes[0])


def test_a_partial_refund_splits_returned_and_cancelled_units():
    order = decode_order(PARTIAL_REFUND)
    mug, wrap = order.lines
    assert (order.id, order.number, order.account_id) == ("ord_5678901234", "1042", "web")
    assert order.financial_status is records.FinancialStatus.PARTIALLY_REFUNDED
    assert mug.id == "li_11111" and mug.unit_price.amount == "18.0"
    assert mug.quantities.ordered == 2
    assert (mug.quantities.returned, mug.quantities.cancelled) == (1, 0)
    assert (mug.quantities.shipped, mug.quantities.delivered) == (2, 2)
    assert (wrap.sku, wrap.quantities.cancelled, wrap.quantities.shipped) == ("", 1, 0)


def test_a_fulfillment_without_tracking_is_a_shipment_without_a_number():
    order = decode_order(PARTIAL_REFUND)
    [shipment] = order.shipments  # the cancelled fulfillment carries no goods
    assert shipment.id == "shp_55555"
    assert (shipment.carrier_code, shipment.tracking_number) == ("", None)
    assert shipment.fulfillment_order_id == "fo_33333"
    assert shipment.shipped_at == datetime(2026, 11, 3, 8, tzinfo=UTC)


def test_an_address_and_a_customer_with_nulls():
    order = decode_order(PARTIAL_REFUND)
    address = order.shipping_address
    assert address is not None
    assert (address.line2, address.region, address.phone) == (None, None, None)
    assert (address.postal_code, address.country_code) == ("1100-053", "PT")
    assert order.customer.id == "cus_207119551" and order.customer.phone is None
    fo = order.fulfillment_orders[0]
    assert fo.location.id == "loc_44444" and fo.location.name == "Lisbon Warehouse"
    assert fo.delivery_method.method_type is records.DeliveryMethodType.SHIPPING  # a pickup point
    assert fo.delivery_method.service_name == "CTT pickup point"


FRAUD_HOLD = """
{"data": {"nodes": [{
  "id": "gid://shopify/Order/5678909999", "legacyResourceId": "5678909999",
  "name": "#1043", "sourceName": null, "email": "guest@example.com", "customer": null,
  "shippingAddress": null,
  "displayFinancialStatus": "AUTHORIZED", "displayFulfillmentStatus": "ON_HOLD",
  "currencyCode": "USD", "createdAt": "2026-11-20T10:00:00Z",
  "updatedAt": "2026-11-20T10:05:00Z", "cancelledAt": null, "cancelReason": null,
  "returnStatus": "NO_RETURN",
  "lineItems": {"nodes": [
    {"id": "gid://shopify/LineItem/88888", "sku": "HDP-ANC-BLK",
     "name": "Noise-Cancelling Headphones", "quantity": 1, "currentQuantity": 1,
     "unfulfilledQuantity": 1,
     "originalUnitPriceSet": {"shopMoney": {"amount": "249.0", "currencyCode": "USD"}}}]},
  "fulfillmentOrders": {"nodes": [{
    "id": "gid://shopify/FulfillmentOrder/99999", "status": "ON_HOLD",
    "assignedLocation": {"name": "Shop location", "countryCode": "US", "location": null},
    "deliveryMethod": null,
    "fulfillmentHolds": [{"id": "gid://shopify/FulfillmentHold/1", "displayReason":
      "High risk of fraud", "reason": "HIGH_RISK_OF_FRAUD",
      "reasonNotes": "Billing and shipping countries differ"}],
    "lineItems": {"nodes": [{"lineItem": {"id": "gid://shopify/LineItem/88888"},
                             "totalQuantity": 1, "remainingQuantity": 1}]},
    "updatedAt": "2026-11-20T10:05:00Z"}]},
  "fulfillments": [], "refunds": []
}]}}
"""


def test_an_on_hold_order_with_a_fraud_hold_is_on_hold_not_cancelled():
    order = decode_order(FRAUD_HOLD)
    assert order.fulfillment_status is records.FulfillmentStatus.ON_HOLD
    assert order.financial_status is records.FinancialStatus.AUTHORIZED
    assert (order.cancelled_at, order.cancel_reason) == (None, None)
    [fo] = order.fulfillment_orders
    assert fo.status is records.FulfillmentOrderStatus.ON_HOLD
    [hold] = fo.holds
    assert hold.reason is records.HoldReason.HIGH_RISK_OF_FRAUD
    assert hold.note == "Billing and shipping countries differ"
    assert hold.held_at == datetime(2026, 11, 20, 10, 5, tzinfo=UTC)


def test_a_guest_order_without_a_location_or_a_delivery_method():
    order = decode_order(FRAUD_HOLD)
    assert order.customer.id == ""
    assert order.customer.email == "guest@example.com"
    assert (order.account_id, order.shipping_address) == ("", None)
    fo = order.fulfillment_orders[0]
    assert fo.location.id == ""
    assert fo.delivery_method.method_type is records.DeliveryMethodType.SHIPPING
    assert fo.delivery_method.service_name == ""


def test_a_cancelled_order_cancels_every_unshipped_unit():
    text = (
        FRAUD_HOLD.replace('"cancelledAt": null', '"cancelledAt": "2026-11-20T11:00:00Z"')
        .replace('"cancelReason": null', '"cancelReason": "FRAUD"')
        .replace('"displayFinancialStatus": "AUTHORIZED"', '"displayFinancialStatus": "VOIDED"')
    )
    order = decode_order(text)  # currentQuantity is still 1: no refund was made
    assert order.cancel_reason is records.CancelReason.FRAUD
    assert order.lines[0].quantities.cancelled == 1


def test_values_shopify_adds_later_do_not_fail_the_order():
    text = (
        FRAUD_HOLD.replace(
            '"displayFulfillmentStatus": "ON_HOLD"', '"displayFulfillmentStatus": "X"'
        )
        .replace('"status": "ON_HOLD"', '"status": "AWAITING_SOMETHING"')
        .replace('"reason": "HIGH_RISK_OF_FRAUD"', '"reason": "AWAITING_RETURN_ITEMS"')
        .replace('"returnStatus": "NO_RETURN"', '"returnStatus": "INSPECTION_COMPLETE"')
        .replace('"displayFinancialStatus": "AUTHORIZED"', '"displayFinancialStatus": null')
    )
    order = decode_order(text)
    assert order.fulfillment_status is records.FulfillmentStatus.UNFULFILLED
    assert order.fulfillment_orders[0].status is records.FulfillmentOrderStatus.IN_PROGRESS
    assert order.fulfillment_orders[0].holds[0].reason is records.HoldReason.OTHER
    assert order.return_status is records.ReturnStatus.RETURNED
    assert order.financial_status is records.FinancialStatus.PENDING


def test_an_orders_page_carries_its_cursor():
    node = msgspec.json.decode(PARTIAL_REFUND)["data"]["nodes"][1]
    page_info = {"hasNextPage": True, "hasPreviousPage": False, "endCursor": "eyJsYXN0IjoxfQ=="}
    text = msgspec.json.encode({"data": {"orders": {"nodes": [node], "pageInfo": page_info}}})
    envelope = msgspec.json.decode(text, type=wire.Envelope[wire.OrdersData])
    assert envelope.data is not None
    page = envelope.data.orders
    assert page.page_info == wire.PageInfo(has_next_page=True, end_cursor="eyJsYXN0IjoxfQ==")
    assert [order_from_shopify(n).id for n in page.nodes] == ["ord_5678901234"]


THROTTLED = """
{"errors": [{"message": "Throttled",
             "extensions": {"code": "THROTTLED",
                            "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
 "extensions": {"cost": {"requestedQueryCost": 752, "actualQueryCost": null,
   "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 666,
                      "restoreRate": 50.0}}}}
"""


def test_a_throttled_answer_has_no_data_and_says_how_long_to_wait():
    envelope = msgspec.json.decode(THROTTLED, type=wire.Envelope[wire.OrdersData])
    assert envelope.data is None and envelope.throttled
    assert envelope.extensions is not None and envelope.extensions.cost is not None
    cost = envelope.extensions.cost
    assert cost.actual_query_cost is None
    assert cost.wait_s() == pytest.approx((752 - 666) / 50.0)


def test_an_answer_with_room_left_is_not_throttled():
    envelope = msgspec.json.decode(PARTIAL_REFUND, type=wire.Envelope[wire.NodesData[wire.Order]])
    assert not envelope.throttled
    assert envelope.extensions is not None and envelope.extensions.cost is not None
    assert envelope.extensions.cost.wait_s() == 0.0


# Variables Shopify's schema does not take: with the code Shopify adds, and as
# graphql-ruby writes them without one; neither ran the query.
INVALID_VARIABLE = msgspec.json.encode({"errors": [{
    "message": "Variable $input of type OrderInput! was provided invalid value for "
               "shippingAddress.countryCode",
    "locations": [{"line": 1, "column": 28}],
    "extensions": {
        "code": "INVALID_VARIABLE",
        "value": {"id": "gid://shopify/Order/1", "shippingAddress": {"countryCode": "AS"}},
        "problems": [{"path": ["shippingAddress", "countryCode"],
                      "explanation": 'Expected "AS" to be one of: AC, AD, AE'}]}}]})  # fmt: skip
WITHOUT_A_CODE = msgspec.json.encode({"errors": [{
    "message": "Variable $ids of type [ID!]! was provided invalid value for 0",
    "locations": [{"line": 1, "column": 19}],
    "extensions": {
        "value": ["52048166948"],
        "problems": [{"path": [0],
                      "explanation": "Invalid global id `52048166948`"}]}}]})  # fmt: skip
NOT_THE_VARIABLES = [
    b'{"errors": [{"message": "Access denied", "extensions": {"code": "ACCESS_DENIED"}}]}',
    b'{"errors": [{"message": "Field \'nope\' doesn\'t exist on type \'Order\'",'
    b' "extensions": {"code": "undefinedField", "typeName": "Order", "fieldName": "nope"}}]}',
    b'{"errors": [{"message": "Internal error. Looks like something went wrong on our end."}]}',
]


@pytest.mark.parametrize(
    ("answer", "refused"),
    [(INVALID_VARIABLE, True), (WITHOUT_A_CODE, True), *((a, False) for a in NOT_THE_VARIABLES)],
)
def test_only_variables_shopify_refused_are_the_callers_input(answer: bytes, refused: bool):
    envelope = msgspec.json.decode(answer, type=wire.Envelope[wire.OrdersData])
    assert envelope.data is None and not envelope.throttled
    assert [refuses_variables(error) for error in envelope.errors] == [refused]
