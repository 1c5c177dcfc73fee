"""Shopify's enums and tracking companies onto ours, and back (for the simulated
Shopify API).

Our OMS vocabulary follows Shopify's enums under the same names, so each of our values
goes to Shopify as its own name; each table below maps every value Shopify documents
(GraphQL Admin reference, the enum named in brackets) onto ours, with a fallback for a
value Shopify adds later:

- financial [OrderDisplayFinancialStatus]: the same eight; null or later → PENDING (we
  claim no payment we cannot see);
- fulfillment [OrderDisplayFulfillmentStatus]: OPEN and RESTOCKED → UNFULFILLED,
  PENDING_FULFILLMENT → IN_PROGRESS (the replacements the reference names),
  FULFILLMENT_NOT_REQUIRED (2026-10: no items to fulfil) → FULFILLED; later → UNFULFILLED;
- fulfillment order [FulfillmentOrderStatus]: the same seven; later → IN_PROGRESS (we
  never call stoppable what may not be);
- hold reason [FulfillmentHoldReason]: AWAITING_RETURN_ITEMS and
  ONLINE_STORE_POST_PURCHASE_CROSS_SELL → OTHER, as is a later one;
- delivery method [DeliveryMethodType]: PICKUP_POINT → SHIPPING (a carrier takes it to
  a point), NONE and RETAIL → PICK_UP (nothing to ship, no address to change); later →
  SHIPPING;
- cancel reason [OrderCancelReason]: the same six; later → OTHER;
- return status [OrderReturnStatus]: INSPECTION_COMPLETE → RETURNED; later →
  IN_PROGRESS (a return we cannot name is still one);
- country [CountryCode]: the codes a shipping address may carry. Not ISO 3166-1 whole:
  Shopify files some territories under another country's code ("the territories
  associated with the United States of America are represented by ... US"), so AS,
  GU, MP, PR, VI, FM, MH and PW are not values, nor is AQ; AC, AN, TA, XK and ZZ are.
  An address with another code is refused before it is sent (Shopify would refuse
  the whole request).

Carriers are ``FulfillmentTrackingInfo.company`` names: UPS, USPS, FedEx, DHL Express
from Shopify's list of tracking companies ↔ ups, usps, fedex, dhl; any other lowercased.
"""

from __future__ import annotations

from sources import records
from sources.adapters.vocabulary import Vocabulary, by_name

FINANCIAL_STATUS = Vocabulary(by_name(records.FinancialStatus), records.FinancialStatus.PENDING)
FULFILLMENT_STATUS = Vocabulary(
    by_name(records.FulfillmentStatus),
    records.FulfillmentStatus.UNFULFILLED,
    aliases={
        "OPEN": records.FulfillmentStatus.UNFULFILLED,
        "RESTOCKED": records.FulfillmentStatus.UNFULFILLED,
        "PENDING_FULFILLMENT": records.FulfillmentStatus.IN_PROGRESS,
        "FULFILLMENT_NOT_REQUIRED": records.FulfillmentStatus.FULFILLED,
    },
)
FULFILLMENT_ORDER_STATUS = Vocabulary(
    by_name(records.FulfillmentOrderStatus), records.FulfillmentOrderStatus.IN_PROGRESS
)
HOLD_REASON = Vocabulary(
    by_name(records.HoldReason),
    records.HoldReason.OTHER,
    aliases={
        "AWAITING_RETURN_ITEMS": records.HoldReason.OTHER,
        "ONLINE_STORE_POST_PURCHASE_CROSS_SELL": records.HoldReason.OTHER,
    },
)
DELIVERY_METHOD_TYPE = Vocabulary(
    by_name(records.DeliveryMethodType),
    records.DeliveryMethodType.SHIPPING,
    aliases={
        "PICKUP_POINT": records.DeliveryMethodType.SHIPPING,
        "NONE": records.DeliveryMethodType.PICK_UP,
        "RETAIL": records.DeliveryMethodType.PICK_UP,
    },
)
CANCEL_REASON = Vocabulary(by_name(records.CancelReason), records.CancelReason.OTHER)
RETURN_STATUS = Vocabulary(
    by_name(records.ReturnStatus),
    records.ReturnStatus.IN_PROGRESS,
    aliases={"INSPECTION_COMPLETE": records.ReturnStatus.RETURNED},
)

# CountryCode as the reference lists it (the module's docstring says what differs)
COUNTRY_CODES = frozenset((
    "AC", "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AN", "AO", "AR", "AT", "AU", "AW", "AX",
    "AZ", "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ",
    "BR", "BS", "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK",
    "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM",
    "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FO", "FR", "GA",
    "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT",
    "GW", "GY", "HK", "HM", "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ",
    "IR", "IS", "IT", "JE", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR",
    "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA",
    "MC", "MD", "ME", "MF", "MG", "MK", "ML", "MM", "MN", "MO", "MQ", "MR", "MS", "MT", "MU",
    "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR",
    "NU", "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PS", "PT", "PY",
    "QA", "RE", "RO", "RS", "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ",
    "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ", "TA", "TC", "TD",
    "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ", "UA",
    "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VN", "VU", "WF", "WS", "XK", "YE",
    "YT", "ZA", "ZM", "ZW", "ZZ",
))  # fmt: skip

# our carrier codes ↔ "Supported tracking companies" (FulfillmentTrackingInfo.company)
TRACKING_COMPANIES: dict[str, str] = {
    "ups": "UPS",
    "usps": "USPS",
    "fedex": "FedEx",
    "dhl": "DHL Express",
}
_CARRIERS = {company: code for code, company in TRACKING_COMPANIES.items()}


def carrier_code(company: str | None) -> str:
    """Our carrier code of a Shopify tracking company ("" for none)."""
    return "" if company is None else _CARRIERS.get(company, company.lower())


def tracking_company(code: str) -> str | None:
    """Shopify's tracking company of our carrier code (the code itself if unlisted)."""
    return TRACKING_COMPANIES.get(code, code) or None
