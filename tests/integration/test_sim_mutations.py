"""The OMS's order-changing data endpoints (customer cancel, shipping-address change and
its warehouse requests), their client methods, and their agreement with the gateway's
eligibility rules.

The module runs on a data set of its own (changes stay here) with a loopback webhook
receiver that verifies every delivery.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import aiohttp
import msgspec
import pytest
import pytest_asyncio

from domain.eligibility import cancellable_quantities as eligible_quantities
from domain.eligibility import change_eligibility
from domain.progress import OrderProgress
from sim.changes import oms as changes
from sim.cluster import SimCluster
from sim.faults import FaultSpec
from sim.seed import Dataset
from sources.clients.changes import ChangeRefused
from sources.clients.oms import OmsClient
from sources.events import EventType
from sources.failures import SOURCE_UNAVAILABLE, SourceError
from sources.options import SourceConfig
from sources.records import (
    AddressChange,
    AddressChangeRequest,
    AddressChangeStatus,
    AddressRequestStatus,
    CancelOrderRequest,
    CancelReason,
    FinancialStatus,
    FulfillmentOrderStatus,
    FulfillmentStatus,
    HoldReason,
    LineQuantity,
    MailingAddress,
    Order,
    OrderAddressRequests,
)
from tests.support import builders
from tests.support.eligibility_cases import CASES as ELIGIBILITY_CASES
from tests.support.gateways import FIXED_NOW, MakeDataset
from tests.support.sim_http import fetch_order, get, post, post_error
from tests.support.webhook_receiver import Receiver

pytestmark = pytest.mark.usefixtures("quiet_receiver")
NEW_ADDRESS = MailingAddress(
    name="Ada Lovelace",
    line1="12 St James's Square",
    city="London",
    postal_code="SW1Y 4JH",
    country_code="GB",
)


@pytest.fixture(scope="module")
def data(make_dataset: MakeDataset) -> Dataset:
    return make_dataset(seed=11, orders=300)


@pytest_asyncio.fixture
async def client(cluster: SimCluster) -> AsyncIterator[OmsClient]:
    oms = OmsClient(SourceConfig(base_url=cluster.urls["oms"]))
    yield oms
    await oms.close()


def url(cluster: SimCluster, path: str) -> str:
    return cluster.urls["oms"] + path


async def cancel(
    cluster: SimCluster, http: aiohttp.ClientSession, order_id: str, body: object
) -> Order:
    payload = await post(http, url(cluster, f"/orders/{order_id}/cancel"), body)
    return msgspec.json.decode(payload, type=Order)


async def change_address(
    cluster: SimCluster, http: aiohttp.ClientSession, order_id: str, status: int
) -> AddressChange:
    path = f"/orders/{order_id}/shipping-address"
    payload = await post(http, url(cluster, path), NEW_ADDRESS, status=status)
    return msgspec.json.decode(payload, type=AddressChange)


async def address_requests(
    cluster: SimCluster, http: aiohttp.ClientSession, order_id: str
) -> list[AddressChangeRequest]:
    path = url(cluster, f"/orders/{order_id}/address-requests")
    return (await get(http, path, {}, OrderAddressRequests)).requests


# --- whole cancel --------------------------------------------------------------------


async def test_cancel_whole_order(
    cluster: SimCluster, http: aiohttp.ClientSession, receiver: Receiver, data: Dataset
) -> None:
    order_id = data.order_ids("just_placed")[0]
    before = data.orders[order_id]
    cluster.reset_stats()
    answered = await cancel(cluster, http, order_id, {"reason": "CUSTOMER"})

    assert await fetch_order(cluster, http, order_id) == answered
    assert answered.cancel_reason is CancelReason.CUSTOMER
    assert answered.cancelled_at == answered.updated_at > before.updated_at
    assert all(ln.quantities.cancelled == ln.quantities.ordered for ln in answered.lines)
    assert {fo.status for fo in answered.fulfillment_orders} == {FulfillmentOrderStatus.CANCELLED}
    assert answered.financial_status in (FinancialStatus.VOIDED, FinancialStatus.REFUNDED)
    verified = await receiver.next("oms", EventType.ORDER_CANCELLED)
    assert verified.event.order_id == order_id
    assert cluster.stats("oms").paths == {"/orders/{id}/cancel": 1, "/orders": 1}

    again = url(cluster, f"/orders/{order_id}/cancel")
    await post_error(http, again, {"reason": "CUSTOMER"}, 409, changes.ALREADY_CANCELLED)


@pytest.mark.parametrize(
    ("scenario", "code"),
    [
        ("in_transit", changes.ALREADY_SHIPPED),
        ("partial_shipment", changes.PARTIALLY_SHIPPED),
        ("processing", changes.IN_FULFILLMENT),
        ("cancelled", changes.ALREADY_CANCELLED),
    ],
)
async def test_cancel_refused(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset, scenario: str, code: str
) -> None:
    order_id = data.order_ids(scenario)[0]
    before = data.orders[order_id]
    path = url(cluster, f"/orders/{order_id}/cancel")
    await post_error(http, path, {"reason": "CUSTOMER"}, 409, code)
    assert await fetch_order(cluster, http, order_id) == before


@pytest.mark.parametrize(
    "body",
    [
        None,  # reason is required
        {"reason": "BORED"},
        {"reason": "CUSTOMER", "note": "x"},
        {"reason": "CUSTOMER", "lines": []},
        {"reason": "CUSTOMER", "lines": [{"lineId": "nope", "quantity": 1}]},
        {"reason": "CUSTOMER", "lines": [{"lineId": "LINE", "quantity": 0}]},
        {"reason": "CUSTOMER", "lines": [{"lineId": "LINE", "quantity": 1}] * 2},
    ],
)
async def test_cancel_bad_bodies(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset, body: object
) -> None:
    order = data.orders[data.order_ids("just_placed")[1]]
    raw = msgspec.json.encode(body).replace(b'"LINE"', f'"{order.lines[0].id}"'.encode())
    before = data.encode()
    path = url(cluster, f"/orders/{order.id}/cancel")
    await post_error(http, path, raw if body is not None else None, 400, "BAD_REQUEST")
    assert data.encode() == before


async def test_unknown_order(cluster: SimCluster, http: aiohttp.ClientSession) -> None:
    body = {"reason": "CUSTOMER"}
    await post_error(http, url(cluster, "/orders/nope/cancel"), body, 404, "NOT_FOUND")
    address = url(cluster, "/orders/nope/shipping-address")
    await post_error(http, address, NEW_ADDRESS, 404, "NOT_FOUND")
    async with http.get(url(cluster, "/orders/nope/address-requests")) as resp:
        assert resp.status == 404
    decide = url(cluster, "/admin/address-requests/nope/decide")
    await post_error(http, decide, {"approve": True}, 404, "NOT_FOUND")


# --- line cancel ---------------------------------------------------------------------


async def test_cancel_lines(
    cluster: SimCluster, http: aiohttp.ClientSession, receiver: Receiver, data: Dataset
) -> None:
    order_id = next(
        oid
        for oid in data.order_ids("fraud_hold")
        if len(data.orders[oid].lines) == 2 and data.orders[oid].lines[0].quantities.ordered > 1
    )
    before = data.orders[order_id]
    first, second = before.lines
    (fo,) = before.fulfillment_orders
    body = {"reason": "CUSTOMER", "lines": [{"lineId": first.id, "quantity": 1}]}
    answered = await cancel(cluster, http, order_id, body)

    assert await fetch_order(cluster, http, order_id) == answered
    assert answered.cancelled_at is None and answered.updated_at > before.updated_at
    assert answered.lines[0].quantities.cancelled == 1
    assert answered.lines[1] == second
    (held,) = answered.fulfillment_orders
    assert held.status is FulfillmentOrderStatus.ON_HOLD and held.updated_at == answered.updated_at
    carried = {part.line_id: part.quantity for part in held.lines}
    assert carried == {first.id: first.quantities.ordered - 1, second.id: 1}
    assert answered.financial_status is FinancialStatus.AUTHORIZED  # still holds the rest
    verified = await receiver.next("oms", EventType.ORDER_UPDATED)
    assert verified.event.order_id == order_id

    too_many = {"reason": "CUSTOMER", "lines": [{"lineId": first.id, "quantity": 99}]}
    path = url(cluster, f"/orders/{order_id}/cancel")
    await post_error(http, path, too_many, 409, changes.QUANTITY_NOT_CANCELLABLE)

    rest = [
        {"lineId": first.id, "quantity": first.quantities.ordered - 1},
        {"lineId": second.id, "quantity": 1},
    ]
    emptied = await cancel(cluster, http, order_id, {"reason": "CUSTOMER", "lines": rest})
    assert emptied.fulfillment_orders == [
        msgspec.structs.replace(
            fo,
            status=FulfillmentOrderStatus.CANCELLED,
            lines=held.lines,
            updated_at=emptied.updated_at,
        )
    ]
    assert (emptied.financial_status, emptied.fulfillment_status) == (
        FinancialStatus.VOIDED,
        FulfillmentStatus.UNFULFILLED,
    )
    assert emptied.cancelled_at is None  # every line is cancelled, not the order
    await receiver.next("oms", EventType.ORDER_UPDATED)
    await post_error(http, path, {"reason": "CUSTOMER"}, 409, changes.NOTHING_TO_CANCEL)


@pytest.mark.parametrize(
    ("scenario", "code"),
    [("processing", changes.IN_FULFILLMENT), ("in_transit", changes.ALREADY_SHIPPED)],
)
async def test_cancel_lines_refused(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset, scenario: str, code: str
) -> None:
    order = data.orders[data.order_ids(scenario)[1]]
    body = {"reason": "CUSTOMER", "lines": [{"lineId": order.lines[0].id, "quantity": 1}]}
    await post_error(http, url(cluster, f"/orders/{order.id}/cancel"), body, 409, code)
    assert data.orders[order.id] == order


@pytest.mark.parametrize(
    ("before", "whole", "part"),
    [
        (FinancialStatus.AUTHORIZED, FinancialStatus.VOIDED, FinancialStatus.AUTHORIZED),
        (FinancialStatus.PENDING, FinancialStatus.VOIDED, FinancialStatus.PENDING),
        (FinancialStatus.PAID, FinancialStatus.REFUNDED, FinancialStatus.PARTIALLY_REFUNDED),
        (
            FinancialStatus.PARTIALLY_PAID,
            FinancialStatus.REFUNDED,
            FinancialStatus.PARTIALLY_REFUNDED,
        ),
        (
            FinancialStatus.PARTIALLY_REFUNDED,
            FinancialStatus.REFUNDED,
            FinancialStatus.PARTIALLY_REFUNDED,
        ),
        (FinancialStatus.VOIDED, FinancialStatus.VOIDED, FinancialStatus.VOIDED),
        (FinancialStatus.EXPIRED, FinancialStatus.EXPIRED, FinancialStatus.EXPIRED),
    ],
)
def test_a_cancel_voids_or_refunds_only_what_the_payment_holds(
    data: Dataset, before: FinancialStatus, whole: FinancialStatus, part: FinancialStatus
) -> None:
    """Money taken is refunded and an authorisation voided; a payment already voided or
    expired has nothing to refund, so it stays."""
    built = msgspec.structs.replace(
        builders.order([builders.line("l1", ordered=2)], [builders.fulfillment(lines=("l1",))]),
        financial_status=before,
    )
    throwaway = dataclasses.replace(data, orders={built.id: built})
    one_unit = [LineQuantity(line_id="l1", quantity=1)]
    partly, _ = changes.request_cancel(
        throwaway,
        built.id,
        CancelOrderRequest(reason=CancelReason.CUSTOMER, lines=one_unit),
        FIXED_NOW,
    )
    assert isinstance(partly, Order) and partly.financial_status is part
    throwaway.orders[built.id] = built
    cancelled, _ = changes.request_cancel(
        throwaway, built.id, CancelOrderRequest(reason=CancelReason.CUSTOMER), FIXED_NOW
    )
    assert isinstance(cancelled, Order) and cancelled.financial_status is whole


def test_line_cancel_cancels_only_emptied_fulfillment_orders(data: Dataset) -> None:
    """Two locations, one line each: cancelling one line cancels its fulfillment order
    only, and a captured payment is partially refunded."""
    built = builders.order(
        [builders.line("l1"), builders.line("l2", ordered=2)],
        [builders.fulfillment(lines=("l1",)), builders.fulfillment(lines=("l2",))],
    )
    throwaway = dataclasses.replace(data, orders={built.id: built})
    body = CancelOrderRequest(
        reason=CancelReason.CUSTOMER, lines=[LineQuantity(line_id="l1", quantity=1)]
    )
    changed, event = changes.request_cancel(throwaway, built.id, body, FIXED_NOW)
    assert isinstance(changed, Order) and event.type is EventType.ORDER_UPDATED
    first, second = changed.fulfillment_orders
    assert (first.status, first.lines) == (
        FulfillmentOrderStatus.CANCELLED,
        built.fulfillment_orders[0].lines,
    )
    assert second == built.fulfillment_orders[1]
    assert changed.financial_status is FinancialStatus.PARTIALLY_REFUNDED
    assert eligible_quantities(changed) == {"l2": 1}  # fo carries 1 of the 2


def test_line_cancel_takes_only_units_left_to_ship(data: Dataset) -> None:
    """A held fulfillment order carries 2 units, 1 of which shipped from it before the
    hold; another not started carries 1. Cancelling 2 takes the one left on each: the
    shipped unit stays on its fulfillment order, and nothing unshipped is left over."""
    held = msgspec.structs.replace(
        builders.fulfillment(FulfillmentOrderStatus.ON_HOLD, HoldReason.OTHER),
        id="fo-held",
        lines=[LineQuantity(line_id="l1", quantity=2)],
    )
    waiting = msgspec.structs.replace(builders.fulfillment(), id="fo-waiting")
    parcel = msgspec.structs.replace(
        builders.shipment("1Z1", ("l1", 1)), fulfillment_order_id="fo-held"
    )
    built = builders.order([builders.line(ordered=3, shipped=1)], [held, waiting], [parcel])
    throwaway = dataclasses.replace(data, orders={built.id: built})
    assert eligible_quantities(built) == {"l1": 2}
    body = CancelOrderRequest(
        reason=CancelReason.CUSTOMER, lines=[LineQuantity(line_id="l1", quantity=2)]
    )
    changed, _ = changes.request_cancel(throwaway, built.id, body, FIXED_NOW)
    assert isinstance(changed, Order)
    kept, emptied = changed.fulfillment_orders
    assert (kept.status, kept.lines) == (held.status, [LineQuantity(line_id="l1", quantity=1)])
    assert emptied.status is FulfillmentOrderStatus.CANCELLED
    progress = OrderProgress.of(changed)
    assert progress.lines["l1"].unfulfilled == 0 and not any(progress.unshipped.values())


def test_staff_cancel_counts_a_shipment_the_line_counter_lags_behind(data: Dataset) -> None:
    """The staff cancel refuses an order with a shipment its lines' shipped counters do
    not show yet, by the same progress arithmetic as the customer's cancel."""
    built = builders.order(
        [builders.line("l1")],
        [builders.fulfillment(FulfillmentOrderStatus.IN_PROGRESS)],
        [builders.shipment("1Z1", ("l1", 1))],
    )
    throwaway = dataclasses.replace(
        data, orders={built.id: built}, orders_by_number={built.number: built}
    )
    staff = changes.CancelOrder(reason=CancelReason.STAFF)
    with pytest.raises(changes.ChangeError) as refused:
        changes.cancel_order(throwaway, built.id, staff, FIXED_NOW)
    assert (refused.value.status, refused.value.code) == (409, changes.NOT_CANCELLABLE)
    assert throwaway.orders[built.id] is built


