"""A vendor's change events through the adapter seam, end to end: the simulated
AfterShip API POSTs its signed ``tracking_update`` webhooks, the simulated Zendesk its
trigger's and the simulated Shopify its ``orders/*``, ``fulfillments/create`` and
``inventory_levels/update``, to a gateway that reads the carrier and ticketing through them, which
drops what it cached and shows the change; a native Standard Webhook for such a source
is refused there, signed or not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from msgspec.structs import replace

from gateway.cli import vendor_source_settings
from resolvers.relay import to_global_id
from sim.cluster import SOURCES
from sim.common import ACCOUNT_KEY
from sources.events import ChangeEvent, EventType
from sources.records import FulfillmentStatus
from sources.webhooks import generate_secret
from tests.support.deliveries import deliver, in_transit
from tests.support.gateways import (
    FIXED_NOW,
    RunningGateway,
    changing_sources,
    in_process_gateway,
    running_gateway,
    settings_for,
)
from tests.support.waiting import eventually

SECRET = generate_secret()
STATUS = """query($n: String!) { orderByNumber(number: $n) {
  shipments { tracking { status message } } } }"""
SHIPMENTS = """query($n: String!) { orderByNumber(number: $n) { shipments { id } } }"""
TICKETS = """query($n: String!) { orderByNumber(number: $n) { tickets { status } } }"""
ORDER = """query($n: String!) { orderByNumber(number: $n) {
  customerStatus lineItems { sku availability { available } } } }"""


async def order_status(gateway: RunningGateway, number: str) -> str:
    body = await gateway.query(ORDER, {"n": number})
    return body["data"]["orderByNumber"]["customerStatus"]  # type: ignore[no-any-return]


async def available(gateway: RunningGateway, number: str, sku: str) -> int:
    body = await gateway.query(ORDER, {"n": number})
    lines = body["data"]["orderByNumber"]["lineItems"]
    return next(line["availability"]["available"] for line in lines if line["sku"] == sku)


async def shipped(gateway: RunningGateway, number: str) -> int:
    """How many shipments the graph shows for the order ``number``."""
    body = await gateway.query(SHIPMENTS, {"n": number})
    return len(body["data"]["orderByNumber"]["shipments"])


async def tracking(gateway: RunningGateway, number: str) -> dict[str, Any]:
    body = await gateway.query(STATUS, {"n": number})
    (shipment,) = body["data"]["orderByNumber"]["shipments"]
    return shipment["tracking"]  # type: ignore[no-any-return]


async def test_aftership_webhooks_refresh_the_graph(make_dataset) -> None:
    dataset = make_dataset()  # its own: the carrier's data changes
    order, number = in_transit(dataset)
    async with changing_sources(dataset, SECRET, vendors=True) as (cluster, _redis, sock):
        native = settings_for({s: cluster.urls[s] for s in SOURCES}, webhook_secrets=[SECRET])
        settings = replace(native, sources=native.sources | vendor_source_settings(cluster, SECRET))
        async with running_gateway(settings, sock) as gateway:
            assert (await tracking(gateway, order.number))["status"] == "IN_TRANSIT"
            # a change made through either app goes out the vendor's way
            for app, status in (("carrier", "OUT_FOR_DELIVERY"), ("aftership", "DELIVERED")):
                url = f"{cluster.urls[app]}/admin/trackings/{number}/advance"
                async with gateway.session.post(url, json={"status": status}) as resp:
                    assert resp.status == 200, await resp.text()

                async def shown(status: str = status) -> bool:
                    return (await tracking(gateway, order.number))["status"] == status

                await eventually(shown, f"the graph shows {status}")
            event = ChangeEvent(
                type=EventType.TRACKING_UPDATED, occurred_at=FIXED_NOW, tracking_number=number
            )
            status, body = await deliver(gateway, "carrier", event, SECRET)
            assert (status, body["code"]) == (401, "WEBHOOK_SIGNATURE_INVALID")
            # a ticket changed at the help desk: the trigger's webhook refreshes the graph
            order_id, (ticket, *_) = next((o, ts) for o, ts in dataset.tickets.items() if ts)
            asked = {"n": dataset.orders[order_id].number}
            url = f"{cluster.urls['zendesk']}/admin/tickets/{ticket.id}"
            new = "CLOSED" if ticket.status.value != "CLOSED" else "OPEN"
            before = await gateway.query(TICKETS, asked)  # now cached
            assert new not in [t["status"] for t in before["data"]["orderByNumber"]["tickets"]]
            async with gateway.session.post(url, json={"status": new}) as resp:
                assert resp.status == 200, await resp.text()

            async def closed() -> bool:
                body = await gateway.query(TICKETS, asked)
                return new in [t["status"] for t in body["data"]["orderByNumber"]["tickets"]]

            await eventually(closed, "the graph shows the ticket's new status")
            # an order cancelled and stock counted at the shop: Shopify's webhooks
            order = next(
                o
                for o in dataset.orders.values()
                if o.fulfillment_status is FulfillmentStatus.UNFULFILLED and not o.cancelled_at
            )
            assert (await order_status(gateway, order.number)) != "CANCELLED"
            url = f"{cluster.urls['shopify']}/admin/orders/{order.id}/cancel"
            async with gateway.session.post(url, json={"reason": "CUSTOMER"}) as resp:
                assert resp.status == 200, await resp.text()

            async def cancelled() -> bool:
                return await order_status(gateway, order.number) == "CANCELLED"

            await eventually(cancelled, "the graph shows the order cancelled")
            sku, level = next(
                (line.sku, stock.levels[0])
                for line in order.lines
                if (stock := dataset.inventory.get(line.sku)) and stock.levels
            )
            seen = await available(gateway, order.number, sku)
            url = f"{cluster.urls['shopify']}/admin/inventory/{sku}"
            counted = {"locationId": level.location_id, "available": level.available + 7}
            async with gateway.session.post(url, json=counted) as resp:
                assert resp.status == 200, await resp.text()

            async def recounted() -> bool:
                return await available(gateway, order.number, sku) == seen + 7

            await eventually(recounted, "the graph shows the stock counted at the shop")
            # a fulfillment order shipped at the shop: Shopify's fulfillments/create
            order_id = dataset.order_ids("processing")[0]
            order, (fo, *_) = dataset.orders[order_id], dataset.orders[order_id].fulfillment_orders
            assert await shipped(gateway, order.number) == len(order.shipments)  # now cached
            url = f"{cluster.urls['shopify']}/admin/orders/{order.id}/ship"
            body = {"fulfillmentOrderId": fo.id, "carrierCode": "ups"}
            async with gateway.session.post(url, json=body) as resp:
                assert resp.status == 200, await resp.text()

            async def one_more() -> bool:
                return await shipped(gateway, order.number) == len(order.shipments) + 1

            await eventually(one_more, "the graph shows the shipment made at the shop")


CREATE = """mutation($input: TicketCreateInput!) {
  ticketCreate(input: $input) { ticket { reference } userErrors { code } } }"""
REFERENCES = """query($n: String!) { orderByNumber(number: $n) { tickets { reference } } }"""


async def references(gateway: RunningGateway, number: str) -> list[str]:
    body = await gateway.query(REFERENCES, {"n": number})
    return [t["reference"] for t in body["data"]["orderByNumber"]["tickets"]]


async def test_every_instance_lists_a_new_ticket_before_zendesk_search_does(make_dataset) -> None:
    """Zendesk's search lists a new ticket minutes late (an hour here). Two gateway
    instances share a Redis: a ticket opened through one is listed by the other at once,
    and one opened at the help desk by the instance its trigger's webhook reached and
    by the other."""
    dataset = make_dataset()
    no_tickets = [o for o in dataset.orders.values() if not dataset.tickets.get(o.id)]
    through_gateway, at_help_desk = no_tickets[:2]
    async with changing_sources(dataset, SECRET, vendors=True) as (cluster, redis, sock):
        cluster.apps["zendesk"][ACCOUNT_KEY].search_lag = timedelta(hours=1)
        native = settings_for(
            {s: cluster.urls[s] for s in SOURCES}, webhook_secrets=[SECRET], cache_url=redis.url
        )
        settings = replace(native, sources=native.sources | vendor_source_settings(cluster, SECRET))
        async with (
            running_gateway(settings, sock) as receiving,
            in_process_gateway(settings) as other,
        ):
            for gateway in (receiving, other):  # now cached, with no ticket
                assert await references(gateway, through_gateway.number) == []
                assert await references(gateway, at_help_desk.number) == []
            variables = {"input": {"orderId": to_global_id("Order", through_gateway.id),
                                   "subject": "Late?", "body": "Where is it?"}}  # fmt: skip
            body = await other.query(CREATE, variables)
            assert body["data"]["ticketCreate"]["userErrors"] == [], body
            opened = body["data"]["ticketCreate"]["ticket"]["reference"]
            assert await references(other, through_gateway.number) == [opened]

            async def listed(gateway: RunningGateway, number: str) -> bool:
                return len(await references(gateway, number)) == 1

            await eventually(
                lambda: listed(receiving, through_gateway.number),
                "the other instance lists the ticket opened through one",
            )
            url = f"{cluster.urls['ticketing']}/tickets"
            opening = {"orderId": at_help_desk.id, "subject": "Hello", "body": "A question"}
            async with receiving.session.post(url, json=opening) as resp:
                assert resp.status == 201, await resp.text()
            for gateway in (receiving, other):
                await eventually(
                    lambda gateway=gateway: listed(gateway, at_help_desk.number),
                    "every instance lists the ticket opened at the help desk",
                )
