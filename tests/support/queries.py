"""GraphQL documents the tests share."""

ORDER_FIELDS = """
fragment FullOrder on Order {
  id number name placedAt updatedAt cancelledAt cancelReason
  customer { reference name email phone }
  shippingAddress { name line1 city region postalCode countryCode }
  financialStatus fulfillmentStatus returnStatus customerStatus
  promisedDelivery { earliest latest }
  estimatedDelivery { earliest latest }
  lineItems {
    id sku name unitPrice { amount currencyCode }
    quantities { ordered cancelled unfulfilled shipped delivered returned }
    availability { sku available onHand incoming inStock nextRestockAt asOf
                   locations { locationId available committed reserved onHand incoming } }
  }
  fulfillmentOrders {
    id status location { id name countryCode } holds { reason note heldAt }
    deliveryMethod { type serviceName promisedDelivery { earliest latest } }
    lineItems { quantity lineItem { id sku } }
  }
  shipments {
    id carrier { code name } trackingNumber trackingUrl shippedAt
    lineItems { quantity lineItem { id } }
    tracking {
      status milestone subStatus rawTag rawSubtag message lastEventAt
      estimatedDelivery { earliest latest } firstEstimatedDelivery { earliest latest }
      promisedDate firstAttemptAt signedBy updatedAt
      events { occurredAt dateOnly status rawTag rawSubtag message
               location { city region postalCode countryCode } }
    }
  }
  tickets { id reference status priority type channel subject tags createdAt updatedAt url }
}
"""

ORDERS_PAGE = (
    """
query Page($first: Int!, $after: String, $filter: OrderFilter) {
  orders(first: $first, after: $after, filter: $filter) {
    edges { cursor node { ...FullOrder } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
    + ORDER_FIELDS
)

ORDER_BY_NUMBER = (
    """
query One($number: String!) { orderByNumber(number: $number) { ...FullOrder } }
"""
    + ORDER_FIELDS
)

# Mutations
CANCEL = """mutation($input: OrderCancelInput!) { orderCancel(input: $input) {
  order { number customerStatus } userErrors { field message code } } }"""
ADDRESS = """mutation($input: OrderUpdateShippingAddressInput!) {
  orderUpdateShippingAddress(input: $input) {
    status requestId order { number } userErrors { code } } }"""
NEW_ADDRESS = {"name": "Ada Lovelace", "line1": "1 Analytical Way", "city": "London",
               "postalCode": "N1 9GU", "countryCode": "GB"}  # fmt: skip
CREATE = """mutation($input: TicketCreateInput!) { ticketCreate(input: $input) {
  ticket { id reference status priority subject comments { author body public } }
  userErrors { field message code } } }"""
COMMENT = """mutation($input: TicketAddCommentInput!) { ticketAddComment(input: $input) {
  ticket { reference status comments { body } } comment { id author body public }
  userErrors { field message code } } }"""
