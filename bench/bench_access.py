"""What authentication, scope checks and limits cost per request, all in process
(no network in the measure), against a production-mode gateway (no dev mode) over
the simulated sources, with warm caches.

1. Per request, p50 of the same small query run three ways, and the whole edge:
   - no auth, no limits: the operation executed, admitted once beforehand;
   - auth only: the API key checked (a verified-key cache hit), then executed;
   - auth + scopes + limits + bucket: the key, then the gate (persisted rules,
     document analysis and cost from their caches, scopes, a bucket charge), then
     executed;
   - the whole edge: the same through the ASGI app (HTTP parsing and JSON out too).
   The bucket lives in the cache backend: in memory, or Redis with ``--redis``.
2. Cold analysis: a document seen for the first time (parse under the token
   limit, the limits walk, the cost compiled), against the cached one.
3. The attack suite's cases (tests/support/attacks.py), each answered in process: p50 and
   max of its rejection latency.

    python bench/bench_access.py [--runs 3000] [--redis | --redis URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import harness  # noqa: F401  (puts the repository on sys.path, for tests.*)
import httpx
from asgi_lifespan import LifespanManager

from gateway.admission.cost import CostModel
from gateway.admission.documents import DocumentAnalyser
from gateway.admission.limits import Limits
from gateway.app import Components, Running, create_app
from gateway.auth.authenticate import principal_for
from resolvers.schema import build_schema
from sim.cluster import start_cluster
from sim.seed import generate
from tests.support.attacks import ATTACKS, check, send
from tests.support.gateways import FIXED_NOW
from tests.support.queries import ORDER_BY_NUMBER
from tests.support.redis_server import RedisServer
from tests.support.secured import secured_settings

SMALL = '{ orderByNumber(number: "1001") { number customerStatus } }'  # 2 points
KEY = "console"  # every scope; the internal tier's bucket outlasts the runs


async def timed(step: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    """Each run's seconds."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await step()
        samples.append(time.perf_counter() - started)
    return samples


def us(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1e6:9.1f} µs"


async def per_request(
    running: Running, client: httpx.AsyncClient, state: Components, key: str, runs: int
) -> None:
    endpoint = running["graphql"]
    gate, operations = endpoint._gate, endpoint._operations
    headers = {"authorization": f"Bearer {key}"}
    payload = {"query": SMALL}
    principal = await principal_for(state.authenticator, headers, {}, dev_mode=False)
    admitted = await gate.admit(payload, principal, invalid=400)

    async def unchecked() -> None:
        await operations.execute(admitted)

    async def authenticated() -> None:
        await principal_for(state.authenticator, headers, {}, dev_mode=False)
        await operations.execute(admitted)

    async def checked() -> None:
        caller = await principal_for(state.authenticator, headers, {}, dev_mode=False)
        await operations.execute(await gate.admit(payload, caller, invalid=400))

    async def edge() -> None:
        response = await client.post("/graphql", json=payload, headers=headers)
        assert response.status_code == 200 and "errors" not in response.json(), response.text

    steps = {
        "no auth, no limits (execute only)": unchecked,
        "auth only": authenticated,
        "auth + scopes + limits + bucket": checked,
        "the whole edge (ASGI, JSON in and out)": edge,
    }
    for step in steps.values():  # warm every cache on the way
        await timed(step, 200)
    print(f"per request, small warm query, p50 of {runs} (bucket: {state.settings.cache_url}):")
    results = {name: await timed(step, runs) for name, step in steps.items()}
    for name, samples in results.items():
        print(f"  {name:<42} {us(samples)}")
    base = statistics.median(results["no auth, no limits (execute only)"])
    for name in ("auth only", "auth + scopes + limits + bucket"):
        print(f"  {'  + ' + name:<42} {(statistics.median(results[name]) - base) * 1e6:+9.1f} µs")


async def cold_analysis(runs: int) -> None:
    """A first-seen document each run (a unique comment makes the text new)."""
    schema = build_schema()._schema
    analyser, model = DocumentAnalyser(schema, Limits()), CostModel(schema)
    variables = {"number": "1001"}
    documents = iter(f"# {n}\n{ORDER_BY_NUMBER}" for n in range(10**9))

    async def cold() -> None:
        model.requested_cost(analyser.analyse(next(documents), None), variables)

    async def warm() -> None:
        model.requested_cost(analyser.analyse(ORDER_BY_NUMBER, None), variables)

    await warm()
    print("admission analysis of the full single-order view (parse, limits, cost):")
    print(f"  {'first seen (cold)':<42} {us(await timed(cold, runs))}")
    print(f"  {'cached (warm)':<42} {us(await timed(warm, runs))}")


async def attacks(client: httpx.AsyncClient, keys: dict[str, str], runs: int) -> None:
    print(f"attack rejections in process, {runs} each:")
    print(f"  {'attack':<48} {'status':>6} {'p50 ms':>8} {'max ms':>8}")
    for attack in ATTACKS:
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            response = await send(client, keys, attack)
            samples.append(time.perf_counter() - started)
            check(attack, response)
        print(
            f"  {attack.name:<48} {attack.status:>6} "
            f"{statistics.median(samples) * 1000:8.2f} {max(samples) * 1000:8.2f}"
        )


@contextlib.asynccontextmanager
async def cache_url(redis: str | None) -> AsyncIterator[str]:
    """``memory://``, the given Redis, or a private redis-server ("private")."""
    if redis != "private":
        yield redis or "memory://"
        return
    server = RedisServer()
    await server.start()
    try:
        yield server.url
    finally:
        await server.stop()


async def main(runs: int, attack_runs: int, redis: str | None) -> None:
    async with (
        cache_url(redis) as url,
        await start_cluster(generate(seed=7, now=FIXED_NOW)) as cluster,
    ):
        directory = Path(tempfile.mkdtemp(prefix="og-bench-access-"))
        settings, keys = await secured_settings(cluster.urls, directory, cache_url=url)
        state = Components(settings)
        manager = LifespanManager(create_app(settings, state))
        transport = httpx.ASGITransport(app=manager.app)
        async with (
            manager,
            httpx.AsyncClient(transport=transport, base_url="http://gateway") as client,
        ):
            running: Running = manager._state  # type: ignore[assignment]  # what endpoints get
            await per_request(running, client, state, keys[KEY], runs)
            await cold_analysis(runs)
            await attacks(client, keys, attack_runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--attack-runs", type=int, default=50)
    parser.add_argument(
        "--redis", nargs="?", const="private", default=None,
        help="buckets (and the cache) in Redis: a private redis-server, or this URL",
    )  # fmt: skip
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # refused keys and the like: expected here
    asyncio.run(main(args.runs, args.attack_runs, args.redis))
