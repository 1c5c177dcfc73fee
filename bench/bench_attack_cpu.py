"""Another tenant's latency while clients send documents that are expensive to
admit (one field repeated to 2,000 tokens, a unique comment each time so no cache
helps). The gateway runs as ``ordergraph demo`` in its own process.

Prints the victim's p50 and p99 alone, then with ``--attackers`` clients sending the
document as fast as they are answered, and what the attackers got back.

By default the demo (dev mode: anonymous requests are charged to no bucket, so this
measures the per-document bound alone). With ``--production``, ``ordergraph sim`` and
``ordergraph serve`` outside dev mode, the victim with a key of its own (internal
tier, so its own rate never throttles it) and the attackers with one free-tier key,
as an attacker from outside would.

    python bench/bench_attack_cpu.py [--seconds 8] [--attackers 3] [--production]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import statistics
import tempfile
import time
from collections.abc import AsyncIterator

from harness import Demo, running_demo

from gateway.auth.keys import generate_key
from gateway.auth.store import open_key_store

PEPPER = "bench-pepper-0123456789abcdef0123"

VICTIM = {"query": "{ orders(first: 5) { nodes { id number } } }"}


def attack_document(n: int) -> str:
    return "{ orders(first: 1) { edges { node { " + "id " * 1980 + "} } } }" + f"\n# {n}"


HEADERS: dict[str, dict[str, str]] = {"victim": {}, "attacker": {}}


@contextlib.asynccontextmanager
async def production() -> AsyncIterator[Demo]:
    """Sources and a production-mode gateway, each in its own process; the keys'
    headers in HEADERS."""
    with tempfile.TemporaryDirectory() as directory:
        store_url = f"file:{directory}/keys.json"
        store = open_key_store(store_url)
        for name, tier in (("victim", "internal"), ("attacker", "free")):
            key, record = generate_key(
                pepper=PEPPER, env="test", tenant="*", scopes=["orders:read"],
                client_class="app", tier=tier,
            )  # fmt: skip
            await store.put(record)
            HEADERS[name] = {"authorization": f"Bearer {key}"}
        await store.close()
        env = {"OG_DEV_MODE": "0", "OG_KEY_PEPPER": PEPPER, "OG_KEYS_URL": store_url}
        async with running_demo(env, split=True) as demo:
            yield demo


async def victim(demo: Demo, seconds: float) -> list[float]:
    latencies = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        async with demo.session.post(
            f"{demo.url}/graphql", json=VICTIM, headers=HEADERS["victim"]
        ) as resp:
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
            f"{demo.url}/graphql",
            json={"query": attack_document(id(seen) + n)},
            headers=HEADERS["attacker"],
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
    parser.add_argument("--production", action="store_true")
    args = parser.parse_args()
    async with production() if args.production else running_demo() as demo:
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
