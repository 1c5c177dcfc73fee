"""AfterShip names a parcel's tracking number in its own letter case, the OMS in
lower case: its signed ``tracking_update`` webhook, POSTed by the simulated AfterShip
to a served gateway, reaches a live subscriber of the order, who is pushed the
delivered parcel under the number as the OMS holds it. (The cache and the exception
queue, in process: tests/integration/test_tracking_number_case.py.)"""

from __future__ import annotations

from msgspec.structs import replace

from gateway.cli import vendor_source_settings
from resolvers.relay import to_global_id
from sim.cluster import SOURCES
from sources.webhooks import generate_secret
from tests.support.deliveries import held_in_lower_case
from tests.support.gateways import MakeDataset, changing_sources, running_gateway, settings_for
from tests.support.live_clients import ORDER_UPDATED, subscribe, within, ws_client
from tests.support.timing import HANG_S

SECRET = generate_secret()


async def test_aftership_naming_the_number_in_its_case_reaches_a_subscriber(
    make_dataset: MakeDataset,
) -> None:
    dataset = make_dataset(orders=60)  # its own: its OMS and carrier data change
    order, number = held_in_lower_case(dataset)
    held = order.shipments[0].tracking_number
    async with changing_sources(dataset, SECRET, vendors=True) as (cluster, redis, sock):
        native = settings_for(
            {s: cluster.urls[s] for s in SOURCES}, cache_url=redis.url, webhook_secrets=[SECRET]
        )
        carrier = vendor_source_settings(cluster, SECRET)["carrier"]  # AfterShip
        settings = replace(native, sources=native.sources | {"carrier": carrier})
        async with running_gateway(settings, sock) as gateway, ws_client(gateway.url, None) as ws:
            updates = subscribe(ws, ORDER_UPDATED, {"id": to_global_id("Order", order.id)})
            first = (await within(updates, HANG_S))["orderUpdated"]
            assert first["shipments"] == [
                {"trackingNumber": held, "tracking": {"status": "IN_TRANSIT"}}
            ]
            url = f"{cluster.urls['aftership']}/admin/trackings/{number}/advance"
            async with gateway.session.post(url, json={"status": "DELIVERED"}) as resp:
                assert resp.status == 200, await resp.text()
            pushed = (await within(updates, HANG_S))["orderUpdated"]
            assert pushed["customerStatus"] == "DELIVERED"
            assert pushed["shipments"] == [
                {"trackingNumber": held, "tracking": {"status": "DELIVERED"}}
            ]
