"""Batch reads pooled while their source holds calls back
(sources.resilience.held_batches)."""

from __future__ import annotations

import asyncio

import pytest

from sources.failures import SOURCE_TIMEOUT, SourceError
from sources.resilience import deadline
from sources.resilience.held_batches import HeldBatches


class Source:
    def __init__(self, held_s: float = 0.0) -> None:
        self.held = held_s
        self.calls: list[list[str]] = []

    def held_s(self) -> float:
        return self.held

    async def read(self, keys: list[str]) -> dict[str, str]:
        self.calls.append(keys)
        return {key: key.upper() for key in keys if key != "missing"}


async def test_a_source_that_holds_nothing_back_is_read_at_once():
    source = Source()
    batches = HeldBatches("carrier", source.read, source.held_s, batch_size=2)
    answers = await asyncio.gather(batches.read(["a"]), batches.read(["b", "c"]))
    assert answers == [{"a": "A"}, {"b": "B", "c": "C"}]
    assert source.calls == [["a"], ["b", "c"]]


async def test_reads_while_the_source_holds_go_out_together_within_its_batch_limit():
    source = Source(held_s=0.05)
    batches = HeldBatches("carrier", source.read, source.held_s, batch_size=3)
    asked = [["a", "b"], ["b", "c"], ["d", "missing"], ["e"]]
    answers = await asyncio.gather(*(batches.read(keys) for keys in asked))
    assert answers == [{"a": "A", "b": "B"}, {"b": "B", "c": "C"}, {"d": "D"}, {"e": "E"}]
    assert source.calls == [["a", "b", "c"], ["d", "missing", "e"]]  # 2 calls, not 4


async def test_a_request_whose_deadline_ends_first_fails_alone():
    source = Source(held_s=0.2)
    batches = HeldBatches("carrier", source.read, source.held_s, batch_size=10)

    async def hurried() -> object:
        deadline.start(0.05)
        return await batches.read(["a"])

    patient = asyncio.create_task(batches.read(["b"]))
    with pytest.raises(SourceError) as raised:
        await hurried()
    assert (raised.value.code, raised.value.retryable) == (SOURCE_TIMEOUT, True)
    assert await patient == {"b": "B"}
    assert [sorted(keys) for keys in source.calls] == [["a", "b"]]  # one pooled call
