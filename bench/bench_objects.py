"""What making graph objects costs when a query selects little of them.

End to end: a gateway over the sources (in a process of their own) serves
``orders(first: 100) { nodes { number } }`` at 10 concurrent clients; printed: the
gateway process's CPU milliseconds per request, requests per second, p50 and p99.
In process: making the graph objects of 100 decoded orders and reading each one's
number, as that query does (µs per 100 orders, best of five).

    python bench/bench_objects.py [--seconds 10] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import timeit
from datetime import UTC, datetime

from harness import CLIENTS, LIFTED_LIMITS, cpu_seconds, drive, running_demo

from resolvers.types.order import Order
from sim.seed import generate
from sources.cache.through import Cached, Freshness

NUMBERS_PAGE = {"query": "{ orders(first: 100) { nodes { number } } }"}


def in_process() -> float:
    """µs to make 100 orders' graph objects and read their numbers."""
    dataset = generate(seed=7, now=datetime(2026, 11, 20, 15, 0, tzinfo=UTC))
    orders = [(o, Cached(o, Freshness.FRESH, 0.0)) for o in list(dataset.orders.values())[:100]]

    def page() -> list[str]:
        return [Order.from_record(order, cached, pii=True).number for order, cached in orders]

    return min(timeit.repeat(page, number=50, repeat=5)) / 50 * 1e6


async def end_to_end(seconds: float) -> None:
    async with running_demo(LIFTED_LIMITS, split=True) as demo:
        await drive(demo, [NUMBERS_PAGE], clients=CLIENTS, seconds=2.0)  # warm-up
        before = cpu_seconds(demo.pid)
        run = await drive(demo, [NUMBERS_PAGE], clients=CLIENTS, seconds=seconds)
        cpu_s = cpu_seconds(demo.pid) - before
    q = statistics.quantiles(run.latencies, n=100, method="inclusive")
    served = len(run.latencies)
    print(
        f"{'orders(first: 100) { number }':<32} {cpu_s * 1000 / served:>8.2f} "
        f"{served / run.elapsed:>8.1f} {q[49] * 1000:>8.1f} {q[98] * 1000:>8.1f}"
    )


async def measure(seconds: float, repeat: int) -> None:
    print(f"in process: 100 orders made and their numbers read: {in_process():.0f} µs")
    print(f"{CLIENTS} clients, {seconds:.0f} s per run, sources in their own process")
    print(f"{'view':<32} {'CPU ms':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for _ in range(repeat):
        await end_to_end(seconds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(measure(args.seconds, args.repeat))
