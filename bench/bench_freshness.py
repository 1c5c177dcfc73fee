"""Freshness under load: how long a source's change takes to reach every subscriber
and every query on three gateway instances sharing one Redis, idle and under load.

Processes, as in production: a private redis-server, the simulated sources
(``ordergraph sim``, demo latency) sending their signed webhooks to instance A
only, and three ``ordergraph serve`` instances sharing the Redis cache. This
process watches ``--orders`` in-transit orders over server-sent events on every
instance (``orderUpdated``). Each change records a carrier checkpoint on one of
them (``POST /admin/trackings/<n>/advance``, status IN_TRANSIT, which adds a
tracking event); from just before that call it times, together, (a) each
instance's push of the order with the new event, and (b) on each instance, the first
query answer that holds it (a query sent back to back until one does; a 503 is
retried). The
same ``--changes`` run idle, then under ``--clients`` clients querying full
one-order views across the instances from another process. Prints p50/p99/max of
both, the load's throughput and refusals, the 1-minute load average, and how many
times the instances logged Redis as unavailable or the loop as late.

    python bench/bench_freshness.py [--changes 60] [--orders 20] [--clients 20]
        [--max-loop-lag-ms N]   # the gateways' OG_MAX_LOOP_LAG_MS (default: theirs)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import aiohttp
import harness
from bench_live import watched_orders

from resolvers.relay import to_global_id
from sim.seed import generate
from sources.webhooks import generate_secret
from tests.support.gateways import FIXED_NOW
from tests.support.ports import free_port_block
from tests.support.queries import ORDER_BY_NUMBER
from tests.support.redis_server import RedisServer
from tests.support.serving import wait_ready

INSTANCES = 3
FIELDS = "number shipments { tracking { events { occurredAt } } }"
WATCH = f"subscription Watch($id: ID!) {{ orderUpdated(id: $id) {{ {FIELDS} }} }}"
PROBE = f"query Probe($id: ID!) {{ order(id: $id) {{ {FIELDS} }} }}"
CHANGE_TIMEOUT_S = 10.0


def _events(order: dict[str, Any] | None) -> int:
    """Tracking events of the order's parcel, as the graph answered it."""
    if not order:
        return -1
    tracking = order["shipments"][0]["tracking"]
    return -1 if tracking is None else len(tracking["events"])


@dataclass
class Deployment:
    gateways: list[str]
    carrier: str
    session: aiohttp.ClientSession
    logs: list[Path]

    def log_count(self, text: str) -> int:
        return sum(path.read_text(errors="replace").count(text) for path in self.logs)


@contextlib.asynccontextmanager
async def deployment(extra_env: dict[str, str]) -> AsyncIterator[Deployment]:
    redis = RedisServer()
    await redis.start()
    port = free_port_block(110)
    gateways = [f"http://127.0.0.1:{port + i}" for i in range(INSTANCES)]
    sources = {name: f"http://127.0.0.1:{port + 101 + i}" for i, name in enumerate(harness.SOURCES)}
    secret = generate_secret()
    env = {
        **os.environ,
        **harness.LIFTED_LIMITS,
        "OG_LOG_LEVEL": "WARNING",
        "OG_LOG_FORMAT": "text",
        "OG_EXCEPTION_QUEUE": "false",
        "OG_DEV_MODE": "1",
        "OG_CACHE_URL": redis.url,
        "OG_WEBHOOK_SECRETS": secret,
        **{f"OG_{name.upper()}_URL": url for name, url in sources.items()},
        **extra_env,
    }
    logs_dir = tempfile.TemporaryDirectory(prefix="og-fresh-")
    logs = [Path(logs_dir.name) / f"gateway-{i}.log" for i in range(INSTANCES)]
    commands = [
        ("sim", "--port-base", str(port + 101), "--latency-ms", "3", "--jitter-ms", "2",
         "--seed", "7", "--now", FIXED_NOW.isoformat(),
         "--webhook-url", f"{gateways[0]}/webhooks", "--webhook-secret", secret),
        *(("serve", "--port", str(port + i)) for i in range(INSTANCES)),
    ]  # fmt: skip
    outputs = _writable([Path(os.devnull), *logs])
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", *command, cwd=harness.ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=output,
        )
        for command, output in zip(commands, outputs, strict=True)
    ]  # fmt: skip
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            for url, process in zip(gateways, processes[1:], strict=True):
                await wait_ready(session, url, process, timeout_s=60)
            yield Deployment(gateways, sources["carrier"], session, logs)
    finally:
        for process in processes:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=15)
        for output in outputs:
            output.close()
        logs_dir.cleanup()
        await redis.stop()


