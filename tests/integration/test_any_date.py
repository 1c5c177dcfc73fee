"""Nothing depends on the calendar: the same seeded data set generated a year later
(52 weeks, so weekdays and business days agree), served with the gateway's clock
pinned to that data set's "now", answers exactly as the pinned original does, every
time moved by the same year. Run under the wall clock instead, the gateway would judge
one of the two data sets from the wrong date and the answers would differ."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from sim.cluster import SimCluster, start_cluster
from tests.support.gateways import (
    FIXED_NOW,
    RunningGateway,
    gateway_at,
    in_process_gateway,
    settings_for,
)

A_YEAR = timedelta(weeks=52)
PAGES = 3  # of 100 orders: every scenario of the data set appears in them

ORDERS = """query($after: String) {
  orders(first: 100, after: $after) {
    edges { node {
      number customerStatus health
      promisedDelivery { earliest latest }
      estimatedDelivery { earliest latest }
      exceptions { code severity detectedAt }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""


@contextlib.asynccontextmanager
async def gateway_on(cluster: SimCluster, now: datetime) -> AsyncIterator[RunningGateway]:
    """A gateway over ``cluster`` on a clock pinned to ``now``, with time to answer
    three pages of 100 orders on a loaded machine (deadlines are not the point here)."""
    patient = {"read_timeout_ms": 10_000, "total_timeout_ms": 10_000}
    settings = settings_for(
        cluster.urls, source_options=patient, max_cost=100_000, request_deadline_ms=15_000
    )
    async with in_process_gateway(settings, gateway=gateway_at(settings, now)) as running:
        yield running


async def _orders(gateway: RunningGateway) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    for _ in range(PAGES):
        body = await gateway.query(ORDERS, {"after": after})
        assert "errors" not in body, body["errors"]
        page = body["data"]["orders"]
        nodes += [edge["node"] for edge in page["edges"]]
        after = page["pageInfo"]["endCursor"]
    return nodes


def _times(value: Any, shift: timedelta = timedelta(0)) -> Any:
    """``value`` with every time in it parsed and moved by ``shift``, so that times
    compare as instants whatever their spelling."""
    if isinstance(value, dict):
        return {key: _times(item, shift) for key, item in value.items()}
    if isinstance(value, list):
        return [_times(item, shift) for item in value]
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        return datetime.fromisoformat(value) + shift
    return value


async def test_a_year_later_the_graph_answers_the_same(make_dataset, sim: SimCluster) -> None:
    async with gateway_on(sim, FIXED_NOW) as gateway:
        then = await _orders(gateway)
    later_now = FIXED_NOW + A_YEAR
    async with (
        await start_cluster(make_dataset(seed=7, now=later_now)) as cluster,
        gateway_on(cluster, later_now) as gateway,
    ):
        later = await _orders(gateway)
    assert len(then) == len(later) == PAGES * 100
    # The data set has exceptions of many kinds, not just healthy orders.
    codes = {e["code"] for order in then for e in order["exceptions"]}
    assert len(codes) >= 5 and "BACKORDERED" in codes, codes
    assert _times(later, -A_YEAR) == _times(then)
