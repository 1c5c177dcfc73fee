"""What completing one subscription event costs, per executor.

A subscriber of ``orderUpdated`` gets the order again after each change: the event's
selection is completed as a new request would (fresh loaders, the warm in-memory
entity cache). This runs that per-event step in process, as graphql-core runs it for
every event of a subscription (a per-event executor with the order as its root), with
the reference executor and with the subscription's compiled plan, alternating;
printed: CPU µs per event (median of the rounds) for the full view of the console
and for a small status view.

    python bench/bench_events.py [--events 400] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import harness  # noqa: F401  (puts the project on sys.path)
from graphql import parse

from gateway.settings import SOURCE_NAMES
from resolvers.compiled import compile_events
from resolvers.context import RequestContext
from resolvers.relay import to_global_id
from resolvers.schema import EventExecutor, PreparedDocument, build_schema
from resolvers.types.order import Order
from services.exception_queue.store import QueueStore
from sim.cluster import start_cluster
from sim.seed import generate
from sources.adapters.registry import Upstreams
from sources.cache import open_backend
from sources.cache.upstreams import CachedUpstreams
from tests.support.gateways import FIXED_NOW, gateway_at, settings_for
from tests.support.queries import ORDER_FIELDS

VIEWS = {
    "full view": "subscription W($id: ID!) { orderUpdated(id: $id) { ...FullOrder } }"
    + ORDER_FIELDS,
    "status": "subscription W($id: ID!) { orderUpdated(id: $id) { id number customerStatus "
    "shipments { trackingNumber tracking { status } } } }",
}


async def per_event_us(context: RequestContext, executor: Any, order: Order, events: int) -> float:
    """CPU µs per event over ``events`` events of ``order``, each on fresh loaders."""
    started = time.process_time()
    for _ in range(events):
        context.renew()
        result = executor.build_per_event_executor(order).execute_operation(False)
        if asyncio.iscoroutine(result):
            result = await result
        assert not result.errors, result.errors
    return (time.process_time() - started) / events * 1e6


async def main(events: int, rounds: int) -> None:
    dataset = generate(seed=7, now=FIXED_NOW)
    record = next(o for o in dataset.orders.values() if len(o.shipments) > 1)
    async with await start_cluster(dataset) as cluster:
        settings = settings_for(cluster.urls)
        upstreams = Upstreams.open(*(settings.source(name) for name in SOURCE_NAMES))
        backend = open_backend("memory://")
        clock = gateway_at(settings).clock
        cached = CachedUpstreams.build(upstreams, backend, settings.cache_policies(), clock=clock)
        schema = build_schema()
        print(f"{events} events a round, {rounds} rounds; CPU µs per event (median)")
        print(f"{'view':<12} {'reference':>10} {'compiled':>10}")
        try:
            for view, query in VIEWS.items():
                context = RequestContext.create(cached, queue=QueueStore(backend))
                variables = {"id": to_global_id("Order", record.id)}
                document = PreparedDocument(query, parse(query))
                executor = EventExecutor.build(
                    schema._schema, document.document, None, context, variables
                )
                order = Order.visible(
                    await context.loaders.order_by_id.load(record.id), context.access
                )
                assert order is not None
                complete = compile_events(schema, document, variables, None)
                figures: dict[str, list[float]] = {"reference": [], "compiled": []}
                await per_event_us(context, executor, order, 20)  # warm the entity cache
                for _ in range(rounds):
                    for name, plan in (("reference", None), ("compiled", complete)):
                        context.complete_event = plan
                        figures[name].append(await per_event_us(context, executor, order, events))
                reference, compiled = (statistics.median(figures[n]) for n in figures)
                print(f"{view:<12} {reference:>10.0f} {compiled:>10.0f}")
        finally:
            await upstreams.close()
            await backend.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.rounds))
