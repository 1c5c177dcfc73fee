"""Admin changes to the simulated sources and the signed change events they send.

Every test runs against one data set of its own (mutations stay in this module) and a
real webhook receiver on loopback that verifies each delivery with
:func:`sources.webhooks.verify`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import aiohttp
import msgspec
import pytest

from sim.cluster import SimCluster, start_cluster
from sim.common import EMITTER_KEY
from sim.seed import Dataset
from sources.events import EventType
from sources.records import (
    FinancialStatus,
    FulfillmentOrderStatus,
    FulfillmentStatus,
    InventoryBatch,
    InventoryItem,
    Order,
    OrderBatch,
    RestockExpectation,
    ShipmentStatus,
    Ticket,
    TicketBatch,
    TicketPriority,
    TicketStatus,
    Tracking,
    TrackingBatch,
)
from tests.support.gateways import FIXED_NOW, MakeDataset
from tests.support.sim_http import fetch_order, get, post, post_error
from tests.support.webhook_receiver import SECRET, Receiver

pytestmark = pytest.mark.usefixtures("quiet_receiver")


@pytest.fixture(scope="module")
def data(make_dataset: MakeDataset) -> Dataset:
    return make_dataset(seed=11, orders=300, customers=100)


# --- OMS -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "financial"),
    [("fraud_hold", FinancialStatus.VOIDED), ("processing", FinancialStatus.REFUNDED)],
)
async def test_cancel_order(
    cluster: SimCluster,
    http: aiohttp.ClientSession,
    receiver: Receiver,
    data: Dataset,
    scenario: str,
    financial: FinancialStatus,
) -> None:
    order_id = data.order_ids(scenario)[0]
    before = data.orders[order_id]
    url = f"{cluster.urls['oms']}/admin/orders/{order_id}/cancel"
    answered = msgspec.json.decode(await post(http, url, {"reason": "CUSTOMER"}), type=Order)

    order = await fetch_order(cluster, http, order_id)
    assert order == answered
    assert order.cancel_reason is not None and order.cancel_reason.value == "CUSTOMER"
    assert order.cancelled_at == order.updated_at > before.updated_at
    assert order.financial_status is financial
    assert order.fulfillment_status is FulfillmentStatus.UNFULFILLED
    assert all(line.quantities.cancelled == line.quantities.ordered for line in order.lines)
    assert all(
        fo.status is FulfillmentOrderStatus.CANCELLED and fo.updated_at == order.updated_at
        for fo in order.fulfillment_orders
    )
    by_number = await get(
        http, cluster.urls["oms"] + "/orders/by-number", {"numbers": order.number}, OrderBatch
    )
    assert by_number.data == [order]

    verified = await receiver.next("oms", EventType.ORDER_CANCELLED)
    assert verified.event.order_id == order_id
    assert verified.event.occurred_at == order.updated_at
    assert verified.msg_id.startswith("msg_")

    await post_error(http, url, {"reason": "CUSTOMER"}, 409, "NOT_CANCELLABLE")  # again


async def test_cancel_refuses_shipped_order(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset
) -> None:
    order_id = data.order_ids("in_transit")[0]
    before = data.orders[order_id]
    url = f"{cluster.urls['oms']}/admin/orders/{order_id}/cancel"
    await post_error(http, url, {"reason": "STAFF"}, 409, "NOT_CANCELLABLE")
    assert await fetch_order(cluster, http, order_id) == before


async def test_touch_order(
    cluster: SimCluster, http: aiohttp.ClientSession, receiver: Receiver, data: Dataset
) -> None:
    order_id = data.order_ids("delivered")[0]
    before = data.orders[order_id]
    bodies: tuple[object, ...] = (None, {})  # no body, or an empty object
    for body in bodies:
        await post(http, f"{cluster.urls['oms']}/admin/orders/{order_id}/touch", body)
        order = await fetch_order(cluster, http, order_id)
        assert order.updated_at > before.updated_at
        assert msgspec.structs.replace(order, updated_at=before.updated_at) == before
        verified = await receiver.next("oms", EventType.ORDER_UPDATED)
        assert verified.event.order_id == order_id
        before = order


@pytest.mark.parametrize("scenario", ["processing", "partial_shipment"])
async def test_ship_a_fulfillment_order(
    cluster: SimCluster,
    http: aiohttp.ClientSession,
    receiver: Receiver,
    data: Dataset,
    scenario: str,
) -> None:
    """What the fulfillment order still holds ships in one new shipment: the order's
    units all shipped, its fulfillment order CLOSED, the order FULFILLED."""
    order_id = data.order_ids(scenario)[-1]  # the first is another test's
    before = data.orders[order_id]
    (fo,) = [f for f in before.fulfillment_orders if f.status is FulfillmentOrderStatus.IN_PROGRESS]
    url = f"{cluster.urls['oms']}/admin/orders/{order_id}/ship"
    body = {"fulfillmentOrderId": fo.id, "carrierCode": "ups", "trackingNumber": "1ZSHIP0001"}
    answered = msgspec.json.decode(await post(http, url, body), type=Order)

    order = await fetch_order(cluster, http, order_id)
    assert order == answered
    assert order.updated_at > before.updated_at
    (shipment,) = order.shipments[len(before.shipments) :]
    assert (shipment.fulfillment_order_id, shipment.carrier_code, shipment.tracking_number) == (
        fo.id,
        "ups",
        "1ZSHIP0001",
    )
    assert shipment.shipped_at == order.updated_at
    shipped_before = sum(p.quantity for s in before.shipments for p in s.lines)
    assert sum(p.quantity for p in shipment.lines) == sum(p.quantity for p in fo.lines) - (
        shipped_before
    )
    closed = next(f for f in order.fulfillment_orders if f.id == fo.id)
    assert (closed.status, closed.updated_at) == (FulfillmentOrderStatus.CLOSED, order.updated_at)
    active = {line.id: line.quantities.ordered - line.quantities.cancelled for line in order.lines}
    assert {line.id: line.quantities.shipped for line in order.lines} == active
    assert order.fulfillment_status is FulfillmentStatus.FULFILLED

    verified = await receiver.next("oms", EventType.ORDER_UPDATED)
    assert (verified.event.order_id, verified.event.occurred_at) == (order_id, order.updated_at)
    await post_error(http, url, body, 409, "NOT_SHIPPABLE")  # nothing left to ship


async def test_ship_refuses_what_cannot_ship(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset
) -> None:
    held = data.orders[data.order_ids("fraud_hold")[0]]
    url = f"{cluster.urls['oms']}/admin/orders/{held.id}/ship"
    body = {"fulfillmentOrderId": held.fulfillment_orders[0].id, "carrierCode": "ups"}
    await post_error(http, url, body, 409, "NOT_SHIPPABLE")
    await post_error(http, url, {**body, "fulfillmentOrderId": "fo_none"}, 404, "NOT_FOUND")
    assert await fetch_order(cluster, http, held.id) == held


# --- carrier -------------------------------------------------------------------------


async def fetch_tracking(cluster: SimCluster, http: aiohttp.ClientSession, number: str) -> Tracking:
    batch = await get(
        http, cluster.urls["carrier"] + "/trackings", {"numbers": number}, TrackingBatch
    )
    (tracking,) = batch.data
    return tracking


def label_created(data: Dataset) -> Tracking:
    return next(t for t in data.trackings.values() if t.status is ShipmentStatus.LABEL_CREATED)


async def test_advance_tracking_through_milestones(
    cluster: SimCluster, http: aiohttp.ClientSession, receiver: Receiver, data: Dataset
) -> None:
    start = label_created(data)
    number = start.tracking_number
    url = f"{cluster.urls['carrier']}/admin/trackings/{number.lower()}/advance"
    expected = [
        (ShipmentStatus.IN_TRANSIT, "InTransit"),
        (ShipmentStatus.OUT_FOR_DELIVERY, "OutForDelivery"),
        (ShipmentStatus.DELIVERED, "Delivered"),
    ]
    previous = start
    for status, tag in expected:
        answered = msgspec.json.decode(await post(http, url), type=Tracking)
        tracking = await fetch_tracking(cluster, http, number)
        assert tracking == answered
        assert (tracking.status, tracking.tag) == (status, tag)
        assert tracking.updated_at > previous.updated_at
        assert tracking.checkpoints[:-1] == previous.checkpoints
        last = tracking.checkpoints[-1]
        assert (last.status, last.tag, last.subtag) == (status, tag, tracking.subtag)
        assert last.message == tracking.message
        assert datetime.fromisoformat(last.time) == tracking.updated_at
        verified = await receiver.next("carrier", EventType.TRACKING_UPDATED)
        assert verified.event.tracking_number == number
        previous = tracking
    assert previous.signed_by and previous.signed_by in (previous.message or "")
    await post_error(http, url, None, 409, "NO_NEXT_MILESTONE")


async def test_advance_tracking_to_explicit_status(
    cluster: SimCluster, http: aiohttp.ClientSession, receiver: Receiver, data: Dataset
) -> None:
    number = label_created(data).tracking_number
    url = f"{cluster.urls['carrier']}/admin/trackings/{number}/advance"
    body = {"status": "EXCEPTION", "subtag": "Exception_013", "message": "PARCEL DAMAGED"}
    await post(http, url, body)
    tracking = await fetch_tracking(cluster, http, number)
    assert (tracking.status, tracking.tag, tracking.subtag, tracking.message) == (
        ShipmentStatus.EXCEPTION,
        "Exception",
        "Exception_013",
        "PARCEL DAMAGED",
    )
    await receiver.next("carrier", EventType.TRACKING_UPDATED)
    await post(http, url, {"status": "EXCEPTION", "subtag": "Exception_013"})
    lost = await fetch_tracking(cluster, http, number)
    assert lost.subtag == "Exception_013" and "LOCATED" in (lost.message or "").upper()
    await receiver.next("carrier", EventType.TRACKING_UPDATED)
    await post(http, url)  # back on its way
    assert (await fetch_tracking(cluster, http, number)).status is ShipmentStatus.IN_TRANSIT
    await receiver.next("carrier", EventType.TRACKING_UPDATED)
    await post_error(http, url, {"status": "NO_INFO"}, 400, "BAD_REQUEST")


async def test_an_attempt_sets_the_first_attempt_once(
    cluster: SimCluster, http: aiohttp.ClientSession, receiver: Receiver, data: Dataset
) -> None:
    start = next(
        t
        for t in data.trackings.values()
        if t.status is ShipmentStatus.IN_TRANSIT and t.first_attempted_at is None
    )
    number = start.tracking_number
    url = f"{cluster.urls['carrier']}/admin/trackings/{number}/advance"
    await post(http, url)  # out for delivery: no attempt yet
    assert (await fetch_tracking(cluster, http, number)).first_attempted_at is None
    await post(http, url, {"status": "DELIVERY_ATTEMPTED"})
    attempted = await fetch_tracking(cluster, http, number)
    first = datetime.fromisoformat(attempted.checkpoints[-1].time)
    assert attempted.first_attempted_at == first
    for body in ({"status": "DELIVERY_ATTEMPTED"}, {"status": "DELIVERED"}):
        await post(http, url, body)
        later = await fetch_tracking(cluster, http, number)
        assert datetime.fromisoformat(later.checkpoints[-1].time) > first
        assert later.first_attempted_at == first
    for _ in range(4):
        await receiver.next("carrier", EventType.TRACKING_UPDATED)


# --- inventory -----------------------------------------------------------------------


async def test_set_inventory_level(
    cluster: SimCluster, http: aiohttp.ClientSession, receiver: Receiver, data: Dataset
) -> None:
    sku, item = next(iter(data.inventory.items()))
    level = item.levels[0]
    expected_at = FIXED_NOW + timedelta(days=5)
    body: dict[str, Any] = {
        "locationId": level.location_id,
        "available": 0,
        "incoming": 20,
        "incomingExpectedAt": expected_at.isoformat(),
    }
    url = f"{cluster.urls['inventory']}/admin/inventory/{sku}"
    answered = msgspec.json.decode(await post(http, url, body), type=InventoryItem)
    batch = await get(http, cluster.urls["inventory"] + "/inventory", {"skus": sku}, InventoryBatch)
    assert batch.data == [answered]
    changed = answered.levels[0]
    assert (changed.available, changed.incoming, changed.incoming_expected_at) == (
        0,
        20,
        expected_at,
    )
    assert changed.on_hand == level.on_hand - level.available
    assert (changed.committed, changed.reserved) == (level.committed, level.reserved)
    assert changed.as_of > level.as_of
    assert answered.levels[1:] == item.levels[1:]
    verified = await receiver.next("inventory", EventType.INVENTORY_CHANGED)
    assert verified.event.sku == sku
    assert changed.restock_history[-1] == RestockExpectation(
        expected_at=expected_at, set_at=changed.as_of
    )
    assert changed.oversold_since is None

    # oversold: since when is kept while it stays so; a moved date joins the history
    assert level.on_hand - level.available >= 1  # room to oversell one unit
    later, latest = expected_at + timedelta(days=3), expected_at + timedelta(days=6)
    for expected in (later, latest):
        body = {"locationId": level.location_id, "available": -1}
        await post(http, url, body | {"incomingExpectedAt": expected.isoformat()})
        await receiver.next("inventory", EventType.INVENTORY_CHANGED)
        oversold = data.inventory[sku].levels[0]
        if expected == later:
            first = oversold
    assert oversold.available == -1 and oversold.oversold_since == first.as_of < oversold.as_of
    history = [(e.expected_at, e.set_at) for e in oversold.restock_history]
    assert history[-3:] == [
        (expected_at, changed.as_of),
        (later, first.as_of),
        (latest, oversold.as_of),
    ]

    # incoming back to 0 clears the expected date and its history; stock ends the oversell
    await post(http, url, {"locationId": level.location_id, "incoming": 0, "available": 0})
    cleared = data.inventory[sku].levels[0]
    assert (cleared.incoming, cleared.incoming_expected_at, cleared.available) == (0, None, 0)
    assert (cleared.restock_history, cleared.oversold_since) == ([], None)
    await receiver.next("inventory", EventType.INVENTORY_CHANGED)


@pytest.mark.parametrize(
    "body",
    [
        {"available": 3},  # locationId missing
        {"locationId": "loc_nowhere", "available": 3},
        {"locationId": "LOC", "incoming": -1},
        {"locationId": "LOC", "incoming": 5},  # nothing was incoming: date required
        {"locationId": "LOC", "incomingExpectedAt": "2026-12-01T12:00:00Z"},  # nothing incoming
        {"locationId": "LOC", "incoming": 5, "incomingExpectedAt": "2026-12-01T12:00:00"},
        {"locationId": "LOC", "available": -100000},  # onHand would be negative
    ],
)
async def test_set_inventory_level_refuses(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset, body: dict[str, Any]
) -> None:
    sku, item = next(
        (sku, item) for sku, item in data.inventory.items() if item.levels[1].incoming == 0
    )
    if body.get("locationId") == "LOC":
        body = body | {"locationId": item.levels[1].location_id}
    url = f"{cluster.urls['inventory']}/admin/inventory/{sku}"
    await post_error(http, url, body, 400, "BAD_REQUEST")
    assert data.inventory[sku] == item


# --- ticketing -----------------------------------------------------------------------


async def test_update_ticket(
    cluster: SimCluster, http: aiohttp.ClientSession, receiver: Receiver, data: Dataset
) -> None:
    order_id, tickets = next(iter(data.tickets.items()))
    ticket = tickets[-1]
    url = f"{cluster.urls['ticketing']}/admin/tickets/{ticket.id}"
    answered = msgspec.json.decode(
        await post(http, url, {"status": "SOLVED", "priority": "HIGH"}), type=Ticket
    )
    batch = await get(
        http, cluster.urls["ticketing"] + "/tickets", {"orderIds": order_id}, TicketBatch
    )
    (entry,) = batch.data
    assert entry.tickets[-1] == answered
    assert (answered.status, answered.priority) == (TicketStatus.SOLVED, TicketPriority.HIGH)
    assert answered.updated_at > ticket.updated_at
    assert (
        msgspec.structs.replace(
            answered, status=ticket.status, priority=ticket.priority, updated_at=ticket.updated_at
        )
        == ticket
    )
    verified = await receiver.next("ticketing", EventType.TICKET_UPDATED)
    assert (verified.event.order_id, verified.event.ticket_id) == (order_id, ticket.id)

    await post(http, url, {"priority": "LOW"})  # one field only
    assert data.tickets[order_id][-1].status is TicketStatus.SOLVED
    assert data.tickets[order_id][-1].priority is TicketPriority.LOW
    await receiver.next("ticketing", EventType.TICKET_UPDATED)


# --- errors, stats, configuration ----------------------------------------------------


@pytest.mark.parametrize(
    ("source", "path", "body"),
    [
        ("oms", "/admin/orders/ord_nope/cancel", {"reason": "CUSTOMER"}),
        ("oms", "/admin/orders/ord_nope/touch", None),
        ("carrier", "/admin/trackings/NOPE/advance", None),
        ("inventory", "/admin/inventory/NOPE", {"locationId": "loc_us_east"}),
        ("ticketing", "/admin/tickets/tkt_nope", {"status": "SOLVED"}),
    ],
)
async def test_unknown_ids(
    cluster: SimCluster, http: aiohttp.ClientSession, source: str, path: str, body: object
) -> None:
    await post_error(http, cluster.urls[source] + path, body, 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("source", "path", "body"),
    [
        ("oms", "/admin/orders/{order}/cancel", b"{not json"),
        ("oms", "/admin/orders/{order}/cancel", None),  # reason is required
        ("oms", "/admin/orders/{order}/cancel", {"reason": "BORED"}),
        ("oms", "/admin/orders/{order}/cancel", {"reason": "CUSTOMER", "note": "x"}),
        ("oms", "/admin/orders/{order}/touch", {"updatedAt": "2026-01-01T00:00:00Z"}),
        ("oms", "/admin/orders/{order}/touch", b"[]"),
        ("carrier", "/admin/trackings/{tracking}/advance", {"status": "TELEPORTED"}),
        ("carrier", "/admin/trackings/{tracking}/advance", {"message": 7}),
        ("inventory", "/admin/inventory/{sku}", {"locationId": "loc_us_east", "available": "0"}),
        ("ticketing", "/admin/tickets/{ticket}", {"status": "solved"}),
        ("ticketing", "/admin/tickets/{ticket}", {"priority": None, "owner": "me"}),
    ],
)
async def test_bad_bodies(
    cluster: SimCluster,
    http: aiohttp.ClientSession,
    data: Dataset,
    source: str,
    path: str,
    body: object,
) -> None:
    ids = {
        "order": data.order_ids("just_placed")[0],
        "tracking": next(iter(data.trackings)),
        "sku": next(iter(data.inventory)),
        "ticket": next(iter(data.tickets.values()))[0].id,
    }
    before = data.encode()
    await post_error(http, cluster.urls[source] + path.format(**ids), body, 400, "BAD_REQUEST")
    assert data.encode() == before


async def test_admin_calls_are_not_data_requests(
    cluster: SimCluster, http: aiohttp.ClientSession, receiver: Receiver, data: Dataset
) -> None:
    cluster.reset_stats()
    order_id = data.order_ids("delivered")[1]
    await post(http, f"{cluster.urls['oms']}/admin/orders/{order_id}/touch")
    await post(http, f"{cluster.urls['oms']}/admin/orders/nope/touch", status=404)
    await receiver.next("oms", EventType.ORDER_UPDATED)
    await fetch_order(cluster, http, order_id)
    assert cluster.stats("oms").paths == {"/orders": 1}


async def test_failed_delivery_is_retried_with_the_same_id(
    cluster: SimCluster, http: aiohttp.ClientSession, receiver: Receiver, data: Dataset
) -> None:
    receiver.fail_next = 2
    receiver.attempts.clear()
    order_id = data.order_ids("delivered")[2]
    await post(http, f"{cluster.urls['oms']}/admin/orders/{order_id}/touch")
    verified = await receiver.next("oms", EventType.ORDER_UPDATED)
    assert receiver.attempts == [verified.msg_id] * 3


async def test_without_webhook_changes_apply_and_nothing_is_sent(
    cluster: SimCluster, http: aiohttp.ClientSession, receiver: Receiver, data: Dataset
) -> None:
    order_id = data.order_ids("delivered")[3]
    before = data.orders[order_id]
    async with await start_cluster(data) as plain:
        assert all(EMITTER_KEY not in app for app in plain.apps.values())
        await post(http, f"{plain.urls['oms']}/admin/orders/{order_id}/touch")
        assert (await fetch_order(plain, http, order_id)).updated_at > before.updated_at
    # the next event the receiver sees is this marker, not the plain cluster's change
    marker = data.order_ids("delivered")[4]
    await post(http, f"{cluster.urls['oms']}/admin/orders/{marker}/touch")
    verified = await receiver.next("oms", EventType.ORDER_UPDATED)
    assert verified.event.order_id == marker


async def test_close_drains_pending_deliveries(
    http: aiohttp.ClientSession, receiver: Receiver, data: Dataset
) -> None:
    running = await start_cluster(data, webhook_url=receiver.url + "/", webhook_secret=SECRET)
    order_id = data.order_ids("delivered")[0]
    await post(http, f"{running.urls['oms']}/admin/orders/{order_id}/touch")
    await running.close()
    verified = await receiver.next("oms", EventType.ORDER_UPDATED)
    assert verified.event.order_id == order_id


async def test_unreachable_receiver_does_not_break_the_source(
    http: aiohttp.ClientSession, data: Dataset
) -> None:
    async with await start_cluster(
        data, webhook_url="http://127.0.0.1:9/webhooks", webhook_secret=SECRET
    ) as running:
        order_id = data.order_ids("delivered")[0]
        await post(http, f"{running.urls['oms']}/admin/orders/{order_id}/touch")
        assert (await fetch_order(running, http, order_id)).updated_at == data.orders[
            order_id
        ].updated_at


@pytest.mark.parametrize(
    "options",
    [
        {"webhook_url": "http://127.0.0.1:1/webhooks"},
        {"webhook_secret": SECRET},
        {"webhook_url": "http://127.0.0.1:1/webhooks", "webhook_secret": "whsec_"},
    ],
)
async def test_webhook_options_are_checked(data: Dataset, options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        await start_cluster(data, **options)
