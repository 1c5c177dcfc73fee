"""Single flight (sources.resilience.coalesce): identical calls at once share one."""

from __future__ import annotations

import asyncio

import pytest

from sources.resilience.coalesce import SingleFlight


class Upstream:
    """Counts its calls; each waits for ``release``."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.release = asyncio.Event()

    async def read(self, key: str) -> str:
        self.calls.append(key)
        await self.release.wait()
        if key == "broken":
            raise RuntimeError("the source failed")
        return f"answer to {key}"


async def test_identical_calls_at_once_share_one_and_others_run_apart():
    upstream, flight = Upstream(), SingleFlight[str, str]()
    asked = ["a", "a", "b", "a"]
    calls = [asyncio.create_task(flight.run(k, lambda k=k: upstream.read(k))) for k in asked]
    await asyncio.sleep(0)
    assert len(flight) == 2
    upstream.release.set()
    assert await asyncio.gather(*calls) == [f"answer to {k}" for k in asked]
    assert sorted(upstream.calls) == ["a", "b"]
    assert len(flight) == 0
    assert await flight.run("a", lambda: upstream.read("a")) == "answer to a"  # a new call
    assert upstream.calls.count("a") == 2


async def test_a_caller_giving_up_does_not_cancel_the_call_for_the_others():
    upstream, flight = Upstream(), SingleFlight[str, str]()
    first = asyncio.create_task(flight.run("a", lambda: upstream.read("a")))
    second = asyncio.create_task(flight.run("a", lambda: upstream.read("a")))
    await asyncio.sleep(0)
    first.cancel()
    upstream.release.set()
    assert await second == "answer to a"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_failure_reaches_every_caller():
    upstream, flight = Upstream(), SingleFlight[str, str]()
    calls = [
        asyncio.create_task(flight.run("broken", lambda: upstream.read("broken"))) for _ in range(2)
    ]
    upstream.release.set()
    for call in calls:
        with pytest.raises(RuntimeError, match="the source failed"):
            await call
    assert upstream.calls == ["broken"]
