"""What a mutation is about, as the caller may see it: the record its input's global id
names (a user error when the id names none, or an order that is missing or another
tenant's), and the order the mutation answers with."""

from __future__ import annotations

from resolvers.client_errors import INVALID_ID, NOT_FOUND, UserInputError
from resolvers.mutations.runner import MutationRefused, Outcome
from resolvers.relay import expect_global_id
from resolvers.types.order import Info, Order
from sources import records
from sources.cache.through import Cached, Freshness


def id_parts(global_id: str, type_name: str, parts: int, field: str) -> list[str]:
    """The parts of ``global_id``, which must name a ``type_name`` (else INVALID_ID)."""
    try:
        return expect_global_id(global_id, type_name, parts)
    except UserInputError as exc:
        raise MutationRefused(field, exc.message, INVALID_ID) from None


async def visible_order(info: Info, order_id: str, field: str) -> records.Order:
    """The order, if the caller's tenant may see it: another tenant's order is
    NOT_FOUND, exactly like one that does not exist."""
    order = (await info.context.loaders.order_by_id.load(order_id)).value
    if order is None or not info.context.access.sees(order.account_id):
        raise MutationRefused(field, "no such order", NOT_FOUND)
    return order


def order_of(info: Info, outcome: Outcome) -> Order | None:
    """The order ``outcome`` answers with, as the caller may see it: None when it
    answers none (a refusal) or the order is not the caller's tenant's."""
    if outcome.order is None:
        return None
    cached = Cached(outcome.order, Freshness.FRESH, info.context.clock.time())
    return Order.visible(cached, info.context.access)