# --- shipping address ----------------------------------------------------------------


async def test_address_applied_at_once(
    cluster: SimCluster, http: aiohttp.ClientSession, receiver: Receiver, data: Dataset
) -> None:
    order_id = data.order_ids("fraud_hold")[-1]
    before = data.orders[order_id]
    change = await change_address(cluster, http, order_id, 200)
    assert (change.status, change.request_id) == (AddressChangeStatus.APPLIED, None)
    assert change.order == await fetch_order(cluster, http, order_id)
    assert change.order.shipping_address == NEW_ADDRESS
    assert change.order.updated_at > before.updated_at
    verified = await receiver.next("oms", EventType.ORDER_UPDATED)
    assert verified.event.order_id == order_id
    assert await address_requests(cluster, http, order_id) == []


@pytest.mark.parametrize("approve", [True, False])
async def test_address_requested_then_decided(
    cluster: SimCluster,
    http: aiohttp.ClientSession,
    receiver: Receiver,
    data: Dataset,
    approve: bool,
) -> None:
    order_id = data.order_ids("processing")[2 if approve else 3]
    before = data.orders[order_id]
    change = await change_address(cluster, http, order_id, 202)
    assert change.status is AddressChangeStatus.REQUESTED and change.request_id
    assert change.order == before == await fetch_order(cluster, http, order_id)
    (pending,) = await address_requests(cluster, http, order_id)
    assert (pending.id, pending.status, pending.address) == (
        change.request_id,
        AddressRequestStatus.PENDING,
        NEW_ADDRESS,
    )
    assert data.address_requests[pending.id] == pending

    decide = url(cluster, f"/admin/address-requests/{pending.id}/decide")
    decided = msgspec.json.decode(
        await post(http, decide, {"approve": approve}), type=AddressChangeRequest
    )
    expected = AddressRequestStatus.APPROVED if approve else AddressRequestStatus.REJECTED
    assert decided.status is expected
    after = await fetch_order(cluster, http, order_id)
    assert after.updated_at == decided.decided_at and after.updated_at > before.updated_at
    assert after.shipping_address == (NEW_ADDRESS if approve else before.shipping_address)
    assert await address_requests(cluster, http, order_id) == [decided]
    verified = await receiver.next("oms", EventType.ORDER_UPDATED)
    assert verified.event.order_id == order_id
    await post_error(http, decide, {"approve": True}, 409, changes.ALREADY_DECIDED)


