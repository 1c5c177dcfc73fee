"""Live updates across instances: how long a change takes from the source's admin
call to a subscriber on the *other* gateway instance.

Two gateways share a private redis-server; the simulated sources send their signed
webhooks to instance A; a graphql-transport-ws client (gql) subscribes to
``orderUpdated`` on instance B for ``--orders`` in-transit orders at once. Each round
advances one order's parcel at the carrier and times the push on B (a parcel moves
on twice at most: out for delivery, delivered; so rounds <= 2 x orders). Prints
p50/p95/max over ``--rounds`` changes.

    python bench/bench_live.py [--rounds 60] [--orders 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import harness  # noqa: F401  (puts the project on sys.path)

from resolvers.relay import to_global_id
from sim.seed import Dataset, generate
from sources.records import Order
from sources.webhooks import generate_secret
from tests.support.gateways import FIXED_NOW, changing_sources, running_gateway, settings_for
from tests.support.live_clients import ORDER_UPDATED, subscribe, ws_client

SECRET = generate_secret()


def watched_orders(dataset: Dataset, count: int) -> list[Order]:
    """``count`` in-transit orders with one parcel, whose tracking the carrier knows."""
    return [
        o
        for oid in dataset.order_ids("in_transit")
        if len((o := dataset.orders[oid]).shipments) == 1
        and o.shipments[0].tracking_number in dataset.trackings
    ][:count]


async def main(rounds: int, orders: int) -> None:
    if rounds > 2 * orders:
        raise SystemExit("--rounds may be at most twice --orders")
    dataset = generate(seed=7, now=FIXED_NOW)
    watched = watched_orders(dataset, orders)
    async with changing_sources(dataset, SECRET) as (cluster, redis, sock):
        settings = settings_for(
            cluster.urls,
            cache_url=redis.url,
            webhook_secrets=[SECRET],
            live_max_subscriptions=orders,  # all on one connection
        )
        async with (
            running_gateway(settings, sock) as a,
            running_gateway(settings) as b,
            ws_client(b.url, None) as session,
        ):
            streams = [
                subscribe(session, ORDER_UPDATED, {"id": to_global_id("Order", o.id)})
                for o in watched
            ]
            for stream in streams:  # each first sends the order as it stands
                await anext(stream)
            latencies = []
            for n in range(rounds):
                order, stream = watched[n % len(watched)], streams[n % len(streams)]
                number = order.shipments[0].tracking_number
                started = time.perf_counter()
                url = f"{cluster.urls['carrier']}/admin/trackings/{number}/advance"
                async with a.session.post(url) as resp:
                    assert resp.status == 200, await resp.text()
                await asyncio.wait_for(anext(stream), 5)
                latencies.append(time.perf_counter() - started)
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    print(f"{rounds} changes, {len(watched)} orders watched on instance B (webhooks go to A)")
    print(f"change -> push on B, ms: p50 {q[49] * 1000:.1f}  p95 {q[94] * 1000:.1f}  "
          f"max {max(latencies) * 1000:.1f}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--orders", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.orders))
