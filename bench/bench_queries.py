"""Latency and throughput of the two views every client uses, against the demo.

Measures, at 1 and at 20 concurrent clients, the full single-order view (a service
console's page) and a 50-order page with the full nested selection: p50/p95/p99
latency, requests per second, and upstream calls per query (from the sources'
``/__stats``: the calls they answered, not those a rate limit refused). The demo's
embedded cache is on, so after the warm-up these are mostly warm figures;
``bench_cache.py`` separates cold from warm.

With ``--vendors`` the same run follows over ``ordergraph demo --vendors`` (the
carrier read through the AfterShip adapter from the simulated AfterShip API, at
AfterShip's 10 calls a second): calls per query by source, and the waits the vendor's
rate limit asked for. Any error in an answer stops the run.

    python bench/bench_queries.py [--seconds 10] [--vendors]
"""

from __future__ import annotations

import argparse
import asyncio
import re

from harness import HEADER, Demo, drive, running_demo

from tests.support.queries import ORDER_BY_NUMBER, ORDERS_PAGE

NUMBERS = [str(n) for n in range(1001, 2201)]
VIEWS = {
    "single order, full view": [
        {"query": ORDER_BY_NUMBER, "variables": {"number": n}} for n in NUMBERS
    ],
    "50-order page, full nested": [{"query": ORDERS_PAGE, "variables": {"first": 50}}],
}
THROTTLE_WAITS = re.compile(r'^og_upstream_throttle_waits_total\{source="(\w+)"\} (\S+)$', re.M)


async def throttle_waits(demo: Demo) -> dict[str, float]:
    """The waits each source's rate limit asked for so far (the gateway's /metrics)."""
    async with demo.session.get(f"{demo.url}/metrics") as resp:
        text = await resp.text()
    return {source: float(count) for source, count in THROTTLE_WAITS.findall(text)}


async def measure(seconds: float, *extra_args: str) -> None:
    env = {"OG_MAX_COST": "100000", "OG_REQUEST_DEADLINE_MS": "5000"}  # the full page: ~13,000
    async with running_demo(env, extra_args) as demo:
        print(f"\ndemo {' '.join(extra_args)} at {demo.url}; {seconds:.0f} s per run")
        print(HEADER)
        for name, payloads in VIEWS.items():
            await drive(demo, payloads, clients=4, seconds=1.0)  # warm-up
            for clients in (1, 20):
                await demo.upstream_requests(reset=True)
                waits = await throttle_waits(demo)
                run = await drive(demo, payloads, clients=clients, seconds=seconds)
                stats = await demo.source_stats()
                admitted = {s: n["requests"] - n["throttled"] for s, n in stats.items()}
                print(run.line(name, clients, sum(admitted.values())))
                per_query = ", ".join(
                    f"{source} {count / len(run.latencies):.2f}"
                    for source, count in admitted.items()
                )
                refused = {s: n["throttled"] for s, n in stats.items() if n["throttled"]}
                waited = {s: n - waits.get(s, 0) for s, n in (await throttle_waits(demo)).items()}
                print(
                    f"{'':<34} calls per query: {per_query}; refused by a rate limit (429): "
                    f"{refused or 0}; waits: {waited or 0}"
                )


async def main(seconds: float, vendors: bool) -> None:
    print("load from a second process")
    await measure(seconds)
    if vendors:
        await measure(seconds, "--vendors")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--vendors", action="store_true", help="then over the vendor APIs")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.vendors))
