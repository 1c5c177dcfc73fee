"""Bounding a duration on a machine that other tests load too.

A loaded machine only ever adds time to a measurement, never removes it: of a few
tries, the fastest is the honest estimate of what the work costs, or of how fast the
product answers. A bound the product promises is held against ``fastest(...)``: the
test passes when one try meets it, and fails when none does.

A cost in CPU is measured with ``cpu_s``: this thread's CPU time, which other
processes (and this process's other threads) do not add to. Even that grows when the
virtual machine's host is busy (shared caches and cores): ``slowdown()`` says by how
much, from a fixed piece of pure-Python work that is not the product's, so a bound set
for the machine class can be scaled by it (and only ever up).

Waits that only bound how long a failing test hangs use ``HANG_S``."""

from __future__ import annotations

import io
import json.decoder
import time
import tokenize
from collections.abc import Awaitable, Callable
from pathlib import Path

TRIES = 5
# How long a wait for something that should happen at once may take before the test
# fails: only how long a broken test hangs, so generous for a fully loaded machine.
HANG_S = 20.0


def cpu_s(work: Callable[[], object]) -> float:
    """The CPU time (s) this thread spends running ``work()``."""
    started = time.thread_time()
    work()
    return time.thread_time() - started


# Tokenizing json/decoder.py (pure Python, like graphql-core): 3.5 to 3.7 ms of CPU on
# the 2-core machine class when its host is quiet (least of 15 runs, 5 processes).
REFERENCE_TEXT = Path(json.decoder.__file__).read_text()
REFERENCE_CPU_S = 0.0036


def reference_work() -> int:
    return sum(1 for _ in tokenize.generate_tokens(io.StringIO(REFERENCE_TEXT).readline))


def slowdown(tries: int = TRIES) -> float:
    """How much slower than the machine class this thread runs now (at least 1): the
    fastest of ``tries`` runs of the reference work over its quiet-machine time."""
    reference_work()  # warm: the first run in a process also imports and allocates
    return max(1.0, fastest(lambda: cpu_s(reference_work), 0, tries) / REFERENCE_CPU_S)


def fastest(measure: Callable[[], float], within: float, tries: int = TRIES) -> float:
    """The least of up to ``tries`` results of ``measure()``, stopping at the first one
    ``within`` the bound (the bound is then met; more tries would prove nothing)."""
    least = measure()
    for _ in range(tries - 1):
        if least < within:
            break
        least = min(least, measure())
    return least


async def fastest_async(
    measure: Callable[[], Awaitable[float]], within: float, tries: int = TRIES
) -> float:
    """``fastest`` for a measurement that awaits."""
    least = await measure()
    for _ in range(tries - 1):
        if least < within:
            break
        least = min(least, await measure())
    return least
