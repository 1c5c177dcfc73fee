"""Client of the order management system."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sources.clients.changes import send_change
from sources.clients.http import SourceClient
from sources.records import (
    AddressChange,
    CancelOrderRequest,
    CancelReason,
    FinancialStatus,
    FulfillmentStatus,
    LineQuantity,
    MailingAddress,
    Order,
    OrderPage,
)


@dataclass(frozen=True, slots=True)
class OrderSearch:
    """Filters of the OMS order list; every field is optional and they are ANDed."""

    customer_id: str | None = None
    account_id: str | None = None
    statuses: tuple[FulfillmentStatus, ...] = ()
    financial_statuses: tuple[FinancialStatus, ...] = ()
    updated_since: datetime | None = None
    placed_from: datetime | None = None
    placed_to: datetime | None = None

    def params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        if self.customer_id is not None:
            params["customerId"] = self.customer_id
        if self.account_id is not None:
            params["accountId"] = self.account_id
        if self.statuses:
            params["status"] = ",".join(s.value for s in self.statuses)
        if self.financial_statuses:
            params["financialStatus"] = ",".join(s.value for s in self.financial_statuses)
        for key, value in (
            ("updatedSince", self.updated_since),
            ("placedFrom", self.placed_from),
            ("placedTo", self.placed_to),
        ):
            if value is not None:
                params[key] = value.isoformat()
        return params


class OmsClient(SourceClient):
    name = "oms"

    async def orders_by_ids(self, ids: list[str]) -> dict[str, Order | None]:
        return await self.fetch_batch("/orders", "ids", ids, Order, lambda order: order.id)

    async def orders_by_numbers(self, numbers: list[str]) -> dict[str, Order | None]:
        return await self.fetch_batch(
            "/orders/by-number", "numbers", numbers, Order, lambda order: order.number
        )

    async def search_orders(
        self, search: OrderSearch, *, limit: int, cursor: str | None = None
    ) -> OrderPage:
        params = search.params()
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
