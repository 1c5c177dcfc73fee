"""Latency and throughput of the two views every client uses, against the demo.

Measures, at 1 and at 20 concurrent clients, the full single-order view (a service
console's page) and a 50-order page with the full nested selection: p50/p95
latency, requests per second, and upstream requests per query (from the sources'
``/__stats``). The demo's embedded cache is on, so after the warm-up these are
mostly warm figures; ``bench_cache.py`` separates cold from warm.

    python bench/bench_queries.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio

from harness import HEADER, drive, running_demo

from tests.support.queries import ORDER_BY_NUMBER, ORDERS_PAGE

NUMBERS = [str(n) for n in range(1001, 2201)]
VIEWS = {
    "single order, full view": [
        {"query": ORDER_BY_NUMBER, "variables": {"number": n}} for n in NUMBERS
    ],
    "50-order page, full nested": [{"query": ORDERS_PAGE, "variables": {"first": 50}}],
}


async def main(seconds: float) -> None:
    async with running_demo(
        {"OG_MAX_COST": "100000", "OG_REQUEST_DEADLINE_MS": "5000"}
    ) as demo:  # the full page: ~13,000
        print(f"demo at {demo.url}; {seconds:.0f} s per run; load from a second process")
        print(HEADER)
        for name, payloads in VIEWS.items():
            await drive(demo, payloads, clients=4, seconds=1.0)  # warm-up
            for clients in (1, 20):
                await demo.upstream_requests(reset=True)
                run = await drive(demo, payloads, clients=clients, seconds=seconds)
                print(run.line(name, clients, await demo.upstream_requests()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    asyncio.run(main(parser.parse_args().seconds))
