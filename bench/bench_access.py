"""What authentication, scope checks and limits cost per request.

1. In process, each pre-execution step for the full single-order view, p50 over
   many runs: authenticating a key (cache hit), the scope set's denied fields,
   the document analysis (limits; cache hit), the static cost with variables, and
   a cost-bucket charge (in-memory backend).
2. End to end against the demo (dev mode, so anonymous calls skip authentication):
   p50 of a small query without a key and with a console key, 1 client.

    python bench/bench_access.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from harness import running_demo

from gateway.admission.bucket import CostBucket
from gateway.admission.cost import CostModel
from gateway.admission.documents import DocumentAnalyser, Limits
from gateway.auth.authenticate import Authenticator
from gateway.auth.keys import generate_key
from gateway.auth.store import open_key_store
from resolvers.access import ALL_SCOPES, ScopeMap
from resolvers.schema import build_schema
from sources.cache import MemoryBackend
from tests.queries import ORDER_BY_NUMBER

SMALL = '{ orderByNumber(number: "1001") { number customerStatus } }'


def p50_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


async def timed(step: Callable[[], Awaitable[Any] | Any], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        result = step()
        if asyncio.iscoroutine(result):
            await result
        samples.append(time.perf_counter() - started)
    return p50_us(samples)


async def in_process(runs: int, store_url: str, pepper: str, key: str) -> None:
    schema = build_schema()
    analyser = DocumentAnalyser(schema._schema, Limits())
    model = CostModel(schema._schema)
    scopes = ScopeMap(schema)
    authenticator = Authenticator(open_key_store(store_url), pepper)
    bucket = CostBucket(MemoryBackend())
    headers = {"authorization": f"Bearer {key}"}
    variables = {"number": "1001"}
    analysis = analyser.analyse(ORDER_BY_NUMBER, None)
    await authenticator.authenticate(headers, {})
    steps: dict[str, Callable[[], Any]] = {
        "authenticate (cached key)": lambda: authenticator.authenticate(headers, {}),
        "scope check (denied fields)": lambda: scopes.access(
            "acct_x", frozenset({"orders:read"}), internal=False
        ),
        "limits (document analysis, cached)": lambda: analyser.analyse(ORDER_BY_NUMBER, None),
        "static cost with variables": lambda: model.requested_cost(analysis, variables),
        "cost bucket charge (memory)": lambda: bucket.take("k", 1, 1e9, 1e9),
    }
    print("in process, full single-order view, p50 per step:")
    for name, step in steps.items():
        print(f"  {name:<38} {await timed(step, runs):8.1f} µs")


async def end_to_end(requests: int, store_url: str, pepper: str, key: str) -> None:
    env = {"OG_KEYS_URL": store_url, "OG_KEY_PEPPER": pepper}
    async with running_demo(env) as demo:
        payload = {"query": SMALL}

        async def ask(headers: dict[str, str]) -> None:
            async with demo.session.post(f"{demo.url}/graphql", json=payload, headers=headers) as r:
                assert r.status == 200, await r.text()
                await r.read()

        for _ in range(300):  # warm caches and connections
            await ask({})
            await ask({"authorization": f"Bearer {key}"})
        anonymous = await timed(lambda: ask({}), requests)
        keyed = await timed(lambda: ask({"authorization": f"Bearer {key}"}), requests)
    print(f"end to end, small warm query, 1 client, {requests} requests each:")
    print(f"  without a key (dev mode, limits on)    {anonymous / 1000:8.3f} ms p50")
    print(f"  with a console key (auth + scopes)     {keyed / 1000:8.3f} ms p50")
    print(f"  difference                             {(keyed - anonymous):8.1f} µs")


async def main(requests: int) -> None:
    pepper = secrets.token_urlsafe(32)
    store_url = f"file:{tempfile.mkdtemp(prefix='og-bench-')}/keys.json"
    key, record = generate_key(
        pepper=pepper, env="bench", tenant="*", scopes=sorted(ALL_SCOPES),
        client_class="console", tier="internal",
    )  # fmt: skip
    store = open_key_store(store_url)
    await store.put(record)
    await store.close()
    await in_process(20_000, store_url, pepper, key)
    await end_to_end(requests, store_url, pepper, key)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    os.environ.setdefault("OG_LOG_LEVEL", "WARNING")
    asyncio.run(main(parser.parse_args().requests))