@pytest.mark.parametrize(
    ("scenario", "code"),
    [
        ("in_transit", changes.ALREADY_SHIPPED),
        ("partial_shipment", changes.PARTIALLY_SHIPPED),
        ("ready_for_pickup", changes.PICKUP_ORDER),
        ("cancelled", changes.ALREADY_CANCELLED),
    ],
)
async def test_address_refused(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset, scenario: str, code: str
) -> None:
    order = data.orders[data.order_ids(scenario)[1]]
    path = url(cluster, f"/orders/{order.id}/shipping-address")
    await post_error(http, path, NEW_ADDRESS, 409, code)
    assert data.orders[order.id] == order
    assert await address_requests(cluster, http, order.id) == []


async def test_approving_too_late_is_refused(
    cluster: SimCluster, http: aiohttp.ClientSession, receiver: Receiver, data: Dataset
) -> None:
    """The order was cancelled (by staff) while its request waited."""
    order_id = data.order_ids("processing")[4]
    change = await change_address(cluster, http, order_id, 202)
    await post(http, url(cluster, f"/admin/orders/{order_id}/cancel"), {"reason": "STAFF"})
    await receiver.next("oms", EventType.ORDER_CANCELLED)
    decide = url(cluster, f"/admin/address-requests/{change.request_id}/decide")
    await post_error(http, decide, {"approve": True}, 409, changes.ALREADY_CANCELLED)
    assert change.request_id is not None
    assert data.address_requests[change.request_id].status is AddressRequestStatus.PENDING


