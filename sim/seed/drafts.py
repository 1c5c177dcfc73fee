"""Order drafts: the mutable working state of one order, turned into frozen records at
the end (:mod:`sim.seed.orders`, :mod:`sim.seed.parcels`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sim.catalog import Place
from sources.records import (
    CancelReason,
    Customer,
    DeliveryMethodType,
    FinancialStatus,
    FulfillmentOrderStatus,
    HoldReason,
    MailingAddress,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # placeholder until the real time is drawn


@dataclass(slots=True)
class CustomerDraft:
    customer: Customer
    account_id: str
    group: str  # "US", "EU" or "INTL"
    place: Place
    address: MailingAddress
    weight: int
    home: str  # location id that normally ships to this customer


@dataclass(slots=True)
class LineDraft:
    id: str
    sku: str
    name: str
    cents: int
    ordered: int
    cancelled: int = 0
    shipped: int = 0
    delivered: int = 0
    returned: int = 0

    @property
    def active(self) -> int:
        """Units still wanted: ordered - cancelled (as ``domain.progress`` counts them)."""
        return self.ordered - self.cancelled


@dataclass(slots=True)
class ParcelDraft:
    id: str
    carrier: str
    number: str
    lines: dict[str, int]
    story: str
    origin: Place
    dest: Place
    events: list[tuple[str, Place | None, datetime]]  # chronological
    eta: datetime  # when the carrier first expected to deliver
    fmt: dict[str, str]
    shipped_at: datetime = EPOCH
    oms_delivered_at: datetime | None = None


@dataclass(slots=True)
class FoDraft:
    id: str
    location_id: str
    method: DeliveryMethodType
    service: tuple[str, int, int]
    status: FulfillmentOrderStatus
    lines: dict[str, int]
    hold: HoldReason | None = None
    hold_note: str | None = None
    parcels: list[ParcelDraft] = field(default_factory=list)
    held_at: datetime | None = None
    min_at: datetime | None = None  # promised delivery window
    max_at: datetime | None = None


@dataclass(slots=True)
class OrderDraft:
    scenario: str
    cust: CustomerDraft
    currency: str
    lines: list[LineDraft]
    fos: list[FoDraft]
    placed_at: datetime = EPOCH
    financial: FinancialStatus = FinancialStatus.PAID
    cancelled_at: datetime | None = None
    cancel_reason: CancelReason | None = None
    times: list[datetime] = field(default_factory=list)  # other OMS events (for updated_at)
    bad_address: bool = False
