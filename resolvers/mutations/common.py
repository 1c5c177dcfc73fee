"""The GraphQL parts every mutation shares: :class:`UserError`, the type of every
payload's ``userErrors``, and :func:`idempotency_key_field`, every input's
``idempotencyKey``."""

from __future__ import annotations

from typing import Any

import strawberry

from resolvers.idempotency import KEEP_S
from sources.clients.changes import IDEMPOTENCY_KEY_REUSED


@strawberry.type(description="Why a mutation did not do what was asked; nothing was changed.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["orderId"]; null when the '
        "refusal is about the whole request."
    )
    message: str = strawberry.field(description="What went wrong, for a person to read.")
    code: str = strawberry.field(
        description="Stable code to act on, e.g. NOT_FOUND, TICKET_CLOSED, or a `ChangeReason`."
    )


def idempotency_key_field() -> Any:
    """Every mutation input's ``idempotencyKey``: optional, kept for :data:`KEEP_S`."""
    return strawberry.field(
        default=None,
        description="Any unique string: a repeat with the same key and input within "
        f"{KEEP_S / 3600:g} hours gets the first outcome and the change is made once; the "
        f"same key with another input is refused ({IDEMPOTENCY_KEY_REUSED}). A refusal "
        "made before the source is asked (input, eligibility), or the source's rejection "
        "of the input as invalid, is not kept: the same key may carry the corrected input.",
    )
