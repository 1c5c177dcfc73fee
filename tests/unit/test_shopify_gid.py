"""Shopify's global ids and ours (sources/adapters/shopify/gid.py): built, parsed,
refused when malformed, and the prefixes that make a gid one of our ids."""

from __future__ import annotations

import pytest

from sources.adapters.shopify.gid import gid, item_gid, our_id, parse_gid, shopify_gid, to_gid


def test_gids_are_built_and_parsed():
    assert gid("Order", "123") == "gid://shopify/Order/123"
    assert parse_gid("gid://shopify/Order/123") == ("Order", "123")
    assert parse_gid("gid://shopify/Job/810c0b1a-d0fe-4ce1-9be0-2c3c781a9787")[1].startswith("810c")
    assert parse_gid("gid://shopify/InventoryLevel/523463154?inventory_item_id=30322695") == (
        "InventoryLevel",
        "523463154",
    )


@pytest.mark.parametrize(
    "value", ["123", "gid://shopify/Order/123"], ids=["legacy id", "gid of the type"]
)
def test_a_legacy_id_or_a_gid_becomes_a_gid(value: str):
    assert to_gid("Order", value) == "gid://shopify/Order/123"


@pytest.mark.parametrize(
    "value",
    [
        *("", "Order/123", "gid://other/Order/123"),  # no Shopify gid at all
        *("gid://shopify/Order/", "gid://shopify/Order", "gid://shopify//123"),  # a part missing
        *("gid://shopify/order/123", "gid://shopify/Order/1/2"),  # a type or tail malformed
        # whitespace inside or around
        *("gid://shopify/Order/1 2", " gid://shopify/Order/1", "gid://shopify/Order/1\n"),
        *("12a", "-1", "1.5"),  # a legacy id that is not digits
        "gid://shopify/LineItem/123",  # another type's gid
    ],
)
def test_a_malformed_id_is_refused(value: str):
    with pytest.raises(ValueError):
        to_gid("Order", value)


@pytest.mark.parametrize(("type_", "legacy_id"), [("order", "1"), ("Order", ""), ("Order", "a/b")])
def test_a_gid_is_not_built_of_bad_parts(type_: str, legacy_id: str):
    with pytest.raises(ValueError):
        gid(type_, legacy_id)


@pytest.mark.parametrize(
    ("type_", "ours", "shopify"),
    [
        ("Order", "ord_811127", "gid://shopify/Order/811127"),
        ("Customer", "cus_27800", "gid://shopify/Customer/27800"),
        ("LineItem", "li_8359113", "gid://shopify/LineItem/8359113"),
        ("FulfillmentOrder", "fo_4568467", "gid://shopify/FulfillmentOrder/4568467"),
        ("Fulfillment", "shp_1234567", "gid://shopify/Fulfillment/1234567"),
        ("Location", "loc_us_east", "gid://shopify/Location/us_east"),
    ],
)
def test_our_ids_are_gids_with_a_prefix(type_: str, ours: str, shopify: str):
    assert shopify_gid(type_, ours) == shopify
    assert our_id(shopify) == ours


def test_a_caller_may_name_an_order_three_ways():
    expected = "gid://shopify/Order/1001"
    assert {shopify_gid("Order", v) for v in ("ord_1001", "1001", expected)} == {expected}
    for wrong in ("li_1001", "gid://shopify/LineItem/1001", "ord_", "ord_1 2"):
        with pytest.raises(ValueError):
            shopify_gid("Order", wrong)
    with pytest.raises(ValueError):
        our_id("gid://shopify/Product/1")


def test_inventory_items_get_a_stable_numeric_gid():
    first = item_gid("TEE-ORG-BLK-M")
    assert first == item_gid("TEE-ORG-BLK-M") != item_gid("TEE-ORG-WHT-L")
    type_, legacy_id = parse_gid(first)
    assert type_ == "InventoryItem" and legacy_id.isdigit()
