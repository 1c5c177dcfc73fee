"""Client of the carrier tracking aggregator."""

from __future__ import annotations

from sources.clients.http import SourceClient
from sources.records import Tracking


class CarrierClient(SourceClient):
    name = "carrier"

    async def trackings(self, numbers: list[str]) -> dict[str, Tracking | None]:
        """By the numbers as asked: the carrier matches them in any case and answers
        its own spelling."""
        found = await self.fetch_batch(
            "/trackings", "numbers", numbers, Tracking, lambda t: t.tracking_number.upper()
        )
        return {n: found[n.upper()] for n in numbers if n.upper() in found}
