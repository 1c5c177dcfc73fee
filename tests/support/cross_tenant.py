"""Another tenant's ids through every path that takes one: each probe is asked for an
order of another account and for one that does not exist, and the two answers must
not differ (anything naming the id aside)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from resolvers.relay import to_global_id
from sim.cluster import SimCluster
from sim.seed import Dataset
from sources.records import Order
from tests.support.queries import ADDRESS, CANCEL, COMMENT, CREATE, NEW_ADDRESS

MISSING_ORDER = "ord_does_not_exist"
# Routes that change data, per source: a cross-tenant call must reach none of them.
WRITES = {
    "oms": ("/orders/{id}/cancel", "/orders/{id}/shipping-address"),
    "ticketing": ("/tickets", "/tickets/{id}/comments"),
}


@dataclass(frozen=True)
class Probe:
    path: str
    key: str  # in tests.support.secured.KEYS: bound to the probing tenant, with the scopes it needs
    query: str
    foreign: Any  # the other tenant's id (or number, or customer reference)
    missing: Any  # one that does not exist
    variables: Callable[[Any], dict[str, Any]] = lambda value: {"v": value}
    stream: bool = False  # a subscription: asked over server-sent events

    def payload(self, value: Any) -> dict[str, Any]:
        return {"query": self.query, "variables": self.variables(value)}


def order_of(dataset: Dataset, tenant: str) -> Order:
    """An order of ``tenant`` with shipments and tickets."""
    return next(
        order
        for order in dataset.orders.values()
        if order.account_id == tenant and order.shipments and dataset.tickets.get(order.id)
    )


def probes(dataset: Dataset, other_tenant: str) -> list[Probe]:
    """Every id-taking path, aimed at an order of ``other_tenant`` by keys of
    TENANT_A (``app_a`` reads, ``writer_a`` and ``support_a`` write)."""
    order = order_of(dataset, other_tenant)
    ticket = dataset.tickets[order.id][0]

    def gid(type_name: str, order_id: str, *rest: str) -> str:
        return to_global_id(type_name, order_id, *rest)

    order_id, missing_id = gid("Order", order.id), gid("Order", MISSING_ORDER)
    by_id = "query($v: ID!) { order(id: $v) { id } }"
    node = "query($v: ID!) { node(id: $v) { id } }"
    return [
        Probe("order", "app_a", by_id, order_id, missing_id),
        Probe("orderByNumber", "app_a", "query($v: String!) { orderByNumber(number: $v) { id } }",
              order.number, "999999999"),
        Probe("orders filtered by customer", "app_a",
              "query($v: String) { orders(first: 5, filter: {customerReference: $v}) "
              "{ nodes { id } } }", order.customer.id, "cus_does_not_exist"),
        Probe("node: an order", "app_a", node, order_id, missing_id),
        Probe("node: a line item", "app_a", node, gid("LineItem", order.id, order.lines[0].id),
              gid("LineItem", MISSING_ORDER, order.lines[0].id)),
        Probe("node: a shipment", "app_a", node,
              gid("Shipment", order.id, order.shipments[0].id),
              gid("Shipment", MISSING_ORDER, order.shipments[0].id)),
        Probe("node: a ticket", "app_a", node, gid("SupportTicket", order.id, ticket.id),
              gid("SupportTicket", MISSING_ORDER, ticket.id)),
        Probe("nodes", "app_a", "query($v: [ID!]!) { nodes(ids: $v) { id } }",
              [order_id], [missing_id]),
        Probe("orderCancel", "writer_a", CANCEL, order_id, missing_id,
              lambda v: {"input": {"orderId": v, "reason": "CUSTOMER"}}),
        Probe("orderUpdateShippingAddress", "writer_a", ADDRESS, order_id, missing_id,
              lambda v: {"input": {"orderId": v, "address": NEW_ADDRESS}}),
        Probe("ticketCreate", "support_a", CREATE, order_id, missing_id,
              lambda v: {"input": {"orderId": v, "subject": "Where is it?", "body": "?"}}),
        Probe("ticketAddComment", "support_a", COMMENT,
              gid("SupportTicket", order.id, ticket.id),
              gid("SupportTicket", MISSING_ORDER, ticket.id),
              lambda v: {"input": {"ticketId": v, "body": "Any news?", "author": "Ada"}}),
        Probe("orderUpdated (subscription)", "app_a",
              "subscription($v: ID!) { orderUpdated(id: $v) { id } }", order_id, missing_id,
              stream=True),
    ]  # fmt: skip


async def ask(client: httpx.AsyncClient, keys: dict[str, str], probe: Probe, value: Any) -> Any:
    """The probe's answer from the gateway ``client`` calls, with the probe's key among
    ``keys``: a body, or a subscription's events until it completes."""
    headers = {"authorization": f"Bearer {keys[probe.key]}"}
    if not probe.stream:
        response = await client.post("/graphql", json=probe.payload(value), headers=headers)
        assert response.status_code == 200, response.text
        return response.json()
    async with aconnect_sse(
        client, "POST", "/graphql", json=probe.payload(value), headers=headers
    ) as source:
        assert source.response.status_code == 200
        return [
            [event.event, json.loads(event.data) if event.data else None]
            async for event in source.aiter_sse()
        ]


def comparable(answer: Any) -> Any:
    """An answer without what differs between any two calls (``extensions``: cost,
    cache) or names the id asked for (messages)."""
    if isinstance(answer, dict):
        return {
            key: comparable(value)
            for key, value in answer.items()
            if key != "message" and not (key == "extensions" and "code" not in value)
        }
    if isinstance(answer, list):
        return [comparable(item) for item in answer]
    return answer


def writes(cluster: SimCluster) -> dict[str, int]:
    """Calls that changed data since the sources' counters were reset, by route."""
    return {
        path: count
        for source, routes in WRITES.items()
        for path, count in cluster.stats(source).paths.items()
        if path in routes
    }
