"""Client of the carrier tracking aggregator."""

from __future__ import annotations

from sources.clients.http import SourceClient, id_list
from sources.records import Tracking, TrackingBatch


class CarrierClient(SourceClient):
    name = "carrier"

    async def trackings(self, numbers: list[str]) -> dict[str, Tracking]:
        batch = await self.get_json("/trackings", {"numbers": id_list(numbers)}, TrackingBatch)
        return {tracking.tracking_number: tracking for tracking in batch.data}
