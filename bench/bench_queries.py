"""Latency and throughput of the two views every client uses, against the demo.

Starts ``ordergraph demo`` (simulated sources with their demo latency, 3 ms + up to
2 ms jitter, and the gateway, in one process) on free ports, then measures, at 1 and
at 20 concurrent clients:

- the full single-order view (a service console's page), and
- a 50-order page with the full nested selection,

printing p50/p95 latency, requests per second, and upstream requests per query
(read from the sources' ``/__stats``).

    python bench/bench_queries.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.ports import free_port_block  # noqa: E402
from tests.queries import ORDER_BY_NUMBER, ORDERS_PAGE  # noqa: E402

SOURCES = ("oms", "inventory", "carrier", "ticketing")


async def _wait_ready(session: aiohttp.ClientSession, url: str, deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            async with session.get(f"{url}/readyz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("demo did not become ready")


async def _stats(session: aiohttp.ClientSession, urls: dict[str, str], reset: bool) -> int:
    total = 0
    for url in urls.values():
        if reset:
            async with session.delete(f"{url}/__stats"):
                pass
        else:
            async with session.get(f"{url}/__stats") as resp:
                total += (await resp.json())["requests"]
    return total


async def _run(
    session: aiohttp.ClientSession,
    url: str,
    payloads: list[dict[str, object]],
    concurrency: int,
    seconds: float,
) -> list[float]:
    latencies: list[float] = []
    end = time.monotonic() + seconds

    async def worker(offset: int) -> None:
        i = offset
        while time.monotonic() < end:
            payload = payloads[i % len(payloads)]
            i += concurrency
            start = time.perf_counter()
            async with session.post(f"{url}/graphql", json=payload) as resp:
                body = await resp.json()
            latencies.append(time.perf_counter() - start)
            if resp.status != 200 or body.get("errors"):
                raise RuntimeError(f"bad answer: {resp.status} {str(body)[:300]}")

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return latencies


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def main(seconds: float) -> None:
    port = free_port_block(106)
    gateway = f"http://127.0.0.1:{port}"
    sim_base = port + 101
    urls = {name: f"http://127.0.0.1:{sim_base + i}" for i, name in enumerate(SOURCES)}
    demo = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "gateway", "demo", "--port", str(port)),
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        env={**os.environ, "OG_LOG_LEVEL": "WARNING"},
    )
    try:
        connector = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(connector=connector) as session:
            await _wait_ready(session, gateway, 60)
            numbers = [str(n) for n in range(1001, 1201)]
            views = {
                "single order, full view": [
                    {"query": ORDER_BY_NUMBER, "variables": {"number": n}} for n in numbers
                ],
                "50-order page, full nested": [{"query": ORDERS_PAGE, "variables": {"first": 50}}],
            }
            print(f"demo at {gateway}; {seconds:.0f} s per run; 2-core machine, client in-process")
            print(
                f"{'view':<28} {'clients':>7} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8} "
                f"{'upstream/query':>15}"
            )
            for name, payloads in views.items():
                await _run(session, gateway, payloads, 4, 1.0)  # warm-up
                for concurrency in (1, 20):
                    await _stats(session, urls, reset=True)
                    started = time.monotonic()
                    latencies = await _run(session, gateway, payloads, concurrency, seconds)
                    elapsed = time.monotonic() - started
                    upstream = await _stats(session, urls, reset=False)
                    print(
                        f"{name:<28} {concurrency:>7} "
                        f"{_percentile(latencies, 50) * 1000:>8.1f} "
                        f"{_percentile(latencies, 95) * 1000:>8.1f} "
                        f"{len(latencies) / elapsed:>8.1f} "
                        f"{upstream / len(latencies):>15.2f}"
                    )
    finally:
        demo.terminate()
        await asyncio.wait_for(demo.wait(), timeout=15)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    asyncio.run(main(parser.parse_args().seconds))
