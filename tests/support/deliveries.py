"""Signed change events posted to a running gateway's ``POST /webhooks/{source}``,
and orders of the seeded data set that such events concern."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from msgspec.structs import replace

from sim.seed import Dataset
from sources.adapters.protocols import SourceAdapter
from sources.events import ChangeEvent
from sources.records import Order
from sources.webhooks import VerifiedEvent, WebhookError, sign
from tests.support.gateways import RunningGateway


async def post_webhook(
    gateway: RunningGateway, source: str, body: bytes, headers: Mapping[str, str]
) -> tuple[int, dict[str, Any]]:
    """POST one delivery as given: the status and the JSON answer."""
    async with gateway.session.post(
        f"{gateway.url}/webhooks/{source}", data=body, headers=dict(headers)
    ) as resp:
        return resp.status, await resp.json()


async def deliver(
    gateway: RunningGateway,
    source: str,
    event: ChangeEvent,
    secret: str,
    *,
    msg_id: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """Sign ``event`` with ``secret`` (as delivery ``msg_id``, when given) and post it."""
    body = msgspec.json.encode(event)
    return await post_webhook(gateway, source, body, sign(secret, body, msg_id=msg_id))


def as_sent(verified: VerifiedEvent) -> ChangeEvent:
    """The event a verified delivery carries, as its sender said it: checked to carry
    the delivery's id (what tells it from another delivery that says the same), which
    is then left out."""
    assert verified.event.id == verified.msg_id, (verified.event.id, verified.msg_id)
    return replace(verified.event, id=None)


async def refusal(
    adapter: SourceAdapter, body: bytes, headers: Mapping[str, str]
) -> tuple[int, str]:
    """The status and code ``adapter`` refuses a delivery with (it must refuse it)."""
    try:
        await adapter.verify_webhook(body, headers)
    except WebhookError as refused:
        return refused.status, refused.code
    raise AssertionError("the delivery was taken")


def in_transit(dataset: Dataset) -> tuple[Order, str]:
    """An order whose only parcel is in transit with a live carrier record, and its
    tracking number."""
    for order_id, scenario in dataset.scenarios.items():
        order = dataset.orders[order_id]
        if scenario == "in_transit" and len(order.shipments) == 1:
            number = order.shipments[0].tracking_number
            if number in dataset.trackings:
                return order, number
    raise AssertionError("no in-transit order in the data set")


def held_in_lower_case(dataset: Dataset) -> tuple[Order, str]:
    """An order as :func:`in_transit` finds one, whose tracking number has letters,
    changed in ``dataset`` so that its OMS holds the number in lower case while the
    carrier spells it its own way: the order as changed, and the carrier's number."""
    for order_id, scenario in dataset.scenarios.items():
        order = dataset.orders[order_id]
        if scenario != "in_transit" or len(order.shipments) != 1:
            continue
        (shipment,) = order.shipments
        number = shipment.tracking_number
        if number in dataset.trackings and number != number.lower():
            held = replace(order, shipments=[replace(shipment, tracking_number=number.lower())])
            dataset.orders[order_id] = dataset.orders_by_number[order.number] = held
            return held, number
    raise AssertionError("no in-transit order with letters in its tracking number")
