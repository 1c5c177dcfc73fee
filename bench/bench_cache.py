"""Cold vs warm: what the cache buys, with the in-memory backend and with Redis.

For each backend (a private redis-server is started for the Redis run) the demo is
started fresh and measured on:

- the full single-order view: cold (every order asked once, 20 clients) then warm
  (the same orders again, 20 clients, for ``--seconds``);
- the 50-order page with the full nested selection: cold (each of the 24 pages
  once, 1 client) then warm (one page repeated, 1 and 20 clients).

It prints p50/p95 latency, requests/s, upstream requests per query, the cache hit
ratio (fresh hits / lookups, from each response's ``extensions.cache``) and, apart,
the stale ratio (entries past their fresh TTL, served at once and refreshed in the
background). Inventory's TTL is 10 s and the cold runs take seconds, so a warm run
that reaches past it serves stale stock: counted as stale (and the refreshes as
upstream requests), not hidden in a lower hit ratio.

    python bench/bench_cache.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from harness import HEADER, LIFTED_LIMITS, Demo, Run, drive, running_demo

from tests.support.queries import ORDER_BY_NUMBER, ORDERS_PAGE
from tests.support.redis_server import RedisServer

NUMBERS = [str(n) for n in range(1001, 2201)]


NOTE = (
    "hit ratio: fresh hits / lookups; stale: lookups served past their fresh TTL\n"
    "(refreshed in the background; the refreshes count as upstream requests).\n"
    "Inventory is fresh for 10 s: warm runs reaching past that show stale stock here."
)


def cache_ratios(run: Run) -> tuple[float, float]:
    """Fresh hits and stale serves, each as a share of all lookups."""
    hits = stale = lookups = 0
    for body in run.bodies:
        for counts in body.get("extensions", {}).get("cache", {}).values():
            hits += counts["hits"]
            stale += counts["stale"]
            lookups += counts["hits"] + counts["misses"] + counts["stale"]
    return (hits / lookups, stale / lookups) if lookups else (0.0, 0.0)


async def page_cursors(demo: Demo) -> list[str | None]:
    cursors: list[str | None] = [None]
    while True:
        payload = {
            "query": "query($a: String) { orders(first: 50, after: $a) "
            "{ pageInfo { hasNextPage endCursor } } }",
            "variables": {"a": cursors[-1]},
        }
        async with demo.session.post(f"{demo.url}/graphql", json=payload) as resp:
            info = (await resp.json())["data"]["orders"]["pageInfo"]
        if not info["hasNextPage"]:
            return cursors
        cursors.append(info["endCursor"])


def order_payload(number: str) -> dict[str, Any]:
    return {"query": ORDER_BY_NUMBER, "variables": {"number": number}}


async def report(demo: Demo, label: str, clients: int, run: Any) -> None:
    await demo.upstream_requests(reset=True)
    done: Run = await run
    line = done.line(label, clients, await demo.upstream_requests())
    hits, stale = cache_ratios(done)
    print(f"{line} {hits:>9.0%} {stale:>6.0%}")


async def measure_orders(demo: Demo, backend: str, seconds: float) -> None:
    def cold(n: int) -> dict[str, Any] | None:
        return None if n >= len(NUMBERS) else order_payload(NUMBERS[n])

    await report(demo, f"{backend}: order, cold", 20, drive(demo, cold, clients=20, seconds=600))
    warm = [order_payload(n) for n in NUMBERS]
    await report(
        demo, f"{backend}: order, warm", 20, drive(demo, warm, clients=20, seconds=seconds)
    )


async def measure_pages(demo: Demo, backend: str, seconds: float) -> None:
    cursors = await page_cursors(demo)
    pages = [{"query": ORDERS_PAGE, "variables": {"first": 50, "after": c}} for c in cursors]

    def cold(n: int) -> dict[str, Any] | None:
        return pages[n] if n < len(pages) else None

    await report(demo, f"{backend}: page, cold", 1, drive(demo, cold, clients=1, seconds=600))
    for clients in (1, 20):
        run = drive(demo, pages[:1], clients=clients, seconds=seconds)
        await report(demo, f"{backend}: page, warm", clients, run)


async def main(seconds: float) -> None:
    """Each measurement starts from an empty cache: a new demo, a flushed Redis."""
    print(f"{HEADER} {'hit ratio':>9} {'stale':>6}")
    redis = RedisServer()
    await redis.start()
    try:
        for backend, env in (
            ("memory", LIFTED_LIMITS),
            ("redis", {**LIFTED_LIMITS, "OG_CACHE_URL": redis.url}),
        ):
            for measure in (measure_orders, measure_pages):
                await redis.flush()
                async with running_demo(env) as demo:
                    await measure(demo, backend, seconds)
    finally:
        await redis.stop()
    print(NOTE)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    asyncio.run(main(parser.parse_args().seconds))
