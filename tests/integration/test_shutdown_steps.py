"""Shutdown closes the gateway's parts one after another, each within
``CLOSE_STEP_S``: a part that never finishes closing is named in the log, and the
others still close, so the process can end."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

import gateway.app
from gateway.live.connections import LiveConnections
from sim.cluster import SimCluster
from sources.adapters.registry import Upstreams
from tests.support.gateways import in_process_gateway, settings_for

STEP_S = 0.2


async def test_a_part_stuck_closing_is_named_and_the_others_still_close(
    sim: SimCluster, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def never(_self: LiveConnections) -> None:
        await asyncio.Event().wait()

    closed: list[Upstreams] = []
    close_upstreams = Upstreams.close

    async def noted(self: Upstreams) -> None:
        closed.append(self)
        await close_upstreams(self)

    monkeypatch.setattr(gateway.app, "CLOSE_STEP_S", STEP_S)
    monkeypatch.setattr(LiveConnections, "close", never)
    monkeypatch.setattr(Upstreams, "close", noted)
    with caplog.at_level(logging.ERROR, logger="ordergraph.app"):
        async with in_process_gateway(settings_for(sim.urls)) as running:
            assert (await running.query("{ __typename }"))["data"] == {"__typename": "Query"}
            started = time.monotonic()
    assert time.monotonic() - started < 10 * STEP_S + 2  # not asgi-lifespan's 30 s
    assert "shutdown: the live connections did not close within" in caplog.text
    assert len(closed) == 1  # the source clients closed all the same
