"""The tickets the Zendesk adapter opened or heard of and reads by id until search
lists them (sources/adapters/zendesk/adapter.py ``Unindexed``)."""

from __future__ import annotations

import pytest

from sources.adapters.zendesk import adapter
from sources.adapters.zendesk.adapter import INDEX_LAG_S, Unindexed


def test_a_ticket_is_read_by_id_for_the_index_lag_then_forgotten(
    monkeypatch: pytest.MonkeyPatch,
):
    clock = [1000.0]
    monkeypatch.setattr(adapter.time, "monotonic", lambda: clock[0])
    unindexed = Unindexed()
    unindexed.noted("7", "ord_1")
    clock[0] += 1
    unindexed.noted("8", "ord_2")
    assert unindexed.of({"ord_1", "ord_3"}) == ["7"]
    clock[0] += INDEX_LAG_S  # 7 is past the lag, 8 not yet
    assert unindexed.of({"ord_1", "ord_2"}) == ["8"]
    clock[0] += 1
    assert unindexed.of({"ord_1", "ord_2"}) == []


def test_only_the_most_recent_are_kept():
    unindexed = Unindexed(limit=2)
    for ticket in ("1", "2", "3"):
        unindexed.noted(ticket, "ord_1")
    assert unindexed.of({"ord_1"}) == ["2", "3"]
