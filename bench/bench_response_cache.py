"""The response cache on a warm repeated query, against the entity cache alone, in the
same run.

For each setting (``OG_RESPONSE_CACHE`` false; true over the memory backend; true
over a private redis-server with in-process copies in front; repeated), a gateway over
the sources in a process of their own answers the same query over and over at 10
concurrent clients: the full single-order view, and a 50-order page with the full
nested view. Printed: the gateway process's CPU milliseconds per request, what that
makes per core (1000 / CPU ms: the steadiest figure on a shared machine, as the load
generator and the sources share its cores), the requests per second seen, p50, p99
and the share of answers the response cache gave.

    python bench/bench_response_cache.py [--seconds 10] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

from harness import CLIENTS, LIFTED_LIMITS, Run, cpu_seconds, drive, running_demo

from tests.support.queries import ORDER_BY_NUMBER, ORDERS_PAGE
from tests.support.redis_server import RedisServer

VIEWS = {
    "one order, full view": [{"query": ORDER_BY_NUMBER, "variables": {"number": "1001"}}],
    "page of 50, full view": [{"query": ORDERS_PAGE, "variables": {"first": 50}}],
}


def line(cache: str, view: str, run: Run, cpu_s: float) -> str:
    q = statistics.quantiles(run.latencies, n=100, method="inclusive")
    served = len(run.latencies)
    cpu_ms = cpu_s * 1000 / served
    hits = sum("response" in body.get("extensions", {}).get("cache", {}) for body in run.bodies)
    return (
        f"{view:<24} {cache:<9} {cpu_ms:>7.3f} {1000 / cpu_ms:>10.0f} "
        f"{served / run.elapsed:>8.1f} {q[49] * 1000:>7.2f} {q[98] * 1000:>7.2f} "
        f"{hits / served:>6.1%}"
    )


async def measure(seconds: float, repeat: int) -> None:
    print(f"{CLIENTS} clients, {seconds:.0f} s per run, sources in their own process")
    print(
        f"{'view':<24} {'responses':<9} {'CPU ms':>7} {'req/s/core':>10} {'req/s':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'hits':>6}"
    )
    redis = RedisServer()
    await redis.start()
    setups = {
        "off": {"OG_RESPONSE_CACHE": "false"},
        "memory": {"OG_RESPONSE_CACHE": "true"},
        "redis": {"OG_RESPONSE_CACHE": "true", "OG_CACHE_URL": redis.url},
    }
    try:
        for _ in range(repeat):
            for setup, env in setups.items():
                async with running_demo({**LIFTED_LIMITS, **env}, split=True) as demo:
                    for view, payloads in VIEWS.items():
                        await drive(demo, payloads, clients=CLIENTS, seconds=2.0)  # warm-up
                        before = cpu_seconds(demo.pid)
                        run = await drive(demo, payloads, clients=CLIENTS, seconds=seconds)
                        print(line(setup, view, run, cpu_seconds(demo.pid) - before))
    finally:
        await redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(measure(args.seconds, args.repeat))


if __name__ == "__main__":
    main()
