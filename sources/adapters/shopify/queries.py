"""The GraphQL documents the Shopify adapters send: exactly the fields :mod:`.wire`
reads (GraphQL Admin API reference), connections read through ``nodes``.

A batch read asks short nested pages (:data:`NESTED_PAGE` lines of everything,
:data:`OUTER_PAGE` fulfillment orders, fulfillments and refunds; :data:`LEVEL_PAGE`
levels of an item), because Shopify's documented cost weighs every nested connection
by its ``first`` and multiplies nested ones: so asked, an order costs 424 points and
fits one query (1,000 at most) even by that rule, where pages of 250 cost 380,009. A
node longer than its pages (a connection with ``pageInfo { hasNextPage }``, a list as
long as its ``first``) is read again whole, with pages of 250 (the ``Whole*``
documents); one longer still is reported unreadable rather than read incomplete. The
operation names are the keys the adapters pace their costs by (:mod:`.cost`).
"""

from __future__ import annotations

import json

from sources.adapters.shopify.wire import MAX_PAGE, QUANTITY_NAMES

NESTED_PAGE = 10  # an order's lines, and the lines of each of its parts, in a batch read
OUTER_PAGE = 5  # an order's fulfillment orders, fulfillments and refunds, likewise
LEVEL_PAGE = 10  # an item's levels (one a location), likewise


def _order_fields(fragment: str, outer: int, nested: int) -> str:
    return f"""
fragment {fragment} on Order {{
  id legacyResourceId name sourceName email
  customer {{
    id displayName defaultEmailAddress {{ emailAddress }} defaultPhoneNumber {{ phoneNumber }}
  }}
  shippingAddress {{ name address1 address2 city provinceCode zip countryCodeV2 phone }}
  displayFinancialStatus displayFulfillmentStatus currencyCode createdAt updatedAt
  cancelledAt cancelReason returnStatus
  lineItems(first: {nested}) {{
    nodes {{
      id sku name quantity currentQuantity unfulfilledQuantity
      originalUnitPriceSet {{ shopMoney {{ amount currencyCode }} }}
    }}
    pageInfo {{ hasNextPage }}
  }}
  fulfillmentOrders(first: {outer}) {{
    nodes {{
      id status updatedAt
      assignedLocation {{ name countryCode location {{ id }} }}
      deliveryMethod {{ methodType presentedName minDeliveryDateTime maxDeliveryDateTime }}
      fulfillmentHolds {{ reason reasonNotes }}
      lineItems(first: {nested}) {{
        nodes {{ lineItem {{ id }} totalQuantity remainingQuantity }}
        pageInfo {{ hasNextPage }}
      }}
    }}
    pageInfo {{ hasNextPage }}
  }}
  fulfillments(first: {outer}) {{
    id status displayStatus createdAt
    trackingInfo(first: 1) {{ company number }}
    fulfillmentLineItems(first: {nested}) {{
      nodes {{ lineItem {{ id }} quantity }}
      pageInfo {{ hasNextPage }}
    }}
    fulfillmentOrders(first: 1) {{ nodes {{ id }} }}
  }}
  refunds(first: {outer}) {{
    id createdAt
    refundLineItems(first: {nested}) {{
      nodes {{ lineItem {{ id }} quantity restockType }}
      pageInfo {{ hasNextPage }}
    }}
  }}
}}
"""


def _item_fields(fragment: str, levels: int) -> str:
    return f"""
fragment {fragment} on InventoryItem {{
  id sku
  inventoryLevels(first: {levels}) {{
    nodes {{
      location {{ id }}
      quantities(names: {json.dumps(list(QUANTITY_NAMES))}) {{ name quantity }}
      updatedAt
    }}
    pageInfo {{ hasNextPage }}
  }}
}}
"""


_ORDER_FIELDS = _order_fields("OrderFields", OUTER_PAGE, NESTED_PAGE)
_WHOLE_ORDER_FIELDS = _order_fields("WholeOrderFields", MAX_PAGE, MAX_PAGE)
_ITEM_FIELDS = _item_fields("ItemFields", LEVEL_PAGE)
_WHOLE_ITEM_FIELDS = _item_fields("WholeItemFields", MAX_PAGE)

ORDERS_BY_ID = "OrdersById"
WHOLE_ORDERS_BY_ID = "WholeOrdersById"
WHOLE_ITEMS_BY_ID = "WholeItemsById"
ORDERS_LISTED = "OrdersListed"
ITEMS_BY_SKU = "ItemsBySku"
CANCEL_ORDER = "CancelOrder"
CANCEL_JOB = "CancelJob"
CHANGE_ADDRESS = "ChangeShippingAddress"
ITEM_SKUS = "ItemSkus"

DOCUMENTS: dict[str, str] = {
    ORDERS_BY_ID: f"""
query {ORDERS_BY_ID}($ids: [ID!]!) {{
  nodes(ids: $ids) {{ ... on Order {{ ...OrderFields }} }}
}}
{_ORDER_FIELDS}""",
    WHOLE_ORDERS_BY_ID: f"""
query {WHOLE_ORDERS_BY_ID}($ids: [ID!]!) {{
  nodes(ids: $ids) {{ ... on Order {{ ...WholeOrderFields }} }}
}}
{_WHOLE_ORDER_FIELDS}""",
    WHOLE_ITEMS_BY_ID: f"""
query {WHOLE_ITEMS_BY_ID}($ids: [ID!]!) {{
  nodes(ids: $ids) {{ ... on InventoryItem {{ ...WholeItemFields }} }}
}}
{_WHOLE_ITEM_FIELDS}""",
    # newest first: our order list's order (sources.adapters.shopify.search.order_query)
    ORDERS_LISTED: f"""
query {ORDERS_LISTED}($first: Int!, $after: String, $query: String) {{
  orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT, reverse: true) {{
    edges {{ cursor node {{ ...OrderFields }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
{_ORDER_FIELDS}""",
    ITEMS_BY_SKU: f"""
query {ITEMS_BY_SKU}($first: Int!, $query: String!) {{
  inventoryItems(first: $first, query: $query) {{
    nodes {{ ...ItemFields }}
    pageInfo {{ hasNextPage }}
  }}
}}
{_ITEM_FIELDS}""",
    # the whole order: refunded to the payment methods it was paid with, its unshipped
    # stock restocked, the customer not notified (the caller's channel says so)
    CANCEL_ORDER: f"""
mutation {CANCEL_ORDER}($orderId: ID!, $reason: OrderCancelReason!) {{
  orderCancel(
    orderId: $orderId
    reason: $reason
    refundMethod: {{ originalPaymentMethodsRefund: true }}
    restock: true
    notifyCustomer: false
  ) {{
    job {{ id done }}
    orderCancelUserErrors {{ field message code }}
  }}
}}""",
    # what an inventory webhook's item is, by id (the webhook names no SKU)
    ITEM_SKUS: f"""
query {ITEM_SKUS}($ids: [ID!]!) {{
  nodes(ids: $ids) {{ ... on InventoryItem {{ id sku }} }}
}}""",
    CANCEL_JOB: f"""
query {CANCEL_JOB}($id: ID!) {{
  job(id: $id) {{ id done }}
}}""",
    CHANGE_ADDRESS: f"""
mutation {CHANGE_ADDRESS}($input: OrderInput!) {{
  orderUpdate(input: $input) {{
    order {{ ...OrderFields }}
    userErrors {{ field message }}
  }}
}}
{_ORDER_FIELDS}""",
}

PING = "query Ping { shop { name } }"
