"""The order mutations' user errors as our refusals
(sources/adapters/shopify/refusals.py)."""

from __future__ import annotations

from typing import Any

import pytest

from sources.adapters.shopify import wire
from sources.adapters.shopify.refusals import Refusal, cancel_refusal, update_refusal
from tests.support.shopify_payloads import through_json


def cancel_errors(*errors: dict[str, Any]) -> list[wire.OrderCancelUserError]:
    payload = {"data": {"orderCancel": {"job": None, "orderCancelUserErrors": list(errors)}}}
    envelope = through_json(payload, wire.Envelope[wire.OrderCancelData])
    assert envelope.data is not None and envelope.data.order_cancel is not None
    return envelope.data.order_cancel.order_cancel_user_errors


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (
            {
                "field": ["orderId"],
                "message": "Cannot cancel an order that has already been canceled",
                "code": "INVALID",
            },
            "ALREADY_CANCELLED",
        ),
        ({"field": None, "message": "Cancellation is already in progress"}, "ALREADY_CANCELLED"),
        (
            {
                "field": ["orderId"],
                "message": "Cannot cancel an order that has outstanding fulfillments",
                "code": "INVALID",
            },
            "NOT_CANCELLABLE",
        ),
        (
            {"field": ["orderId"], "message": "Order does not exist", "code": "NOT_FOUND"},
            "NOT_FOUND",
        ),
        (
            {"field": None, "message": "Internal error", "code": "INTERNAL_ERROR"},
            "SOURCE_UNAVAILABLE",
        ),
        (
            {"field": ["refund"], "message": "No permission", "code": "NO_REFUND_PERMISSION"},
            "SOURCE_UNAVAILABLE",
        ),
        (
            {
                "field": None,
                "message": "No permission",
                "code": "NO_REFUND_TO_STORE_CREDIT_PERMISSION",
            },
            "SOURCE_UNAVAILABLE",
        ),
        (
            {"field": None, "message": "Expired", "code": "STORE_CREDIT_REFUND_EXPIRATION_IN_PAST"},
            "NOT_CANCELLABLE",
        ),
        (
            {
                "field": None,
                "message": "No customer",
                "code": "STORE_CREDIT_REFUND_MISSING_CUSTOMER",
            },
            "NOT_CANCELLABLE",
        ),
        (
            {"field": None, "message": "B2B", "code": "STORE_CREDIT_REFUND_B2B_NOT_SUPPORTED"},
            "NOT_CANCELLABLE",
        ),
        ({"field": None, "message": "Something new", "code": "LATER_CODE"}, "NOT_CANCELLABLE"),
    ],
)
def test_order_cancel_errors_are_our_refusals(error: dict[str, Any], code: str):
    refusal = cancel_refusal(cancel_errors(error))
    assert refusal == Refusal(code, error["message"])


def test_no_cancel_error_is_no_refusal():
    assert cancel_refusal(cancel_errors()) is None


def update_errors(*errors: dict[str, Any]) -> list[wire.UserError]:
    payload = {"data": {"orderUpdate": {"order": None, "userErrors": list(errors)}}}
    envelope = through_json(payload, wire.Envelope[wire.OrderUpdateData])
    assert envelope.data is not None and envelope.data.order_update is not None
    return envelope.data.order_update.user_errors


def test_order_update_errors_are_our_refusals():
    missing = update_errors({"field": ["id"], "message": "Order does not exist"})
    assert update_refusal(missing) == Refusal("NOT_FOUND", "Order does not exist")
    bad_address = update_errors(
        {"field": ["shippingAddress", "zip"], "message": "Enter a ZIP code"},
        {"field": ["shippingAddress", "province"], "message": "State is not a valid state"},
    )
    assert update_refusal(bad_address) == Refusal(
        "BAD_USER_INPUT", "Enter a ZIP code; State is not a valid state"
    )
    nothing = update_errors({"field": None, "message": "No valid update parameters"})
    assert update_refusal(nothing) == Refusal("BAD_USER_INPUT", "No valid update parameters")
    assert update_refusal(update_errors()) is None
