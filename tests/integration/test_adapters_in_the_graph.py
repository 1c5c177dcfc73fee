"""A source served by a package's adapter: the graph reads it through that adapter,
beside the native ones, and answers as over the native one."""

from __future__ import annotations

from msgspec.structs import replace

from sim.seed import Dataset
from tests.support.adapters import installed_adapters
from tests.support.gateways import in_process_gateway, settings_for
from tests.support.queries import ORDER_BY_NUMBER


async def test_a_registered_carrier_adapter_feeds_the_orders_tracking(
    sim, dataset: Dataset, tmp_path
):
    shipped = next(
        o for o in dataset.orders.values() if o.shipments[:1] and o.shipments[0].tracking_number
    )
    # The adapter, not the time, is the point: a loaded host must not run out the 800 ms
    # default deadline of a gateway's first, cold query.
    native = settings_for(sim.urls, request_deadline_ms=5_000)
    carrier = replace(native.sources["carrier"], adapter="counting")
    mixed = replace(native, sources=native.sources | {"carrier": carrier})
    variables = {"number": shipped.number}
    with installed_adapters(tmp_path):
        from og_test_adapters import CountingCarrier

        async with in_process_gateway(native) as plain, in_process_gateway(mixed) as adapted:
            reads = CountingCarrier.reads
            answer = await adapted.query(ORDER_BY_NUMBER, variables)
            assert CountingCarrier.reads == reads + 1
            assert "errors" not in answer
            expected = await plain.query(ORDER_BY_NUMBER, variables)
            assert "errors" not in expected
            assert answer["data"] == expected["data"]
            assert answer["data"]["orderByNumber"]["shipments"][0]["tracking"] is not None
            async with adapted.session.get(f"{adapted.url}/readyz") as resp:
                ready = await resp.json()
    adapters = {source["name"]: source["adapter"] for source in ready["sources"]}
    assert adapters == {
        "oms": "native",
        "inventory": "native",
        "carrier": "counting",
        "ticketing": "native",
    }
