"""What each exception sweep pass reads: it should grow with change, not with the
number of orders.

Starts ``ordergraph sim --orders N`` in a process of its own (and says how long it
took to listen), then runs the exception queue in this process over those sources
with nothing cached, so every order a pass evaluates is read from the sources. It
prints, for each pass, the OMS search calls and orders listed, the orders read by id
because their due time passed, and the upstream calls and ids asked of each source:

1. the first pass: no watermark yet, so every order is read;
2. a pass after ``--changes`` random orders changed (admin touches on the OMS);
3. a pass ``--later`` hours on without any change: only the orders that fell due.

    python bench/bench_sweep.py [--orders 100000] [--changes 100] [--later 1]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from harness import ROOT, SOURCES

from services.exception_queue.index import ExceptionIndex
from sources.adapters.registry import Upstreams
from sources.cache import open_backend
from sources.cache.upstreams import CachedUpstreams
from sources.clock import ShiftedClock
from sources.options import CachePolicy, SourceConfig
from tests.support.ports import free_port_block

NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)
NOTHING_CACHED = CachePolicy(ttl_s=0.0, stale_s=0.0, keep_s=0.0, negative_ttl_s=0.0)


class MovableClock(ShiftedClock):
    """The sources' clock, which the bench can move on for the gateway alone."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.ahead = timedelta(0)

    def now(self) -> datetime:
        return super().now() + self.ahead


@asynccontextmanager
async def sources(orders: int) -> AsyncIterator[dict[str, str]]:
    port = free_port_block(4)
    urls = {name: f"http://127.0.0.1:{port + i}" for i, name in enumerate(SOURCES)}
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "sim", "--orders", str(orders), "--now",
        NOW.isoformat(), "--port-base", str(port), cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as http:
            for url in urls.values():
                while True:
                    assert process.returncode is None, "ordergraph sim exited"
                    try:
                        async with http.get(f"{url}/healthz") as resp:
                            if resp.status == 200:
                                break
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.1)
        took = time.monotonic() - started
        print(f"ordergraph sim --orders {orders}: listening after {took:.1f} s")
        yield urls
    finally:
        process.terminate()
        await process.wait()


async def stats(http: aiohttp.ClientSession, urls: dict[str, str]) -> dict[str, Any]:
    """Each source's counters since the last call, which resets them."""
    found = {}
    for name, url in urls.items():
        async with http.get(f"{url}/__stats") as resp:
            found[name] = await resp.json()
        async with http.delete(f"{url}/__stats"):
            pass
    return found


def print_pass(label: str, report: Any, seconds: float, counters: dict[str, Any]) -> None:
    print(f"\n{label}: {seconds:.1f} s, {'full' if report.full else 'incremental'}")
    print(
        f"  OMS search calls {report.searches}, orders listed {report.listed}, "
        f"orders due {report.due}, dropped {report.gone}"
    )
    for name, body in counters.items():
        ids = sum(sum(sizes) for sizes in body["batchSizes"].values())
        print(f"  {name:<10} {body['requests']:>6} calls {ids:>8} ids  {body['paths']}")


async def main(orders: int, changes: int, later_h: float) -> None:
    async with sources(orders) as urls, aiohttp.ClientSession() as http:
        clock = MovableClock(NOW)
        upstreams = Upstreams.open(*(SourceConfig(base_url=urls[n]) for n in SOURCES))
        backend = open_backend("memory://")
        policies = dict.fromkeys(SOURCES, NOTHING_CACHED)
        cached = CachedUpstreams.build(upstreams, backend, policies, clock=clock)
        index = ExceptionIndex(cached, sweep_interval_s=1.0)
        await backend.start()
        try:
            await stats(http, urls)

            async def sweep(label: str) -> None:
                await asyncio.sleep(1.1)  # the previous pass's lock expires
                started = time.monotonic()
                assert await index.sweeper.sweep(), "the sweep's lock is held"
                seconds = time.monotonic() - started
                print_pass(label, index.sweeper.last, seconds, await stats(http, urls))

            await sweep("first pass (no watermark)")
            due = len(await index.store.every_due())
            print(f"  due index: {due} open orders with a due time")
            numbers = random.Random(1).sample(range(1001, 1001 + orders), min(changes, orders))
            touched = []
            for start in range(0, len(numbers), 100):
                chunk = ",".join(map(str, numbers[start : start + 100]))
                async with http.get(f"{urls['oms']}/orders/by-number?numbers={chunk}") as resp:
                    touched += [order["id"] for order in (await resp.json())["data"]]
            for order_id in touched:
                async with http.post(f"{urls['oms']}/admin/orders/{order_id}/touch", json={}):
                    pass
            await stats(http, urls)
            await sweep(f"after {len(touched)} changes")
            clock.ahead = timedelta(hours=later_h)
            await sweep(f"{later_h:g} h later, no change")
        finally:
            await index.close()
            await backend.close()
            await upstreams.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--later", type=float, default=1.0, help="hours, for the third pass")
    args = parser.parse_args()
    asyncio.run(main(args.orders, args.changes, args.later))
