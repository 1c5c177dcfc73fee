"""Client of the order management system."""

from __future__ import annotations

from sources.adapters.search import OrderSearch
from sources.clients.changes import send_change
from sources.clients.http import SourceClient
from sources.records import (
    AddressChange,
    CancelOrderRequest,
    CancelReason,
    LineQuantity,
    MailingAddress,
    Order,
    OrderPage,
)


def _params(search: OrderSearch) -> dict[str, str]:
    """``search`` as the native OMS's query string."""
    params: dict[str, str] = {}
    if search.customer_id is not None:
        params["customerId"] = search.customer_id
    if search.account_id is not None:
        params["accountId"] = search.account_id
    if search.statuses:
        params["status"] = ",".join(s.value for s in search.statuses)
    if search.financial_statuses:
        params["financialStatus"] = ",".join(s.value for s in search.financial_statuses)
    for key, value in (
        ("updatedSince", search.updated_since),
        ("placedFrom", search.placed_from),
        ("placedTo", search.placed_to),
    ):
        if value is not None:
            params[key] = value.isoformat()
    return params


class OmsClient(SourceClient):
    name = "oms"
    cancels_lines = True

    async def orders_by_ids(self, ids: list[str]) -> dict[str, Order | None]:
        return await self.fetch_batch("/orders", "ids", ids, Order, lambda order: order.id)

    async def orders_by_numbers(self, numbers: list[str]) -> dict[str, Order | None]:
        return await self.fetch_batch(
            "/orders/by-number", "numbers", numbers, Order, lambda order: order.number
        )

    async def search_orders(
        self, search: OrderSearch, *, limit: int, cursor: str | None = None
    ) -> OrderPage:
        params = _params(search)
        params["limit"] = str(limit)
        if cursor is not None:
            params["cursor"] = cursor
        return await self.request_json("GET", "/orders/search", OrderPage, params=params)

    async def cancel_order(
        self, order_id: str, reason: CancelReason, lines: list[LineQuantity] | None = None
    ) -> Order:
        """Cancel the whole order, or only ``lines``; raises
        :class:`~sources.clients.changes.ChangeRefused` when the OMS refuses. Never
        retried: a lost answer may still have cancelled."""
        body = CancelOrderRequest(reason=reason, lines=lines)
        return await send_change(self, f"/orders/{order_id}/cancel", body, Order)

    async def change_shipping_address(
        self, order_id: str, address: MailingAddress
    ) -> AddressChange:
        """Apply ``address`` (APPLIED) or ask the warehouse holding the work (REQUESTED);
        raises :class:`~sources.clients.changes.ChangeRefused` when the OMS refuses.
        Never retried."""
        return await send_change(
            self, f"/orders/{order_id}/shipping-address", address, AddressChange, accepted=(202,)
        )