# --- client --------------------------------------------------------------------------


async def test_client_cancel_order(client: OmsClient, receiver: Receiver, data: Dataset) -> None:
    order_id = data.order_ids("just_placed")[2]
    cancelled = await client.cancel_order(order_id, CancelReason.STAFF)
    assert cancelled.cancel_reason is CancelReason.STAFF and cancelled == data.orders[order_id]
    await receiver.next("oms", EventType.ORDER_CANCELLED)

    with pytest.raises(ChangeRefused) as refused:
        await client.cancel_order(order_id, CancelReason.STAFF)
    assert isinstance(refused.value, SourceError) and not refused.value.retryable
    assert (refused.value.source, refused.value.code) == ("oms", changes.ALREADY_CANCELLED)
    assert refused.value.message
    assert client.breaker.state == "closed"


async def test_client_cancel_lines(client: OmsClient, receiver: Receiver, data: Dataset) -> None:
    order = data.orders[data.order_ids("backorder")[0]]
    part = LineQuantity(line_id=order.lines[0].id, quantity=1)
    changed = await client.cancel_order(order.id, CancelReason.INVENTORY, [part])
    assert changed.lines[0].quantities.cancelled == 1 and changed.cancelled_at is None
    await receiver.next("oms", EventType.ORDER_UPDATED)


