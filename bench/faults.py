"""Fault scenarios: what callers see while a dependency fails, and whether a write is
duplicated or lost.

Starts a private ``redis-server``, the simulated sources (``ordergraph sim``) and the
gateway (``ordergraph serve``, dev mode, cache and idempotency store in that Redis) in
processes of their own, all on loopback. Then, one after the other:

1. Redis paused (SIGSTOP) for ``--fault-seconds``, then resumed (SIGCONT);
2. Redis killed and restarted empty;
3. the OMS answering 100% of its data calls with 503;
4. the carrier hanging on every call;
5. SIGTERM to the gateway under load (the last: the gateway does not come back).

During each, ``--clients`` readers send ``orderByNumber`` views in a closed loop, and
two ``ticketCreate`` and two ``orderCancel`` (each pair with one idempotency key) are
sent concurrently while the fault holds, and each once more after it (a client's
retry). Prints per scenario: HTTP statuses and error codes during the fault, p50/p99
latency during the fault, recovery (from the end of the fault to the last answer with
an error), and writes: tickets the ticketing source holds per key (must be 1) and
cancel calls that reached the OMS per key (must be 1), as duplicated or lost.

    python bench/faults.py [--fault-seconds 5] [--clients 4]

Stops by itself: each scenario lasts the fault plus at most ``--recovery-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from resolvers.relay import to_global_id  # noqa: E402
from sim.changes import ChangeError  # noqa: E402
from sim.changes.oms import check_cancel  # noqa: E402
from sim.seed import generate  # noqa: E402
from tests.support.ports import free_port_block  # noqa: E402
from tests.support.queries import CANCEL, CREATE, ORDER_BY_NUMBER  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402
from tests.support.serving import wait_ready  # noqa: E402

SOURCES = ("oms", "inventory", "carrier", "ticketing")
SEED = 7
# Each scenario reads its own 240 of the 1,200 orders, so its first reads of each are
# cache misses that reach the sources (a warm cache would hide a source's fault).
SLICE = 240


def numbers_for(scenario: int) -> list[str]:
    first = 1001 + SLICE * scenario
    return [str(n) for n in range(first, first + SLICE)]


@dataclass
class Answer:
    sent_at: float  # seconds since the scenario began
    status: int  # 0: no HTTP answer (connection refused or reset)
    codes: list[str]
    latency: float


@dataclass
class Scenario:
    name: str
    index: int  # which orders it reads and writes
    answers: list[Answer] = field(default_factory=list)
    fault_from: float = 0.0
    fault_to: float = 0.0
    writes: list[str] = field(default_factory=list)  # lines about duplicated/lost writes
    answers_of_writes: list[str] = field(default_factory=list)  # "during ticketCreate: ok"
    exited_after: float | None = None  # SIGTERM: seconds until the gateway exited
    exit_status: int | None = None
    succeeded: Counter[str] = field(default_factory=Counter)  # mutation -> answers "ok"


class Stack:
    """Redis, sources and gateway, each a process; the gateway's requests and the
    sources' counters and fault switches."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        port = free_port_block(105)
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.source_urls = {n: f"http://127.0.0.1:{port + 101 + i}" for i, n in enumerate(SOURCES)}
        self.redis = RedisServer()
        self.processes: list[asyncio.subprocess.Process] = []
        self.sigterm_at = 0.0
        self.exited: asyncio.Task[float] | None = None  # when the gateway exited

    async def start(self) -> None:
        await self.redis.start()
        env = {
            **os.environ,
            "OG_LOG_LEVEL": "WARNING",
            "OG_EXCEPTION_QUEUE": "false",
            "OG_DEV_MODE": "1",
            "OG_CACHE_URL": self.redis.url,
            **{f"OG_{n.upper()}_URL": url for n, url in self.source_urls.items()},
        }
        commands = [
            ("sim", "--seed", str(SEED), "--port-base", str(self.port + 101),
             "--latency-ms", "3", "--jitter-ms", "2"),
            ("serve", "--port", str(self.port)),
        ]  # fmt: skip
        for command in commands:
            self.processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "gateway",
                    *command,
                    cwd=ROOT,
                    env=env,
                    stdout=asyncio.subprocess.DEVNULL,
                )
            )
        await wait_ready(self.session, self.url, self.processes[-1], timeout_s=60)

    @property
    def gateway(self) -> asyncio.subprocess.Process:
        return self.processes[-1]

    async def stop(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), timeout=20)
                except TimeoutError:
                    process.kill()
                    await process.wait()
        await self.redis.stop()

    async def post(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            async with self.session.post(f"{self.url}/graphql", json=payload) as resp:
                return resp.status, await resp.json(content_type=None)
        except (aiohttp.ClientError, ValueError) as exc:
            return 0, {"errors": [{"extensions": {"code": type(exc).__name__}}]}

    async def faults(self, source: str, spec: dict[str, Any] | None) -> None:
        url = f"{self.source_urls[source]}/__faults"
        method = self.session.put(url, json=spec) if spec else self.session.delete(url)
        async with method as resp:
            assert resp.status < 300, await resp.text()

    async def cancel_calls(self) -> int:
        async with self.session.get(f"{self.source_urls['oms']}/__stats") as resp:
            return int((await resp.json())["paths"].get("/orders/{id}/cancel", 0))

    async def tickets_with(self, order_id: str, subject: str) -> int:
        url = f"{self.source_urls['ticketing']}/tickets"
        async with self.session.get(url, params={"orderIds": order_id}) as resp:
            body = await resp.json()
        return sum(
            ticket.get("subject") == subject
            for entry in body.get("data", [])
            for ticket in entry.get("tickets", [])
        )

    async def cancelled(self, order_id: str) -> bool:
        url = f"{self.source_urls['oms']}/orders"
        async with self.session.get(url, params={"ids": order_id}) as resp:
            body = await resp.json()
        return any(order.get("cancelledAt") for order in body.get("data", []))


async def exit_time(process: asyncio.subprocess.Process) -> float:
    await process.wait()
    return time.monotonic()


def codes_of(body: dict[str, Any]) -> list[str]:
    return [
        str((error.get("extensions") or {}).get("code", "<none>"))
        for error in body.get("errors") or []
    ]


def cancellable_orders() -> list[str]:
    """Orders of the sources' data set a customer may cancel whole (as it is seeded)."""
    dataset = generate(seed=SEED, now=datetime.now(UTC))
    found = []
    for order in dataset.orders.values():
        try:
            check_cancel(order)
        except ChangeError:
            continue
        found.append(order.id)
    return found


async def readers(
    stack: Stack, scenario: Scenario, begin: float, until: Callable[[], bool], clients: int
) -> None:
    counter = iter(range(10**9))
    numbers = numbers_for(scenario.index)

    async def one() -> None:
        while not until():
            number = numbers[next(counter) % len(numbers)]
            sent = time.monotonic()
            status, body = await stack.post(
                {"query": ORDER_BY_NUMBER, "variables": {"number": number}}
            )
            latency = time.monotonic() - sent
            scenario.answers.append(Answer(sent - begin, status, codes_of(body), latency))
            if status == 0:
                await asyncio.sleep(0.05)  # refused: do not spin

    await asyncio.gather(*(one() for _ in range(clients)))


async def writes(stack: Stack, scenario: Scenario, order_id: str, phase: str) -> None:
    """Two concurrent ticketCreate and two concurrent orderCancel, one idempotency key
    per pair ('during'), or each once more with the same keys ('retry')."""
    gid = to_global_id("Order", order_id)
    subject = f"fault bench {scenario.name}"
    ticket_key, cancel_key = f"bench-t-{scenario.name}", f"bench-c-{scenario.name}"
    create = {"query": CREATE, "variables": {"input": {
        "orderId": gid, "subject": subject, "body": "written during a fault",
        "idempotencyKey": ticket_key}}}  # fmt: skip
    cancel = {"query": CANCEL, "variables": {"input": {
        "orderId": gid, "reason": "CUSTOMER", "idempotencyKey": cancel_key}}}  # fmt: skip
    tries = 2 if phase == "during" else 1
    answers = await asyncio.gather(*(stack.post(p) for p in [create, cancel] * tries))
    for (status, body), name in zip(answers, ["ticketCreate", "orderCancel"] * tries,
                                    strict=True):  # fmt: skip
        payload = (body.get("data") or {}).get(name) or {}
        user_errors = [e.get("code") for e in payload.get("userErrors") or []]
        problems = [f"HTTP {status}"] if status != 200 else []
        problems += codes_of(body) + [f"userError:{c}" for c in user_errors]
        scenario.answers_of_writes.append(f"{phase} {name}: {', '.join(problems) or 'ok'}")
        scenario.succeeded[name] += not problems


async def count_writes(
    stack: Stack, scenario: Scenario, order_id: str, cancels_before: int
) -> None:
    tickets = await stack.tickets_with(order_id, f"fault bench {scenario.name}")
    cancels = await stack.cancel_calls() - cancels_before  # every call, refused ones too
    cancelled = await stack.cancelled(order_id)
    scenario.writes.append(
        f"tickets created {tickets} (duplicated {max(0, tickets - 1)}, "
        f"lost {int(tickets == 0 and scenario.succeeded['ticketCreate'])}); "
        f"cancel calls reaching the OMS {cancels} (duplicated {max(0, cancels - 1)}), "
        f"order cancelled: {cancelled} "
        f"(lost {int(not cancelled and scenario.succeeded['orderCancel'])})"
    )


Step = Callable[[], Awaitable[None]]


async def run(
    stack: Stack, name: str, index: int, order_id: str, start_fault: Step,
    end_fault: Step | None, args: argparse.Namespace,
) -> Scenario:  # fmt: skip
    """Readers throughout; the fault from 1 s for ``fault_seconds``; writes during it
    and a retry after it; readers until ``recovery_seconds`` after the fault."""
    scenario = Scenario(name, index)
    begin = time.monotonic()
    stop_at = begin + 1 + args.fault_seconds + args.recovery_seconds
    cancels_before = await stack.cancel_calls()
    reading = asyncio.create_task(
        readers(stack, scenario, begin, lambda: time.monotonic() > stop_at, args.clients)
    )
    await asyncio.sleep(1)
    scenario.fault_from = time.monotonic() - begin
    await start_fault()
    await asyncio.sleep(0.5)
    await writes(stack, scenario, order_id, "during")
    remaining = begin + 1 + args.fault_seconds - time.monotonic()
    await asyncio.sleep(max(0.0, remaining))
    if end_fault is not None:
        await end_fault()
        scenario.fault_to = time.monotonic() - begin
        await asyncio.sleep(0.5)
        await writes(stack, scenario, order_id, "retry")
    else:
        scenario.fault_to = time.monotonic() - begin
    if stack.exited is not None:
        exited_at = await asyncio.wait_for(stack.exited, timeout=60)
        scenario.exit_status = stack.gateway.returncode
        scenario.exited_after = exited_at - stack.sigterm_at
    await reading
    await count_writes(stack, scenario, order_id, cancels_before)
    return scenario


def report(scenario: Scenario) -> None:
    during = [a for a in scenario.answers if scenario.fault_from <= a.sent_at < scenario.fault_to]
    after = [a for a in scenario.answers if a.sent_at >= scenario.fault_to]
    statuses = Counter(a.status for a in during)
    codes = Counter(code for a in during for code in a.codes)
    print(f"\n== {scenario.name} (fault {scenario.fault_to - scenario.fault_from:.1f} s)")
    print(f"  reads during the fault: {len(during)}; HTTP statuses {dict(statuses)}")
    print(f"  error codes during the fault: {dict(codes) or 'none'}")
    if len(during) >= 2:
        q = statistics.quantiles([a.latency for a in during], n=100, method="inclusive")
        print(f"  latency during the fault ms: p50 {q[49] * 1000:.1f}  p99 {q[98] * 1000:.1f}")
    bad_after = [a for a in after if a.status != 200 or a.codes]
    if scenario.exited_after is not None:
        print(f"  gateway exited {scenario.exited_after:.2f} s after SIGTERM "
              f"(status {scenario.exit_status}); it does not come back: no recovery")  # fmt: skip
    elif not after:
        print("  recovery: no reads after the fault")
    elif not bad_after:
        print(f"  recovery: immediate (all {len(after)} reads after the fault clean)")
    else:
        last = max(a.sent_at + a.latency for a in bad_after) - scenario.fault_to
        clean = len(after) - len(bad_after)
        print(f"  recovery: {last:.2f} s after the fault ended ({len(bad_after)} of "
              f"{len(after)} reads after it had errors, {clean} clean)")  # fmt: skip
    print(f"  write answers: {'; '.join(scenario.answers_of_writes)}")
    for line in scenario.writes:
        print(f"  writes: {line}")


async def main(args: argparse.Namespace) -> None:
    orders = cancellable_orders()
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=64), timeout=aiohttp.ClientTimeout(total=30)
    ) as session:
        stack = Stack(session)
        try:
            await stack.start()
            redis_pid = stack.redis._process.pid if stack.redis._process else None
            assert redis_pid is not None

            async def pause() -> None:
                os.kill(redis_pid, signal.SIGSTOP)

            async def resume() -> None:
                os.kill(redis_pid, signal.SIGCONT)

            async def kill_redis() -> None:
                await stack.redis.kill()

            async def restart_redis() -> None:
                await stack.redis.start()  # the same port, nothing kept

            async def oms_errors() -> None:
                await stack.faults("oms", {"errorRate": 1.0})

            async def carrier_hangs() -> None:
                await stack.faults("carrier", {"hang": True})

            async def sigterm() -> None:
                stack.sigterm_at = time.monotonic()
                stack.gateway.send_signal(signal.SIGTERM)
                stack.exited = asyncio.create_task(exit_time(stack.gateway))

            async def restored(source: str) -> Callable[[], Awaitable[None]]:
                async def clear() -> None:
                    await stack.faults(source, None)

                return clear

            plan: list[tuple[str, Any, Any]] = [
                ("Redis paused (SIGSTOP)", pause, resume),
                ("Redis killed, restarted empty", kill_redis, restart_redis),
                ("OMS at 100% errors", oms_errors, await restored("oms")),
                ("carrier hanging", carrier_hangs, await restored("carrier")),
                ("SIGTERM under load", sigterm, None),
            ]
            for i, (name, start, end) in enumerate(plan):
                scenario = await run(stack, name, i, orders[i], start, end, args)
                report(scenario)
                if redis_pid is not None and name.startswith("Redis paused"):
                    os.kill(redis_pid, signal.SIGCONT)  # whatever happened
        finally:
            if stack.redis._process is not None and stack.redis._process.returncode is None:
                os.kill(stack.redis._process.pid, signal.SIGCONT)
            await stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault-seconds", type=float, default=5.0)
    parser.add_argument("--recovery-seconds", type=float, default=6.0)
    parser.add_argument("--clients", type=int, default=4)
    asyncio.run(main(parser.parse_args()))