def _writable(paths: list[Path]) -> list[BinaryIO]:
    return [path.open("wb") for path in paths]


class Watcher:
    """One order's event stream on one instance: the tracking events each push held."""

    def __init__(self, session: aiohttp.ClientSession, url: str, order_id: str) -> None:
        self.pushes: asyncio.Queue[tuple[float, int]] = asyncio.Queue()
        self.errors: list[Any] = []  # pushes answered with errors
        payload = {"query": WATCH, "variables": {"id": to_global_id("Order", order_id)}}
        self._task = asyncio.create_task(self._listen(session, url, payload))

    async def _listen(self, session: aiohttp.ClientSession, url: str, payload: Any) -> None:
        headers = {"accept": "text/event-stream"}
        async with session.post(f"{url}/graphql", json=payload, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            event = ""
            async for raw in resp.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "next":
                    body = json.loads(line[5:])
                    if body.get("errors"):
                        self.errors.append(body["errors"])
                    order = (body.get("data") or {}).get("orderUpdated")
                    self.pushes.put_nowait((time.perf_counter(), _events(order)))

    async def holding(self, count: int) -> float:
        """When a push held at least ``count`` events."""
        while True:
            at, events = await self.pushes.get()
            if events >= count:
                return at

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def _query_until(
    session: aiohttp.ClientSession, url: str, order_id: str, count: int
) -> float:
    """When a query answer on ``url`` first held ``count`` events."""
    payload = {"query": PROBE, "variables": {"id": to_global_id("Order", order_id)}}
    while True:
        async with session.post(f"{url}/graphql", json=payload) as resp:
            body = await resp.json()
        if resp.status == 200 and _events(body["data"]["order"]) >= count:
            return time.perf_counter()
        if resp.status == 503:  # shed: asked again shortly, not after Retry-After
            await asyncio.sleep(0.01)


@dataclass
class Phase:
    label: str
    to_subscribers: list[float] = field(default_factory=list)
    to_queries: list[float] = field(default_factory=list)
    load: dict[str, Any] = field(default_factory=dict)
    load_average: float = 0.0
    missed: int = 0  # pushes and queries that did not show a change within the limit
    redis_unavailable: int = 0
    loop_late: int = 0


async def _within(waiting: Awaitable[float]) -> float | None:
    """When ``waiting`` saw the change; None if not within ``CHANGE_TIMEOUT_S``."""
    try:
        return await asyncio.wait_for(waiting, CHANGE_TIMEOUT_S)
    except TimeoutError:
        return None


@dataclass
class Watched:
    """An order watched on every instance, and the tracking events it holds by now."""

    order_id: str
    tracking_number: str
    streams: list[Watcher]
    events: int = 0


async def run_changes(
    phase: Phase, deployed: Deployment, watched: list[Watched], changes: int
) -> None:
    for n in range(changes):
        order = watched[n % len(watched)]
        count = order.events + 1
        started = time.perf_counter()
        url = f"{deployed.carrier}/admin/trackings/{order.tracking_number}/advance"
        async with deployed.session.post(url, json={"status": "IN_TRANSIT"}) as resp:
            assert resp.status == 200, await resp.text()
        # Pushes and queries are watched together: a query's time is its own, not
        # the slowest push's plus its own.
        pushes = asyncio.gather(*(_within(w.holding(count)) for w in order.streams))
        queries = asyncio.gather(
            *(
                _within(_query_until(deployed.session, gateway, order.order_id, count))
                for gateway in deployed.gateways
            )
        )
        pushed, answered = await asyncio.gather(pushes, queries)
        order.events = count
        phase.to_subscribers += [at - started for at in pushed if at is not None]
        phase.to_queries += [at - started for at in answered if at is not None]
        phase.missed += sum(at is None for at in [*pushed, *answered])
        await asyncio.sleep(0.05)  # one change at a time


@contextlib.asynccontextmanager
async def load(gateways: list[str], clients: int) -> AsyncIterator[dict[str, Any]]:
    """``clients`` clients in another process until the block ends; then their tally."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--load", ",".join(gateways), "--clients", str(clients),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    tally: dict[str, Any] = {}
    try:
        await asyncio.sleep(3)  # under way, every instance busy
        yield tally
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = await process.communicate()
        tally.update(json.loads(out))


async def main(changes: int, orders: int, clients: int, max_lag_ms: int | None) -> None:
    dataset = generate(seed=7, now=FIXED_NOW)
    extra = {} if max_lag_ms is None else {"OG_MAX_LOOP_LAG_MS": str(max_lag_ms)}
    async with deployment(extra) as deployed:
        watched = [
            Watched(
                o.id,
                o.shipments[0].tracking_number,
                [Watcher(deployed.session, url, o.id) for url in deployed.gateways],
            )
            for o in watched_orders(dataset, orders)
        ]
        for order in watched:  # each stream first pushes the order as it stands
            order.events = max([(await stream.pushes.get())[1] for stream in order.streams])
        phases = [Phase("idle"), Phase(f"{clients} clients")]
        for phase in phases:
            unavailable = deployed.log_count("redis cache unavailable")
            late = deployed.log_count("event loop late")
            if phase is phases[0]:
                await run_changes(phase, deployed, watched, changes)
            else:
                async with load(deployed.gateways, clients) as tally:
                    await run_changes(phase, deployed, watched, changes)
                phase.load = tally
            phase.load_average = os.getloadavg()[0]
            phase.redis_unavailable = deployed.log_count("redis cache unavailable") - unavailable
            phase.loop_late = deployed.log_count("event loop late") - late
        for order in watched:
            for stream in order.streams:
                for errors in stream.errors[:3]:
                    print("push with errors:", json.dumps(errors)[:300])
                await stream.close()
    print(f"{INSTANCES} instances on one Redis, webhooks to the first; {len(watched)} orders "
          f"watched over SSE on every instance; {changes} changes per phase; "
          f"{os.cpu_count()} cores")  # fmt: skip
    print(f"{'phase':<12} {'to':<12} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}  notes")
    for phase in phases:
        notes = f"load avg {phase.load_average:.1f}"
        if phase.load:
            seconds = phase.load["seconds"]
            notes += (
                f", load {phase.load['ok'] / seconds:.0f} req/s answered, "
                f"{phase.load['shed'] / seconds:.0f}/s shed (503), "
                f"{phase.load['other']} other"
            )
        notes += f"; missed {phase.missed} (none within {CHANGE_TIMEOUT_S:.0f} s)"
        notes += f"; logged: redis unavailable {phase.redis_unavailable}x, "
        notes += f"loop late {phase.loop_late}x"
        for label, values in (("subscribers", phase.to_subscribers), ("queries", phase.to_queries)):
            q = statistics.quantiles(values, n=100, method="inclusive")
            print(f"{phase.label:<12} {label:<12} {q[49] * 1000:>7.1f} {q[98] * 1000:>7.1f} "
                  f"{max(values) * 1000:>7.1f}  {notes if label == 'queries' else ''}")  # fmt: skip


async def load_main(gateways: list[str], clients: int) -> None:
    """Full one-order views of random orders, round robin over the instances, until
    SIGTERM; prints the tally as JSON."""
    dataset = generate(seed=7, now=FIXED_NOW)
    numbers = [order.number for order in dataset.orders.values()]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    tally = {"ok": 0, "shed": 0, "other": 0}
    turn = iter(range(10**12))

    async def client(session: aiohttp.ClientSession) -> None:
        while not stop.is_set():
            url = gateways[next(turn) % len(gateways)]
            payload = {"query": ORDER_BY_NUMBER, "variables": {"number": random.choice(numbers)}}
            async with session.post(f"{url}/graphql", json=payload) as resp:
                await resp.read()
            kind = "ok" if resp.status == 200 else "shed" if resp.status == 503 else "other"
            tally[kind] += 1

    started = time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        workers = [asyncio.create_task(client(session)) for _ in range(clients)]
        await stop.wait()
        await asyncio.gather(*workers)
    print(json.dumps({**tally, "seconds": time.monotonic() - started}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=60)
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--max-loop-lag-ms", type=int)
    parser.add_argument("--load", help=argparse.SUPPRESS)  # the load process's gateways
    args = parser.parse_args()
    if args.load:
        asyncio.run(load_main(args.load.split(","), args.clients))
    else:
        asyncio.run(main(args.changes, args.orders, args.clients, args.max_loop_lag_ms))
