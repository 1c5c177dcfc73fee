"""The simulated vendor APIs for the vendor adapters' tests: started at a rate limit
the test chooses, and a wait for the start of the limit's next one-second window."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

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
