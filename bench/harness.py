"""What the benchmarks share: start ``ordergraph demo`` on free ports, drive load
against it, read the sources' counters and summarise latencies."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.cluster import SOURCES, VENDORS  # noqa: E402  (vendor APIs follow the sources)
from tests.support.ports import free_port_block  # noqa: E402
from tests.support.queries import ORDER_BY_NUMBER, ORDERS_PAGE  # noqa: E402
from tests.support.serving import wait_ready  # noqa: E402

# The full 50-order view costs ~13,000 points and 20 clients saturate the gateway: the
# benchmarks lift the cost limit and the deadline, so saturation shows as latency
# rather than refusals and timeouts.
LIFTED_LIMITS = {"OG_MAX_COST": "100000", "OG_REQUEST_DEADLINE_MS": "5000"}


@dataclass
class Demo:
    url: str
    source_urls: dict[str, str]
    session: aiohttp.ClientSession
    pid: int  # the gateway's process
    source_pid: int | None = None  # the sources' process, when they run apart

    async def upstream_requests(self, reset: bool = False) -> int:
        """Requests the sources served since the last reset (and reset them)."""
        return sum(stats["requests"] for stats in (await self.source_stats(reset)).values())

    async def source_stats(self, reset: bool = False) -> dict[str, dict[str, Any]]:
        """Each source's (and vendor API's) ``/__stats`` since the last reset."""
        served = {}
        for name, url in self.source_urls.items():
            async with self.session.get(f"{url}/__stats") as resp:
                served[name] = await resp.json()
            if reset:
                async with self.session.delete(f"{url}/__stats"):
                    pass
        return served


CLIENTS = 10  # concurrent clients of the speed figures, as in the peers' benchmark
# Every order number of the seeded data set, and the two views the speed figures use.
NUMBERS = [str(n) for n in range(1001, 2201)]
FULL_VIEWS = {
    "one order, full view": [
        {"query": ORDER_BY_NUMBER, "variables": {"number": n}} for n in NUMBERS
    ],
    "page of 50, full view": [{"query": ORDERS_PAGE, "variables": {"first": 50}}],
}


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def running_demo(
    env: dict[str, str] | None = None,
    extra_args: Sequence[str] = (),
    *,
    split: bool = False,
    root: Path | None = None,
) -> AsyncIterator[Demo]:
    """The demo (sources with demo latency: 3 ms + up to 2 ms jitter) in its own
    process, so the load generator does not share its event loop. With ``split`` the
    sources run in a process of their own (``ordergraph sim``) and the gateway in
    another (``ordergraph serve``, dev mode unless ``env`` says otherwise), as in
    production where the sources are other systems; ``extra_args`` then go to the
    sources. ``root``: the checkout whose code runs (by default this one)."""
    served = (*SOURCES, *VENDORS) if "--vendors" in extra_args else SOURCES
    port = free_port_block(102 + len(served))  # the gateway's, then the sources' from + 101
    source_urls = {name: f"http://127.0.0.1:{port + 101 + i}" for i, name in enumerate(served)}
    # No exception queue: its sweeps would add upstream requests to what is measured.
    defaults = {"OG_LOG_LEVEL": "WARNING", "OG_EXCEPTION_QUEUE": "false"}
    gateway = f"http://127.0.0.1:{port}"
    if split:
        commands = [
            ("sim", "--port-base", str(port + 101), "--latency-ms", "3", "--jitter-ms", "2",
             *extra_args),
            ("serve", "--port", str(port)),
        ]  # fmt: skip
        defaults |= {f"OG_{name.upper()}_URL": source_urls[name] for name in SOURCES}
        defaults["OG_DEV_MODE"] = "1"
    else:
        commands = [("demo", "--port", str(port), *extra_args)]
    env = {**os.environ, **defaults, **(env or {})}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway",
            *command,
            cwd=root or ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            env=env,
        )
        for command in commands
    ]
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
            await wait_ready(session, gateway, processes[-1], timeout_s=60)
            source_pid = processes[0].pid if split else None
            yield Demo(gateway, source_urls, session, processes[-1].pid, source_pid)
    finally:
        for process in processes:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=15)


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    elapsed: float = 0.0

    def line(self, label: str, clients: int, upstream: int) -> str:
        q = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return (
            f"{label:<34} {clients:>7} {q[49] * 1000:>8.1f} {q[94] * 1000:>8.1f} "
            f"{q[98] * 1000:>8.1f} {len(self.latencies) / self.elapsed:>8.1f} "
            f"{upstream / len(self.latencies):>9.2f}"
        )


HEADER = (
    f"{'view':<34} {'clients':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8} "
    f"{'upstream':>9}"
)


async def drive(
    demo: Demo,
    payloads: Sequence[dict[str, Any]] | Callable[[int], dict[str, Any] | None],
    *,
    clients: int,
    seconds: float,
    allow_errors: bool = False,
) -> Run:
    """Send queries from ``clients`` concurrent workers for ``seconds`` (or until a
    payload factory answers ``None``); every answer must be a 200, and without
    errors unless ``allow_errors``."""
    run = Run()
    end = time.monotonic() + seconds
    counter = iter(range(10**9))

    def next_payload() -> dict[str, Any] | None:
        n = next(counter)
        return payloads(n) if callable(payloads) else payloads[n % len(payloads)]

    async def worker() -> None:
        while time.monotonic() < end and (payload := next_payload()) is not None:
            start = time.perf_counter()
            async with demo.session.post(f"{demo.url}/graphql", json=payload) as resp:
                body = await resp.json()
            run.latencies.append(time.perf_counter() - start)
            run.bodies.append(body)
            if resp.status != 200 or (body.get("errors") and not allow_errors):
                raise RuntimeError(f"bad answer: {resp.status} {body.get('errors')}")

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(clients)))
    run.elapsed = time.monotonic() - started
    return run
