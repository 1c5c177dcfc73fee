"""The simulated vendor APIs for the vendor adapters' tests: started at a rate limit
the test chooses, and a wait for the start of the limit's next one-second window."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from sim.cluster import SimCluster, start_cluster
from sim.seed import Dataset


@contextlib.asynccontextmanager
async def vendor_apis(data: Dataset, calls_per_s: int) -> AsyncIterator[SimCluster]:
    """The sources and every simulated vendor API over ``data``, each API taking
    ``calls_per_s`` calls a second."""
    async with await start_cluster(data, vendors=True, vendor_rate_per_s=calls_per_s) as cluster:
        yield cluster


async def next_window() -> None:
    """Wait for a fresh one-second window of the accounts' limit."""
    await asyncio.sleep(1 - time.time() % 1 + 0.01)


# What a vendor has no field for, so the graph cannot show it over that vendor
# (docs/adapters.md): Shopify keeps no date for incoming stock.
UNSAID_BY_VENDORS = frozenset({"incomingExpectedAt", "nextRestockAt"})


def said_by_every_vendor(answer: Any) -> Any:
    """``answer`` without the fields a vendor cannot say (:data:`UNSAID_BY_VENDORS`)."""
    if isinstance(answer, dict):
        return {
            key: said_by_every_vendor(value)
            for key, value in answer.items()
            if key not in UNSAID_BY_VENDORS
        }
    if isinstance(answer, list):
        return [said_by_every_vendor(item) for item in answer]
    return answer


def says(answer: Any, field: str) -> bool:
    """Whether ``answer`` holds a non-null ``field`` anywhere."""
    if isinstance(answer, dict):
        return answer.get(field) is not None or any(says(v, field) for v in answer.values())
    if isinstance(answer, list):
        return any(says(item, field) for item in answer)
    return False


def without_order_cursors(answer: Any) -> Any:
    """``answer`` without the order list's cursors (``orders`` edges' and its page
    info's): each is a source's own under the gateway's seal (Shopify's are base64 of
    its own JSON), so gateways over different sources list the same orders under
    different cursors. Every other connection's cursors are the gateway's and stay."""
    if isinstance(answer, list | tuple):  # a tuple: (status, body)
        return type(answer)(without_order_cursors(item) for item in answer)
    if not isinstance(answer, dict):
        return answer
    kept = {key: without_order_cursors(value) for key, value in answer.items()}
    orders = kept.get("orders")
    if isinstance(orders, dict):
        for edge in orders.get("edges") or ():
            edge.pop("cursor", None)
        for end in ("startCursor", "endCursor"):
            (orders.get("pageInfo") or {}).pop(end, None)
    return kept