async def test_client_change_shipping_address(
    client: OmsClient, receiver: Receiver, data: Dataset
) -> None:
    applied = await client.change_shipping_address(data.order_ids("payment_hold")[0], NEW_ADDRESS)
    assert applied.status is AddressChangeStatus.APPLIED
    assert applied.order.shipping_address == NEW_ADDRESS
    await receiver.next("oms", EventType.ORDER_UPDATED)

    requested = await client.change_shipping_address(data.order_ids("processing")[5], NEW_ADDRESS)
    assert requested.status is AddressChangeStatus.REQUESTED and requested.request_id

    with pytest.raises(ChangeRefused) as refused:
        await client.change_shipping_address(data.order_ids("ready_for_pickup")[0], NEW_ADDRESS)
    assert refused.value.code == changes.PICKUP_ORDER


async def test_client_change_is_never_retried(
    cluster: SimCluster, client: OmsClient, data: Dataset
) -> None:
    order_id = data.order_ids("just_placed")[3]
    before = data.orders[order_id]
    cluster.reset_stats()
    cluster.set_faults("oms", FaultSpec(error_rate=1.0, error_status=503))
    try:
        with pytest.raises(SourceError) as failed:
            await client.cancel_order(order_id, CancelReason.CUSTOMER)
    finally:
        cluster.set_faults("oms", None)
    assert failed.value.code == SOURCE_UNAVAILABLE and failed.value.transient
    assert cluster.stats("oms").paths == {"/orders/{id}/cancel": 1}
    assert data.orders[order_id] == before


