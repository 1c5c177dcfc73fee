"""How fresh the data behind an order is, per source."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, datetime

import strawberry

from resolvers.types.describe import described_enum
from sources.cache.through import Cached, Freshness

described_enum(
    Freshness,
    {
        "FRESH": "Read from the source, or from the gateway's cache within its freshness.",
        "STALE": "Served from the gateway's cache past its freshness, while it refreshes or "
        "because the source is slow or failing.",
        "UNAVAILABLE": "Some of this source's data could not be read.",
    },
    name="FreshnessStatus",
    description="How fresh a source's data is, as the gateway's cache judges it.",
)


@strawberry.enum(description="The four systems an order is assembled from.")
class DataSource(enum.Enum):
    OMS = strawberry.enum_value("oms", description="The order management system.")
    INVENTORY = strawberry.enum_value("inventory", description="The inventory system.")
    CARRIER = strawberry.enum_value("carrier", description="The carrier's tracking.")
    TICKETING = strawberry.enum_value("ticketing", description="The ticketing system.")


@strawberry.type(
    description="What one source contributed to this order, and how fresh (measured by the "
    "gateway)."
)
class SourceFreshness:
    source: DataSource = strawberry.field(description="The source.")
    status: Freshness = strawberry.field(
        description="STALE: served from cache past its freshness (the source is slow or "
        "failing); UNAVAILABLE: the source could not be read."
    )
    fetched_at: datetime | None = strawberry.field(
        description="When the gateway fetched the oldest piece of this source's data "
        "(gateway clock, UTC); null when nothing was read."
    )
    age_seconds: float | None = strawberry.field(
        description="Seconds since `fetchedAt` when the answer was made (to the "
        "millisecond); null when nothing was read."
    )

    @classmethod
    def summarise(
        cls, source: DataSource, outcomes: Iterable[object], now: float
    ) -> SourceFreshness:
        """The worst of a source's outcomes: any failure, else any stale, else fresh;
        ``now`` (epoch seconds, from the clock) dates the oldest piece."""
        cached = [o for o in outcomes if isinstance(o, Cached)]
        failed = any(not isinstance(o, Cached) for o in outcomes)
        oldest = min((c.fetched_at for c in cached), default=None)
        if failed:
            status = Freshness.UNAVAILABLE
        elif any(c.status is Freshness.STALE for c in cached):
            status = Freshness.STALE
        else:
            status = Freshness.FRESH
        return cls(
            source=source,
            status=status,
            fetched_at=None if oldest is None else datetime.fromtimestamp(oldest, UTC),
            age_seconds=None if oldest is None else round(max(0.0, now - oldest), 3),
        )
