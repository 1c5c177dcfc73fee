"""Client of the order management system."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import msgspec

from sources.clients.http import SourceAnswered, SourceClient
from sources.errors import SOURCE_BAD_RESPONSE, SourceError
from sources.records import (
    AddressChange,
    CancelOrderRequest,
    CancelReason,
    ErrorBody,
    FinancialStatus,
    FulfillmentStatus,
    LineQuantity,
    MailingAddress,
    Order,
    OrderPage,
)

T = TypeVar("T")
_CONFLICT = 409


class SourceRefused(SourceError):
    """The OMS refused a change (409): ``code`` is its ErrorBody code (ALREADY_SHIPPED,
    IN_FULFILLMENT, ...), a user error rather than an outage."""

    def __init__(self, source: str, code: str, message: str) -> None:
        super().__init__(source, code, message, retryable=False)
        self.message = message


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
        """Cancel the whole order, or only ``lines``; raises :class:`SourceRefused` when
        the OMS refuses. Never retried: a lost answer may still have cancelled."""
        body = CancelOrderRequest(reason=reason, lines=lines)
        return await self._change(f"/orders/{order_id}/cancel", body, Order)

    async def change_shipping_address(
        self, order_id: str, address: MailingAddress
    ) -> AddressChange:
        """Apply ``address`` (APPLIED) or ask the warehouse holding the work (REQUESTED);
        raises :class:`SourceRefused` when the OMS refuses. Never retried."""
        return await self._change(
            f"/orders/{order_id}/shipping-address", address, AddressChange, accepted=(202,)
        )

    async def _change(
        self, path: str, body: msgspec.Struct, into: type[T], accepted: tuple[int, ...] = ()
    ) -> T:
        try:
            return await self.request_json(
                "POST",
                path,
                into,
                body=body,
                idempotent=False,
                accept_statuses=(*accepted, _CONFLICT),
            )
        except SourceAnswered as answer:
            try:
                error = msgspec.json.decode(answer.body, type=ErrorBody)
            except msgspec.DecodeError:
                raise SourceError(
                    self.name, SOURCE_BAD_RESPONSE, "unreadable 409 answer", retryable=False
                ) from answer
            raise SourceRefused(self.name, error.code, error.message) from None
