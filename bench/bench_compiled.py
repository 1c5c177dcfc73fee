"""Compiled execution against the reference executor, in the same run.

For each executor (``OG_COMPILED_EXECUTION`` false, then true, repeated), a gateway
over the sources in a process of their own serves the full single-order view and a
50-order page with the full nested view at 10 concurrent clients; printed: the
gateway process's CPU milliseconds per request (its CPU time over the requests it
served: the steadiest figure on a shared machine), requests per second, p50 and p99.

``--cache`` picks what the gateway keeps: ``default`` (its settings: whole answers
and entities), ``entities`` (no response cache: every answer is built, from the warm
in-memory entity cache) or ``none`` (nothing kept: every record from its source).
``--executor`` runs only one executor, ``--view`` only one view (``one`` or ``page``).
``--against DIR`` runs the gateway from another checkout too (e.g. a ``git worktree
add`` of the commit before a change), alternating with this one run by run, so a
before and after share the machine's load; the first column then names the checkout.

    python bench/bench_compiled.py [--seconds 10] [--repeat 2] [--cache none]
    python bench/bench_compiled.py --against ../before --executor compiled --view one \
        --cache none --repeat 6 --seconds 8
    python bench/bench_compiled.py --equivalence 1000   # the differential test, longer
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
from pathlib import Path

from harness import CLIENTS, LIFTED_LIMITS, ROOT, SOURCES, Run, cpu_seconds, drive, running_demo
from harness import FULL_VIEWS as VIEWS


def line(executor: str, view: str, run: Run, cpu_s: float) -> str:
    q = statistics.quantiles(run.latencies, n=100, method="inclusive")
    served = len(run.latencies)
    return (
        f"{view:<24} {executor:<10} {cpu_s * 1000 / served:>8.2f} "
        f"{served / run.elapsed:>8.1f} {q[49] * 1000:>8.1f} {q[98] * 1000:>8.1f}"
    )


SHORT_VIEWS = dict(zip(("one", "page"), VIEWS, strict=True))
EXECUTORS = {"reference": "false", "compiled": "true"}
CACHES: dict[str, dict[str, str]] = {
    "default": {},
    "entities": {"OG_RESPONSE_CACHE": "false"},
    "none": {"OG_RESPONSE_CACHE": "false"}
    | {
        f"OG_{source.upper()}_CACHE_{window}_MS": "0"
        for source in SOURCES
        for window in ("TTL", "STALE", "KEEP", "NEGATIVE_TTL")
    },
}


async def measure(
    seconds: float,
    repeat: int,
    cache: str,
    executors: list[str],
    views: list[str],
    roots: list[Path],
) -> None:
    print(f"{CLIENTS} clients, {seconds:.0f} s per run, sources in their own process")
    print(f"cache: {cache}")
    header = f"{'view':<24} {'executor':<10} {'CPU ms':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
    print(f"{'checkout':<12} {header}" if len(roots) > 1 else header)
    for round_ in range(repeat):
        for root in roots if round_ % 2 == 0 else roots[::-1]:  # alternate who goes first
            for executor in executors:
                env = {**LIFTED_LIMITS, **CACHES[cache]}
                env["OG_COMPILED_EXECUTION"] = EXECUTORS[executor]
                async with running_demo(env, split=True, root=root) as demo:
                    for view in views:
                        payloads = VIEWS[view]
                        await drive(demo, payloads, clients=CLIENTS, seconds=2.0)  # warm-up
                        before = cpu_seconds(demo.pid)
                        run = await drive(demo, payloads, clients=CLIENTS, seconds=seconds)
                        figures = line(executor, view, run, cpu_seconds(demo.pid) - before)
                        print(f"{root.name[:12]:<12} {figures}" if len(roots) > 1 else figures)


def equivalence(examples: int) -> int:
    """The differential test with ``examples`` generated queries per pass."""
    env = {**os.environ, "EQUIVALENCE_EXAMPLES": str(examples)}
    command = [sys.executable, "-m", "pytest", "-q", "tests/e2e/test_compiled_equivalence.py"]
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--cache", choices=CACHES, default="default")
    parser.add_argument("--executor", choices=EXECUTORS)
    parser.add_argument("--view", choices=SHORT_VIEWS)
    parser.add_argument("--against", type=Path, metavar="DIR", help="another checkout to run too")
    parser.add_argument("--equivalence", type=int, metavar="EXAMPLES")
    args = parser.parse_args()
    if args.equivalence:
        sys.exit(equivalence(args.equivalence))
    executors = [args.executor] if args.executor else list(EXECUTORS)
    views = [SHORT_VIEWS[args.view]] if args.view else list(VIEWS)
    roots = [ROOT] if args.against is None else [args.against.resolve(), ROOT]
    asyncio.run(measure(args.seconds, args.repeat, args.cache, executors, views, roots))
