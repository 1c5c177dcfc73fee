"""Client of the inventory service."""

from __future__ import annotations

from sources.clients.http import SourceClient, id_list
from sources.records import InventoryBatch, InventoryItem


class InventoryClient(SourceClient):
    name = "inventory"

    async def items_by_skus(self, skus: list[str]) -> dict[str, InventoryItem]:
        batch = await self.get_json("/inventory", {"skus": id_list(skus)}, InventoryBatch)
        return {item.sku: item for item in batch.data}
