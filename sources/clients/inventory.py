"""Client of the inventory service."""

from __future__ import annotations

from sources.clients.http import SourceClient
from sources.records import InventoryItem


class InventoryClient(SourceClient):
    name = "inventory"

    async def items_by_skus(self, skus: list[str]) -> dict[str, InventoryItem | None]:
        return await self.fetch_batch("/inventory", "skus", skus, InventoryItem, lambda i: i.sku)
