"""The GraphQL documents the Shopify adapters send: exactly the fields :mod:`.wire`
reads (GraphQL Admin API reference), connections read through ``nodes``.

Nested connections ask for the most a page holds and say whether they were cut short
(``pageInfo { hasNextPage }``): an order or item that does not fit one page is
reported unreadable rather than read incomplete. The operation names are the keys
the adapters pace their costs by (:mod:`.cost`).
"""

from __future__ import annotations

import json

from sources.adapters.shopify.wire import MAX_PAGE, QUANTITY_NAMES

_ORDER_FIELDS = f"""
fragment OrderFields on Order {{
  id legacyResourceId name sourceName email
  customer {{
    id displayName defaultEmailAddress {{ emailAddress }} defaultPhoneNumber {{ phoneNumber }}
  }}
  shippingAddress {{ name address1 address2 city provinceCode zip countryCodeV2 phone }}
  displayFinancialStatus displayFulfillmentStatus currencyCode createdAt updatedAt
  cancelledAt cancelReason returnStatus
  lineItems(first: {MAX_PAGE}) {{
    nodes {{
      id sku name quantity currentQuantity unfulfilledQuantity
      originalUnitPriceSet {{ shopMoney {{ amount currencyCode }} }}
    }}
    pageInfo {{ hasNextPage }}
  }}
  fulfillmentOrders(first: {MAX_PAGE}) {{
    nodes {{
      id status updatedAt
      assignedLocation {{ name countryCode location {{ id }} }}
      deliveryMethod {{ methodType presentedName minDeliveryDateTime maxDeliveryDateTime }}
      fulfillmentHolds {{ reason reasonNotes }}
      lineItems(first: {MAX_PAGE}) {{
        nodes {{ lineItem {{ id }} totalQuantity remainingQuantity }}
        pageInfo {{ hasNextPage }}
      }}
    }}
    pageInfo {{ hasNextPage }}
  }}
  fulfillments(first: {MAX_PAGE}) {{
    id status displayStatus createdAt
    trackingInfo(first: 1) {{ company number }}
    fulfillmentLineItems(first: {MAX_PAGE}) {{
      nodes {{ lineItem {{ id }} quantity }}
      pageInfo {{ hasNextPage }}
    }}
    fulfillmentOrders(first: 1) {{ nodes {{ id }} }}
  }}
  refunds(first: {MAX_PAGE}) {{
    id createdAt
    refundLineItems(first: {MAX_PAGE}) {{
      nodes {{ lineItem {{ id }} quantity restockType }}
      pageInfo {{ hasNextPage }}
    }}
  }}
}}
"""

_ITEM_FIELDS = f"""
fragment ItemFields on InventoryItem {{
  id sku
  inventoryLevels(first: {MAX_PAGE}) {{
    nodes {{
      location {{ id }}
      quantities(names: {json.dumps(list(QUANTITY_NAMES))}) {{ name quantity }}
      updatedAt
    }}
    pageInfo {{ hasNextPage }}
  }}
}}
"""

ORDERS_BY_ID = "OrdersById"
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
