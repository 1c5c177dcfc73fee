"""Another tenant's latency while clients send documents that are expensive to
admit (the issue's: one field repeated to 2,000 tokens, a unique comment each time
so no cache helps). The gateway runs as ``ordergraph demo`` in its own process.

Prints the victim's p50 and p99 alone, then with ``--attackers`` clients sending the
document as fast as they are answered, and what the attackers got back.

    python bench/bench_attack_cpu.py [--seconds 8] [--attackers 3]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import statistics
import time

from harness import Demo, running_demo

VICTIM = {"query": "{ orders(first: 5) { nodes { id number } } }"}


def attack_document(n: int) -> str:
    return "{ orders(first: 1) { edges { node { " + "id " * 1980 + "} } } }" + f"\n# {n}"


async def victim(demo: Demo, seconds: float) -> list[float]:
    latencies = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        async with demo.session.post(f"{demo.url}/graphql", json=VICTIM) as resp:
            assert resp.status == 200, await resp.text()
            await resp.read()
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.01)
    return latencies


async def attacker(demo: Demo, seconds: float, seen: collections.Counter[str]) -> None:
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
        async with demo.session.post(
            f"{demo.url}/graphql", json={"query": attack_document(id(seen) + n)}
        ) as resp:
            body = await resp.json(content_type=None)
        errors = body.get("errors") or [{}]
        seen[f"{resp.status} {errors[0].get('extensions', {}).get('code', 'ok')}"] += 1


def line(label: str, latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return (
        f"{label:<28} p50 {q[49] * 1000:7.1f} ms   p99 {q[98] * 1000:7.1f} ms   n={len(latencies)}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--attackers", type=int, default=3)
    args = parser.parse_args()
    async with running_demo() as demo:
        await victim(demo, 1.0)  # warm
        print(line("victim alone", await victim(demo, args.seconds)))
        seen: collections.Counter[str] = collections.Counter()
        results = await asyncio.gather(
            victim(demo, args.seconds),
            *(attacker(demo, args.seconds, seen) for _ in range(args.attackers)),
        )
        print(line(f"victim, {args.attackers} attackers", results[0]))
        print("attackers got:", dict(seen))


if __name__ == "__main__":
    asyncio.run(main())
