"""Client of the carrier tracking aggregator."""

from __future__ import annotations

from sources.clients.http import SourceClient
from sources.events import tracking_key
from sources.records import Tracking


class CarrierClient(SourceClient):
    name = "carrier"

    async def trackings(self, numbers: list[str]) -> dict[str, Tracking | None]:
        """By the numbers as asked: the carrier matches them in any case and answers
        its own spelling."""
        found = await self.fetch_batch(
            "/trackings", "numbers", numbers, Tracking, lambda t: tracking_key(t.tracking_number)
        )
        return {n: found[tracking_key(n)] for n in numbers if tracking_key(n) in found}
