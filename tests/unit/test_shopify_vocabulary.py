"""Shopify's enums and tracking companies (sources/adapters/shopify/vocabulary.py):
every value the reference documents onto ours, ours back by name, and the fallbacks."""

from __future__ import annotations

import enum
from typing import Any

import pytest

from domain import addresses
from sources import records
from sources.adapters.shopify import vocabulary as shopify
from sources.adapters.shopify.adapter import INVALID_COUNTRY
from sources.adapters.vocabulary import Vocabulary

# --- vocabularies: every value the reference documents, onto ours ---------------------

SHOPIFY_VALUES: dict[str, tuple[Vocabulary[Any], dict[str, enum.Enum], enum.Enum]] = {
    # name: (vocabulary, {Shopify's value: ours}, ours for a value Shopify adds later)
    "OrderDisplayFinancialStatus": (
        shopify.FINANCIAL_STATUS,
        {
            "AUTHORIZED": records.FinancialStatus.AUTHORIZED,
            "EXPIRED": records.FinancialStatus.EXPIRED,
            "PAID": records.FinancialStatus.PAID,
            "PARTIALLY_PAID": records.FinancialStatus.PARTIALLY_PAID,
            "PARTIALLY_REFUNDED": records.FinancialStatus.PARTIALLY_REFUNDED,
            "PENDING": records.FinancialStatus.PENDING,
            "REFUNDED": records.FinancialStatus.REFUNDED,
            "VOIDED": records.FinancialStatus.VOIDED,
        },
        records.FinancialStatus.PENDING,
    ),
    "OrderDisplayFulfillmentStatus": (
        shopify.FULFILLMENT_STATUS,
        {
            "FULFILLED": records.FulfillmentStatus.FULFILLED,
            "FULFILLMENT_NOT_REQUIRED": records.FulfillmentStatus.FULFILLED,
            "IN_PROGRESS": records.FulfillmentStatus.IN_PROGRESS,
            "ON_HOLD": records.FulfillmentStatus.ON_HOLD,
            "OPEN": records.FulfillmentStatus.UNFULFILLED,
            "PARTIALLY_FULFILLED": records.FulfillmentStatus.PARTIALLY_FULFILLED,
            "PENDING_FULFILLMENT": records.FulfillmentStatus.IN_PROGRESS,
            "REQUEST_DECLINED": records.FulfillmentStatus.REQUEST_DECLINED,
            "RESTOCKED": records.FulfillmentStatus.UNFULFILLED,
            "SCHEDULED": records.FulfillmentStatus.SCHEDULED,
            "UNFULFILLED": records.FulfillmentStatus.UNFULFILLED,
        },
        records.FulfillmentStatus.UNFULFILLED,
    ),
    "FulfillmentOrderStatus": (
        shopify.FULFILLMENT_ORDER_STATUS,
        {
            "CANCELLED": records.FulfillmentOrderStatus.CANCELLED,
            "CLOSED": records.FulfillmentOrderStatus.CLOSED,
            "INCOMPLETE": records.FulfillmentOrderStatus.INCOMPLETE,
            "IN_PROGRESS": records.FulfillmentOrderStatus.IN_PROGRESS,
            "ON_HOLD": records.FulfillmentOrderStatus.ON_HOLD,
            "OPEN": records.FulfillmentOrderStatus.OPEN,
            "SCHEDULED": records.FulfillmentOrderStatus.SCHEDULED,
        },
        records.FulfillmentOrderStatus.IN_PROGRESS,
    ),
    "FulfillmentHoldReason": (
        shopify.HOLD_REASON,
        {
            "AWAITING_PAYMENT": records.HoldReason.AWAITING_PAYMENT,
            "AWAITING_RETURN_ITEMS": records.HoldReason.OTHER,
            "HIGH_RISK_OF_FRAUD": records.HoldReason.HIGH_RISK_OF_FRAUD,
            "INCORRECT_ADDRESS": records.HoldReason.INCORRECT_ADDRESS,
            "INVENTORY_OUT_OF_STOCK": records.HoldReason.INVENTORY_OUT_OF_STOCK,
            "ONLINE_STORE_POST_PURCHASE_CROSS_SELL": records.HoldReason.OTHER,
            "OTHER": records.HoldReason.OTHER,
            "UNKNOWN_DELIVERY_DATE": records.HoldReason.UNKNOWN_DELIVERY_DATE,
        },
        records.HoldReason.OTHER,
    ),
    "DeliveryMethodType": (
        shopify.DELIVERY_METHOD_TYPE,
        {
            "LOCAL": records.DeliveryMethodType.LOCAL,
            "NONE": records.DeliveryMethodType.PICK_UP,
            "PICKUP_POINT": records.DeliveryMethodType.SHIPPING,
            "PICK_UP": records.DeliveryMethodType.PICK_UP,
            "RETAIL": records.DeliveryMethodType.PICK_UP,
            "SHIPPING": records.DeliveryMethodType.SHIPPING,
        },
        records.DeliveryMethodType.SHIPPING,
    ),
    "OrderCancelReason": (
        shopify.CANCEL_REASON,
        {
            "CUSTOMER": records.CancelReason.CUSTOMER,
            "DECLINED": records.CancelReason.DECLINED,
            "FRAUD": records.CancelReason.FRAUD,
            "INVENTORY": records.CancelReason.INVENTORY,
            "OTHER": records.CancelReason.OTHER,
            "STAFF": records.CancelReason.STAFF,
        },
        records.CancelReason.OTHER,
    ),
    "OrderReturnStatus": (
        shopify.RETURN_STATUS,
        {
            "INSPECTION_COMPLETE": records.ReturnStatus.RETURNED,
            "IN_PROGRESS": records.ReturnStatus.IN_PROGRESS,
            "NO_RETURN": records.ReturnStatus.NO_RETURN,
            "RETURNED": records.ReturnStatus.RETURNED,
            "RETURN_FAILED": records.ReturnStatus.RETURN_FAILED,
            "RETURN_REQUESTED": records.ReturnStatus.RETURN_REQUESTED,
        },
        records.ReturnStatus.IN_PROGRESS,
    ),
}
INBOUND = [
    pytest.param(vocabulary, value, ours, id=f"{name}.{value}")
    for name, (vocabulary, table, _) in SHOPIFY_VALUES.items()
    for value, ours in table.items()
]
OUTBOUND = [
    pytest.param(vocabulary, table, ours, id=f"{name}.{ours.name}")
    for name, (vocabulary, table, fallback) in SHOPIFY_VALUES.items()
    for ours in type(fallback)
]


