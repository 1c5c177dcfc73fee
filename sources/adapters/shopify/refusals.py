"""The user errors of Shopify's order mutations (``orderCancel``, ``orderUpdate``) as
our refusals: :func:`cancel_refusal` and :func:`update_refusal` say what they answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sources.adapters.shopify import wire
from sources.failures import BAD_USER_INPUT, NOT_FOUND, SOURCE_UNAVAILABLE
from sources.records import ALREADY_CANCELLED, NOT_CANCELLABLE  # as the native OMS answers

# OrderCancelUserErrorCode → ours. Shopify's failures and our app's missing permissions
# are SOURCE_UNAVAILABLE: no refusal of the order, the adapter reports a failure.
CANCEL_REFUSALS: dict[str, str] = {
    "NOT_FOUND": NOT_FOUND,
    "INVALID": NOT_CANCELLABLE,
    "INTERNAL_ERROR": SOURCE_UNAVAILABLE,
    "NO_REFUND_PERMISSION": SOURCE_UNAVAILABLE,
    "NO_REFUND_TO_STORE_CREDIT_PERMISSION": SOURCE_UNAVAILABLE,
    "STORE_CREDIT_REFUND_EXPIRATION_IN_PAST": NOT_CANCELLABLE,
    "STORE_CREDIT_REFUND_MISSING_CUSTOMER": NOT_CANCELLABLE,
    "STORE_CREDIT_REFUND_B2B_NOT_SUPPORTED": NOT_CANCELLABLE,
}
# Shopify tells an order already cancelled (or being cancelled) only in words: INVALID
# "Cannot cancel an order that has already been canceled", and "Cancellation is already
# in progress" without a code (answers of orderCancel recorded from a live shop).
_CANCELLED_WORDS = ("already been cancel", "cancellation is already in progress")


@dataclass(frozen=True, slots=True)
class Refusal:
    """A mutation Shopify refused: our ``code`` and Shopify's words."""

    code: str
    message: str


def cancel_refusal(errors: Sequence[wire.OrderCancelUserError]) -> Refusal | None:
    """Our refusal of ``orderCancel``'s user errors (None for none): the first error's
    code decides; one without a code, or a later one, is NOT_CANCELLABLE."""
    if not errors:
        return None
    first = errors[0]
    code = CANCEL_REFUSALS.get(first.code or "", NOT_CANCELLABLE)
    if code == NOT_CANCELLABLE and any(w in first.message.lower() for w in _CANCELLED_WORDS):
        code = ALREADY_CANCELLED
    return Refusal(code, _messages(errors))


def update_refusal(errors: Sequence[wire.UserError]) -> Refusal | None:
    """Our refusal of ``orderUpdate``'s user errors (None for none). ``UserError`` has no
    code: an error on the order's ``id`` ("Order does not exist") is NOT_FOUND, any
    other (e.g. shippingAddress.zip "Enter a ZIP code") the caller's BAD_USER_INPUT."""
    if not errors:
        return None
    on_id = (errors[0].field or [""])[0] == "id"
    return Refusal(NOT_FOUND if on_id else BAD_USER_INPUT, _messages(errors))


def _messages(errors: Sequence[wire.UserError]) -> str:
    return "; ".join(error.message for error in errors)
