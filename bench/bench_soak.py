"""Soak: steady load at ~70% of the gateway's measured capacity while one source
fails a share of its calls.

1. Starts the simulated sources (``ordergraph sim --fault <source>:error=<rate>``,
   default: the carrier fails 30% of calls with 503) and the gateway
   (``ordergraph serve``) in two processes, as in production.
2. Measures capacity: closed-loop, 20 clients, ``--probe-seconds``, after
   ``--warmup-seconds`` of the same load. The warm-up must outlast the cache's TTLs
   (inventory 10 s, orders and tickets 30 s, tracking 60 s): before they first
   expire every read is a hit, and a probe that early overstates what the gateway
   sustains once refreshes run (it read 175 req/s after a 2 s warm-up, where 123
   req/s already saturated the gateway).
3. Sends an open-loop stream at ``--load`` x capacity for ``--seconds`` (default 120),
   new requests on a fixed schedule whatever the answers' latency.

With ``--mixed`` one request in eight is a page of orders (full nested view, 10 to 50
orders, so 41 documents' answers besides the 1,200 orders'), for a run whose response
and entity caches keep filling and expiring: its RSS over time shows whether memory
stays bounded (the cost limit and deadline are lifted as in the speed figures).

Prints requests sent, HTTP statuses, p50/p95/p99 latency (overall and per 30 s
window, so a tail that grows over the run shows), how many answers carried errors
(the failing source's fields null with a typed error), and the gateway process's
RSS over time.

    python bench/bench_soak.py [--seconds 120] [--load 0.7] [--fault carrier:error=0.3]
                               [--warmup-seconds 60] [--probe-seconds 20] [--mixed]
    python bench/bench_soak.py --seconds 600 --mixed   # memory over a 10-minute mixed run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from harness import LIFTED_LIMITS, Demo, drive, running_demo

from tests.support.queries import ORDER_BY_NUMBER, ORDERS_PAGE

NUMBERS = [str(n) for n in range(1001, 2201)]
PAYLOADS = [{"query": ORDER_BY_NUMBER, "variables": {"number": n}} for n in NUMBERS]


def mixed(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``orders`` with a page of 10 to 50 orders (full view) after every seventh."""
    payloads = []
    for i, order in enumerate(orders):
        payloads.append(order)
        if i % 7 == 6:
            payloads.append({"query": ORDERS_PAGE, "variables": {"first": 10 + (i // 7) % 41}})
    return payloads


def p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100, method="inclusive")[98]


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def open_loop(
    demo: Demo, payloads: list[dict[str, Any]], rate: float, seconds: float
) -> dict[str, Any]:
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    windows: dict[int, list[float]] = {}  # 30 s window -> latencies of requests sent in it
    partial = 0
    rss: list[tuple[float, float]] = []
    pending: set[asyncio.Task[None]] = set()

    async def one(payload: dict[str, Any]) -> None:
        nonlocal partial
        window = int((time.monotonic() - begin) // 30)
        started = time.perf_counter()
        async with demo.session.post(f"{demo.url}/graphql", json=payload) as resp:
            body = await resp.json()
        latency = time.perf_counter() - started
        latencies.append(latency)
        windows.setdefault(window, []).append(latency)
        statuses[resp.status] += 1
        partial += bool(body.get("errors"))

    processes = {"gateway": demo.pid, "sources": demo.source_pid, "load generator": os.getpid()}
    cpu_before = {name: cpu_s(pid) for name, pid in processes.items() if pid}
    begin = time.monotonic()
    sent = 0
    next_rss = begin
    while (now := time.monotonic()) - begin < seconds:
        if now >= next_rss:
            rss.append((now - begin, rss_mb(demo.pid)))
            next_rss += 10
        due = begin + sent / rate
        if due > now:
            await asyncio.sleep(due - now)
        task = asyncio.create_task(one(payloads[sent % len(payloads)]))
        pending.add(task)
        task.add_done_callback(pending.discard)
        sent += 1
    await asyncio.gather(*pending)
    rss.append((time.monotonic() - begin, rss_mb(demo.pid)))
    elapsed = time.monotonic() - begin
    cores = {name: (cpu_s(processes[name]) - used) / elapsed for name, used in cpu_before.items()}
    return {"sent": sent, "statuses": statuses, "latencies": latencies, "partial": partial,
            "rss": rss, "elapsed": elapsed, "windows": windows, "cores": cores}  # fmt: skip


async def main(
    seconds: float,
    load: float,
    probe_seconds: float,
    warmup_seconds: float,
    fault: str,
    with_pages: bool,
) -> None:
    payloads = mixed(PAYLOADS) if with_pages else PAYLOADS
    env = LIFTED_LIMITS if with_pages else None
    # The sources run in a process of their own: the gateway's figures are its own.
    async with running_demo(env, extra_args=["--fault", fault], split=True) as demo:
        await drive(demo, payloads, clients=20, seconds=warmup_seconds, allow_errors=True)
        probe = await drive(demo, payloads, clients=20, seconds=probe_seconds, allow_errors=True)
        capacity = len(probe.latencies) / probe.elapsed
        rate = capacity * load
        print(f"fault {fault}; capacity {capacity:.0f} req/s (20 clients, closed loop)")
        print(f"open loop at {rate:.0f} req/s ({load:.0%}) for {seconds:.0f} s ...")
        result = await open_loop(demo, payloads, rate, seconds)
    q = statistics.quantiles(result["latencies"], n=100, method="inclusive")
    print(f"sent {result['sent']} in {result['elapsed']:.0f} s "
          f"({result['sent'] / result['elapsed']:.0f} req/s)")  # fmt: skip
    print(f"HTTP statuses: {dict(result['statuses'])}")
    print(f"answers with typed errors (failing source's fields null): {result['partial']}")
    print(f"latency ms: p50 {q[49] * 1000:.1f}  p95 {q[94] * 1000:.1f}  p99 {q[98] * 1000:.1f}"
          f"  max {max(result['latencies']) * 1000:.1f}")  # fmt: skip
    per_window = [
        f"{w * 30}-{w * 30 + 30}s {p99(lat) * 1000:.0f}"
        for w, lat in sorted(result["windows"].items())
        if len(lat) > 1
    ]
    print("p99 ms per window: " + ", ".join(per_window))
    busy = ", ".join(f"{name} {used:.2f}" for name, used in result["cores"].items())
    print(f"CPU, cores busy on average (this machine has {os.cpu_count()}): {busy}")
    print("gateway RSS MB over time: " + ", ".join(f"{t:.0f}s {mb:.0f}" for t, mb in result["rss"]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--load", type=float, default=0.7)
    parser.add_argument("--probe-seconds", type=float, default=20.0)
    parser.add_argument("--warmup-seconds", type=float, default=60.0)
    parser.add_argument("--fault", default="carrier:error=0.3")
    parser.add_argument("--mixed", action="store_true", help="a page after every 7th order")
    args = parser.parse_args()
    asyncio.run(
        main(
            args.seconds,
            args.load,
            args.probe_seconds,
            args.warmup_seconds,
            args.fault,
            args.mixed,
        )
    )