@pytest.mark.parametrize(("vocabulary", "theirs", "ours"), INBOUND)
def test_each_shopify_value_is_ours(vocabulary: Vocabulary[Any], theirs: str, ours: enum.Enum):
    assert vocabulary.read(theirs) is ours


@pytest.mark.parametrize(("vocabulary", "documented", "ours"), OUTBOUND)
def test_each_of_our_values_is_shopifys_of_the_same_name(
    vocabulary: Vocabulary[Any], documented: dict[str, enum.Enum], ours: enum.Enum
):
    theirs = vocabulary.write(ours)
    assert theirs == ours.name
    assert documented[theirs] is ours  # a value Shopify documents, read back as ours


@pytest.mark.parametrize("name", SHOPIFY_VALUES)
def test_a_table_holds_exactly_the_documented_values(name: str):
    vocabulary, table, _ = SHOPIFY_VALUES[name]
    assert {*vocabulary.ours.values(), *vocabulary.aliases} == set(table)


@pytest.mark.parametrize("name", SHOPIFY_VALUES)
@pytest.mark.parametrize("later", ["SOMETHING_SHOPIFY_ADDS_LATER", None])
def test_a_later_or_missing_value_is_the_documented_fallback(name: str, later: str | None):
    vocabulary, _, fallback = SHOPIFY_VALUES[name]
    assert vocabulary.read(later) is fallback


@pytest.mark.parametrize(
    ("code", "company"),
    [("ups", "UPS"), ("usps", "USPS"), ("fedex", "FedEx"), ("dhl", "DHL Express")],
)
def test_carriers_are_shopifys_tracking_companies(code: str, company: str):
    assert shopify.tracking_company(code) == company
    assert shopify.carrier_code(company) == code


def test_an_unlisted_carrier_keeps_its_name():
    assert shopify.tracking_company("dpd") == "dpd"
    assert shopify.carrier_code("Canada Post") == "canada post"
    assert shopify.tracking_company("") is None
    assert shopify.carrier_code(None) == ""


# --- countries: CountryCode (GraphQL Admin reference) against ISO 3166-1 ---------------

# ISO codes that are no CountryCode value: US territories and the states in free
# association with the US (filed under US), and Antarctica.
NOT_SHOPIFYS = {"AQ", "AS", "FM", "GU", "MH", "MP", "PR", "PW", "VI"}
# CountryCode values that are no officially assigned ISO code: Ascension Island,
# Netherlands Antilles, Tristan da Cunha, Kosovo, and an unknown region.
ONLY_SHOPIFYS = {"AC", "AN", "TA", "XK", "ZZ"}


def test_shopifys_countries_are_iso_codes_less_the_territories_it_files_elsewhere():
    assert addresses.COUNTRY_CODES - shopify.COUNTRY_CODES == NOT_SHOPIFYS
    assert shopify.COUNTRY_CODES - addresses.COUNTRY_CODES == ONLY_SHOPIFYS
    assert len(shopify.COUNTRY_CODES) == 245


def test_a_country_shopify_lacks_is_refused_as_the_address_rules_refuse_one():
    assert INVALID_COUNTRY == addresses.INVALID_COUNTRY
