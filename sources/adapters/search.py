"""The order list's filters, as the graph and the exception sweep ask for them; each
adapter turns them into its source's query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sources.records import FinancialStatus, FulfillmentStatus


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