# --- the OMS and the gateway agree ---------------------------------------------------


def _refusal(dataset: Dataset, order_id: str, body: CancelOrderRequest) -> str | None:
    """The code a customer cancel is refused with on a throwaway copy of ``dataset``, or None."""
    throwaway = dataclasses.replace(
        dataset, orders=dict(dataset.orders), orders_by_number=dict(dataset.orders_by_number)
    )
    try:
        changes.request_cancel(throwaway, order_id, body, FIXED_NOW)
    except changes.ChangeError as exc:
        return exc.code
    return None


def _assert_agree(dataset: Dataset, order: Order) -> None:
    """Whole cancel, a one-unit line cancel and an address change of ``order`` are
    refused by the OMS with the very reason code the gateway's eligibility rules give."""
    eligibility = change_eligibility(order)
    whole = CancelOrderRequest(reason=CancelReason.CUSTOMER)
    assert _refusal(dataset, order.id, whole) == (
        None if eligibility.cancel.allowed else eligibility.cancel.reason_code
    ), order.id

    quantities = eligible_quantities(order)
    line_id = next(iter(quantities), order.lines[0].id)
    one = CancelOrderRequest(
        reason=CancelReason.CUSTOMER, lines=[LineQuantity(line_id=line_id, quantity=1)]
    )
    assert _refusal(dataset, order.id, one) == (
        None if eligibility.cancel_lines.allowed else eligibility.cancel_lines.reason_code
    ), order.id

    address = eligibility.change_address
    try:
        taken = changes.check_address_change(order)
    except changes.ChangeError as exc:
        assert (address.allowed, address.reason_code) == (False, exc.code), order.id
    else:
        requested = taken is AddressChangeStatus.REQUESTED
        assert address.allowed and requested == (address.reason_code is not None), order.id


def test_oms_agrees_with_eligibility_on_every_seeded_order(make_dataset) -> None:
    fresh = make_dataset(seed=11, orders=300)
    for order in fresh.orders.values():
        _assert_agree(fresh, order)
    assert fresh.encode() == make_dataset(seed=11, orders=300).encode()  # untouched


def test_oms_agrees_with_eligibility_on_the_rule_table(data: Dataset) -> None:
    """The eligibility table covers every reason code, which the seeded data does not."""
    for _, record, _ in ELIGIBILITY_CASES:
        _assert_agree(dataclasses.replace(data, orders={record.id: record}), record)
