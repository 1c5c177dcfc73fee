"""The order list's filters, as the graph and the exception sweep ask for them; each
adapter turns them into its source's query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sources.records import FinancialStatus, FulfillmentStatus, Order


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

    def matches(self, order: Order) -> bool:
        """Whether ``order`` is one this search asks for: what an adapter checks of a
        page its source's looser query answered, and how the simulated sources filter."""
        return (
            self.customer_id in (None, order.customer.id)
            and self.account_id in (None, order.account_id)
            and (not self.statuses or order.fulfillment_status in self.statuses)
            and (not self.financial_statuses or order.financial_status in self.financial_statuses)
            and (self.updated_since is None or order.updated_at >= self.updated_since)
            and (self.placed_from is None or order.placed_at >= self.placed_from)
            and (self.placed_to is None or order.placed_at < self.placed_to)
        )
