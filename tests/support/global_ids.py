"""Global ids and cursors for tests: written out by hand, as the base64url of their
text (the formats clients hold), and the real ids of a data set's orders."""

from __future__ import annotations

import base64

from resolvers.relay import to_global_id
from sim.seed import Dataset
from sources.records import Order


def b64(text: str, *, pad: bool = True) -> str:
    """``text`` as base64url; without its ``=`` padding unless ``pad``."""
    encoded = base64.urlsafe_b64encode(text.encode()).decode()
    return encoded if pad else encoded.rstrip("=")


def order_global_ids(dataset: Dataset, order: Order) -> list[str]:
    """The global ids of ``order``, its first line item, and its first shipment and
    first ticket when it has them, in that order."""
    ids = [to_global_id("Order", order.id), to_global_id("LineItem", order.id, order.lines[0].id)]
    if order.shipments:
        ids.append(to_global_id("Shipment", order.id, order.shipments[0].id))
    for ticket in dataset.tickets.get(order.id, [])[:1]:
        ids.append(to_global_id("SupportTicket", order.id, ticket.id))
    return ids
