"""The demo's and the simulator's data set "now" (gateway/cli.py ``data_set_now``):
``--now`` itself, so that the same ``--seed`` and ``--now`` serve the same data even
when the clock that started there has ticked past a second."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.cli import _parser, data_set_now
from sources import clock as clocks
from sources.clock import ShiftedClock


def test_the_data_set_is_generated_at_now_not_at_the_ticked_clock(
    monkeypatch: pytest.MonkeyPatch,
):
    args = _parser().parse_args(["demo", "--now", "2026-11-20T15:00:00Z"])
    ticks = [100.0]
    monkeypatch.setattr(clocks.time, "monotonic", lambda: ticks[0])
    clock = ShiftedClock(args.now)
    ticks[0] += 1.7  # start-up took a while: the clock reads 15:00:01.7
    assert clock.now() > args.now
    assert data_set_now(args, clock) == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def test_without_now_it_is_the_clocks_second():
    args = _parser().parse_args(["demo"])
    at = data_set_now(args, ShiftedClock(datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)))
    assert at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
