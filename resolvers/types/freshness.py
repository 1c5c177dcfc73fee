"""How fresh the data behind an order is, per source."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, datetime

import strawberry

from sources.cache.through import Cached, Freshness

strawberry.enum(Freshness, name="FreshnessStatus", description="FRESH, STALE or UNAVAILABLE.")


@strawberry.enum(description="The four systems an order is assembled from.")
class DataSource(enum.Enum):
    OMS = "oms"
    INVENTORY = "inventory"
    CARRIER = "carrier"
    TICKETING = "ticketing"


@strawberry.type(description="What one source contributed to this order, and how fresh.")
class SourceFreshness:
    source: DataSource
    status: Freshness = strawberry.field(
        description="STALE: served from cache past its freshness (the source is slow or "
        "failing); UNAVAILABLE: the source could not be read."
    )
    fetched_at: datetime | None = strawberry.field(
        description="When the oldest piece of this source's data was fetched."
    )
    age_seconds: float | None

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
