"""Scaling from one worker to two: ``ordergraph serve --workers 1`` against ``--workers 2``.

Both over the same private redis-server (the memory cache allows one worker only),
with the sources in a process of their own, 10 concurrent clients on the full
single-order view and on a 50-order page with the full nested view. Printed per run:
requests per second, the gateway's CPU milliseconds per request (the CPU time of
every process of the gateway over the requests served), p50 and p99, each worker's
share of that CPU (how evenly the kernel spread the connections), and the load
average, since other work on the machine moves every figure but CPU per request.

    python bench/bench_workers.py [--seconds 15] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
from pathlib import Path

import aiohttp
from harness import CLIENTS, LIFTED_LIMITS, Run, cpu_seconds, drive, running_demo
from harness import FULL_VIEWS as VIEWS

from gateway.workers import WORKER_HEADER
from tests.support.redis_server import RedisServer


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


async def every_worker_answers(url: str, workers: int) -> None:
    """Until ``workers`` processes have answered, each over a new connection: the
    first ready worker must not take every connection of the warm-up."""
    seen: set[str] = set()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        async with asyncio.timeout(60):
            while len(seen) < workers:
                async with session.get(f"{url}/healthz") as resp:
                    seen.add(resp.headers.get(WORKER_HEADER, "single"))


def is_worker(pid: int) -> bool:
    """A worker (spawned by multiprocessing), not its resource tracker nor the parent."""
    return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()


def line(label: str, view: str, run: Run, cpu_s: dict[int, float]) -> str:
    q = statistics.quantiles(run.latencies, n=100, method="inclusive")
    served = len(run.latencies)
    total = sum(cpu_s.values())
    workers = [used for pid, used in cpu_s.items() if is_worker(pid)] or [total]
    split = "/".join(f"{used / sum(workers):.0%}" for used in workers)
    load = "/".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"{view:<24} {label:<10} {served / run.elapsed:>8.1f} {total * 1000 / served:>8.2f} "
        f"{q[49] * 1000:>8.1f} {q[98] * 1000:>8.1f}  {split:<10} {load}"
    )


async def measure(seconds: float, repeat: int) -> None:
    redis = RedisServer()
    await redis.start()
    print(f"{CLIENTS} clients, {seconds:.0f} s per run, Redis cache, sources in their own "
          f"process; {os.cpu_count()} cores")  # fmt: skip
    print(
        f"{'view':<24} {'workers':<10} {'req/s':>8} {'CPU ms':>8} {'p50 ms':>8} {'p99 ms':>8}"
        f"  {'CPU split':<10} load 1/5/15 min"
    )
    try:
        for _ in range(repeat):
            for workers in (1, 2):
                env = {**LIFTED_LIMITS, "OG_CACHE_URL": redis.url, "OG_WORKERS": str(workers)}
                async with running_demo(env, split=True) as demo:
                    await every_worker_answers(demo.url, workers)
                    for view, payloads in VIEWS.items():
                        await drive(demo, payloads, clients=CLIENTS, seconds=3.0)  # warm-up
                        pids = [demo.pid, *children(demo.pid)] if workers > 1 else [demo.pid]
                        before = {pid: cpu_seconds(pid) for pid in pids}
                        run = await drive(demo, payloads, clients=CLIENTS, seconds=seconds)
                        used = {pid: cpu_seconds(pid) - before[pid] for pid in pids}
                        print(line(str(workers), view, run, used), flush=True)
    finally:
        await redis.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(measure(args.seconds, args.repeat))
