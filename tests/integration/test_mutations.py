"""Mutations through a production-mode edge against simulated sources of their own:
eligibility and tenant checks before the source, idempotency keys (one upstream call
for concurrent repeats), no retries, and the cache refreshed after a change; for
orders, then for tickets."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import aiohttp
import msgspec
import pytest

from gateway.auth.keys import parse_key
from gateway.settings import SourceSettings
from resolvers.relay import to_global_id
from sim.cluster import SimCluster, start_cluster
from sim.faults import FaultSpec
from sim.vendors.access import SIM_API_KEY
from sources.events import ChangeEvent, EventType
from sources.records import Ticket, TicketStatus
from tests.support.gateways import in_process_gateway, settings_for
from tests.support.queries import ADDRESS, CANCEL, COMMENT, CREATE, NEW_ADDRESS
from tests.support.secured import TENANT_A, TENANT_B, Secured, audit_entries, secured_gateway
from tests.support.sim_http import post

STATUS = "query($n: String!) { orderByNumber(number: $n) { customerStatus } }"


@pytest.fixture(scope="module")
async def cluster(make_dataset) -> AsyncIterator[SimCluster]:
    async with await start_cluster(make_dataset()) as running:
        yield running


@pytest.fixture(scope="module")
async def secured(cluster, tmp_path_factory) -> AsyncIterator[Secured]:
    async with secured_gateway(cluster.urls, tmp_path_factory.mktemp("keys")) as running:
        yield running


def _orders(cluster, scenario: str, tenant: str | None = None):
    dataset = cluster.dataset
    return [
        dataset.orders[o]
        for o, s in dataset.scenarios.items()
        if s == scenario and (tenant is None or dataset.orders[o].account_id == tenant)
    ]


@contextlib.contextmanager
def _failing(cluster, source: str, status: int = 503) -> Iterator[None]:
    """Within the block ``source`` answers ``status`` to every data call (counted from
    zero)."""
    cluster.reset_stats()
    cluster.set_faults(source, FaultSpec(error_rate=1.0, error_status=status))
    try:
        yield
    finally:
        cluster.set_faults(source, None)


def _cancel_calls(cluster) -> int:
    return cluster.stats("oms").paths.get("/orders/{id}/cancel", 0)


async def _cancel(secured, order, key="console", **extra):
    variables = {"input": {"orderId": to_global_id("Order", order.id), "reason": "CUSTOMER",
                           **extra}}  # fmt: skip
    return await secured.post({"query": CANCEL, "variables": variables}, key=key)


async def test_cancel_an_order_not_yet_in_fulfillment(secured, cluster):
    order = _orders(cluster, "just_placed")[0]
    await secured.post({"query": STATUS, "variables": {"n": order.number}}, key="console")
    status, body, _ = await _cancel(secured, order)
    payload = body["data"]["orderCancel"]
    assert status == 200 and payload["userErrors"] == []
    assert payload["order"]["customerStatus"] == "CANCELLED"
    # The cached order was invalidated: the next read shows the change.
    _, body, _ = await secured.post(
        {"query": STATUS, "variables": {"n": order.number}}, key="console"
    )
    assert body["data"]["orderByNumber"]["customerStatus"] == "CANCELLED"


async def test_a_shipped_order_is_refused_before_the_source_is_called(secured, cluster):
    order = _orders(cluster, "in_transit")[0]
    cluster.reset_stats()
    _, body, _ = await _cancel(secured, order)
    payload = body["data"]["orderCancel"]
    assert payload["order"] is None
    assert payload["userErrors"][0]["code"] == "ALREADY_SHIPPED"
    assert _cancel_calls(cluster) == 0


async def test_five_concurrent_repeats_cancel_once_and_answer_alike(secured, cluster):
    order = _orders(cluster, "just_placed")[1]
    cluster.reset_stats()
    answers = await asyncio.gather(
        *(_cancel(secured, order, idempotencyKey="cancel-42") for _ in range(5))
    )
    bodies = [body["data"]["orderCancel"] for _, body, _ in answers]
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0]["order"]["customerStatus"] == "CANCELLED"
    assert _cancel_calls(cluster) == 1
    other = _orders(cluster, "just_placed")[2]
    _, body, _ = await _cancel(secured, other, idempotencyKey="cancel-42")
    assert body["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"


async def test_another_tenants_order_is_not_found(secured, cluster):
    foreign = next(o for o in _orders(cluster, "just_placed") if o.account_id != TENANT_A)
    cluster.reset_stats()
    _, body, _ = await _cancel(secured, foreign, key="writer_a")
    assert body["data"]["orderCancel"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert _cancel_calls(cluster) == 0


async def test_a_mutation_without_its_scope_is_refused_whole(secured, cluster):
    order = _orders(cluster, "just_placed")[3]
    status, body, _ = await _cancel(secured, order, key="app")
    assert (status, body["errors"][0]["extensions"]["code"]) == (403, "FORBIDDEN")


async def test_a_write_only_key_may_cancel_but_not_read_the_order(secured, cluster):
    """orders:write runs the mutation; reading the order it answers needs orders:read,
    and asking for it refuses the whole mutation before anything changes."""
    order = _orders(cluster, "backorder", TENANT_A)[0]
    cluster.reset_stats()
    status, body, _ = await _cancel(secured, order, key="order_writer_a")
    assert (status, body["errors"][0]["extensions"]["code"]) == (403, "FORBIDDEN")
    assert _cancel_calls(cluster) == 0
    errors_only = """mutation($input: OrderCancelInput!) {
      orderCancel(input: $input) { userErrors { code } } }"""
    variables = {"input": {"orderId": to_global_id("Order", order.id), "reason": "CUSTOMER"}}
    status, body, _ = await secured.post(
        {"query": errors_only, "variables": variables}, key="order_writer_a"
    )
    assert status == 200 and body["data"]["orderCancel"] == {"userErrors": []}, body
    assert _cancel_calls(cluster) == 1


async def test_the_source_call_is_never_retried(secured, cluster):
    order = _orders(cluster, "just_placed")[4]
    # Read it first: the order then comes from the cache, and only the cancel call
    # meets the failing OMS.
    by_id = "query($id: ID!) { order(id: $id) { number } }"
    variables = {"id": to_global_id("Order", order.id)}
    await secured.post({"query": by_id, "variables": variables}, key="console")
    with _failing(cluster, "oms"):
        _, body, _ = await _cancel(secured, order)
    assert body["errors"][0]["extensions"]["code"] == "SOURCE_UNAVAILABLE"
    assert _cancel_calls(cluster) == 1


async def test_address_change_applied_or_requested(secured, cluster):
    placed = _orders(cluster, "just_placed")[5]
    working = _orders(cluster, "processing")[0]
    for order, expected in ((placed, "APPLIED"), (working, "REQUESTED")):
        variables = {"input": {"orderId": to_global_id("Order", order.id), "address": NEW_ADDRESS}}
        _, body, _ = await secured.post({"query": ADDRESS, "variables": variables}, key="console")
        payload = body["data"]["orderUpdateShippingAddress"]
        assert payload["userErrors"] == [] and payload["status"] == expected, payload
        assert (payload["requestId"] is not None) == (expected == "REQUESTED")


# --- what is kept under an idempotency key, and what a refusal refreshes -----------------

ELIGIBILITY = """query($id: ID!) { order(id: $id) {
  changeEligibility { cancel { allowed reasonCode } }
  lineItems { quantities { cancelled } } } }"""


async def _eligibility(secured, order) -> dict[str, Any]:
    variables = {"id": to_global_id("Order", order.id)}
    _, body, _ = await secured.post({"query": ELIGIBILITY, "variables": variables}, key="console")
    return body["data"]["order"]


def _line(order, index: int = 0, quantity: int = 1) -> dict[str, Any]:
    line_id = order.lines[index].id
    return {"lineItemId": to_global_id("LineItem", order.id, line_id), "quantity": quantity}


async def test_a_refused_cancel_input_keeps_no_key_so_the_corrected_one_goes_through(
    secured, cluster
):
    """The gateway's own refusal (quantity 0) is answered, not kept: the same key then
    carries the corrected request to the OMS."""
    order = _orders(cluster, "just_placed")[6]
    cluster.reset_stats()
    _, body, _ = await _cancel(secured, order, lines=[_line(order, quantity=0)],
                               idempotencyKey="fix-cancel")  # fmt: skip
    (error,) = body["data"]["orderCancel"]["userErrors"]
    assert (error["field"], error["code"]) == (["lines"], "INVALID_QUANTITY")
    _, body, _ = await _cancel(secured, order, lines=[_line(order)], idempotencyKey="fix-cancel")
    assert body["data"]["orderCancel"]["userErrors"] == [], body
    assert _cancel_calls(cluster) == 1


async def test_a_request_the_source_rejects_as_malformed_keeps_no_key(secured, cluster):
    """The OMS's 400 is the caller's error, answered but not kept: sent again with the
    same key, it reaches the OMS again."""
    order = _orders(cluster, "just_placed")[8]
    await _eligibility(secured, order)  # cached: only the cancel meets the failing OMS
    with _failing(cluster, "oms", 400):
        _, body, _ = await _cancel(secured, order, idempotencyKey="malformed-once")
    assert body["data"]["orderCancel"]["userErrors"][0]["code"] == "BAD_USER_INPUT"
    _, body, _ = await _cancel(secured, order, idempotencyKey="malformed-once")
    assert body["data"]["orderCancel"]["order"]["customerStatus"] == "CANCELLED", body
    assert _cancel_calls(cluster) == 2


async def test_five_concurrent_refused_repeats_answer_alike(secured, cluster):
    """A refusal is not kept, yet concurrent repeats all get it, none IN_PROGRESS."""
    order = _orders(cluster, "in_transit")[5]
    cluster.reset_stats()
    answers = await asyncio.gather(
        *(_cancel(secured, order, idempotencyKey="refused-5") for _ in range(5))
    )
    for _, body, _ in answers:
        assert "errors" not in body, body
        (error,) = body["data"]["orderCancel"]["userErrors"]
        assert error["code"] == "ALREADY_SHIPPED"
    assert _cancel_calls(cluster) == 0


async def test_the_order_of_lines_does_not_change_the_request(secured, cluster):
    order = _orders(cluster, "just_placed")[10]
    lines = [_line(order, 0), _line(order, 1)]
    cluster.reset_stats()
    _, first, _ = await _cancel(secured, order, lines=lines, idempotencyKey="lines-ab")
    assert first["data"]["orderCancel"]["userErrors"] == [], first
    _, again, _ = await _cancel(secured, order, lines=lines[::-1], idempotencyKey="lines-ab")
    assert again["data"] == first["data"]
    assert _cancel_calls(cluster) == 1


async def test_an_oms_refusal_refreshes_the_stale_order_everywhere(secured, cluster):
    """Shipped at the OMS with no change event: the cached order still looks
    cancellable, the OMS refuses, and that refusal invalidates the order as a change
    would (reads, eligibility, live listeners), so a retry is refused unsent."""
    order = _orders(cluster, "just_placed")[9]
    assert (await _eligibility(secured, order))["changeEligibility"]["cancel"]["allowed"]
    async with aiohttp.ClientSession() as http:
        ship = {"fulfillmentOrderId": order.fulfillment_orders[0].id, "carrierCode": "ups",
                "trackingNumber": "1ZSTALE0001"}  # fmt: skip
        await post(http, f"{cluster.urls['oms']}/admin/orders/{order.id}/ship", ship)
    heard: list[ChangeEvent] = []

    async def hear(event: ChangeEvent) -> None:
        heard.append(event)

    assert secured.state is not None and secured.state.cached is not None
    listeners = secured.state.cached.listeners
    listeners.append(hear)
    try:
        cluster.reset_stats()
        _, body, _ = await _cancel(secured, order)
    finally:
        listeners.remove(hear)
    (error,) = body["data"]["orderCancel"]["userErrors"]
    assert error["code"] == "ALREADY_SHIPPED" and _cancel_calls(cluster) == 1
    assert [(e.type, e.order_id) for e in heard] == [(EventType.ORDER_UPDATED, order.id)]
    cancel = (await _eligibility(secured, order))["changeEligibility"]["cancel"]
    assert cancel == {"allowed": False, "reasonCode": "ALREADY_SHIPPED"}
    _, body, _ = await _cancel(secured, order)
    assert body["data"]["orderCancel"]["userErrors"][0]["code"] == "ALREADY_SHIPPED"
    assert _cancel_calls(cluster) == 1


async def test_a_source_refusal_names_the_input_field_it_concerns(secured, cluster):
    """One unit cancelled at the OMS behind the gateway's back: the cached order offers
    both, the OMS refuses two (QUANTITY_NOT_CANCELLABLE), about the lines."""
    order = _orders(cluster, "just_placed")[11]
    (line,) = order.lines
    assert line.quantities.ordered == 2
    await _eligibility(secured, order)
    async with aiohttp.ClientSession() as http:
        cancel = {"reason": "CUSTOMER", "lines": [{"lineId": line.id, "quantity": 1}]}
        await post(http, f"{cluster.urls['oms']}/orders/{order.id}/cancel", cancel)
    _, body, _ = await _cancel(secured, order, lines=[_line(order, quantity=2)])
    (error,) = body["data"]["orderCancel"]["userErrors"]
    assert (error["field"], error["code"]) == (["lines"], "QUANTITY_NOT_CANCELLABLE")
    quantities = (await _eligibility(secured, order))["lineItems"][0]["quantities"]
    assert quantities == {"cancelled": 1}  # the refusal refreshed the order


SHOPIFY_ADDRESS = """mutation($input: OrderUpdateShippingAddressInput!) {
  orderUpdateShippingAddress(input: $input) { status userErrors { field code } } }"""


async def test_a_vendors_refusal_names_the_input_field_it_concerns(make_dataset):
    """Over Shopify, a country it has no code for (American Samoa, an ISO code the
    gateway's address checks take) is refused about the address's country code."""
    data = make_dataset(orders=100)
    order_id = next(o for o, s in data.scenarios.items() if s == "just_placed")
    async with await start_cluster(data, vendors=True, vendor_rate_per_s=1000) as vendors:
        settings = settings_for({n: vendors.urls[n] for n in ("oms", "inventory", "carrier",
                                                               "ticketing")})  # fmt: skip
        oms = SourceSettings(url=vendors.urls["shopify"], adapter="shopify",
                             credential=SIM_API_KEY)  # fmt: skip
        settings = msgspec.structs.replace(settings, sources={**settings.sources, "oms": oms})
        address = {**NEW_ADDRESS, "countryCode": "AS", "postalCode": "96799"}
        variables = {"input": {"orderId": to_global_id("Order", order_id), "address": address}}
        async with in_process_gateway(settings) as gateway:
            body = await gateway.query(SHOPIFY_ADDRESS, variables)
    assert body["data"]["orderUpdateShippingAddress"] == {
        "status": None,
        "userErrors": [{"field": ["address", "countryCode"], "code": "INVALID_COUNTRY"}],
    }


# --- tickets -------------------------------------------------------------------------

TICKETS = """query($n: String!) { orderByNumber(number: $n) {
  tickets { reference subject status comments { body public } } } }"""
TIMELINE = """query($n: String!) { orderByNumber(number: $n) {
  timeline(first: 100) { edges { node { kind message } } } } }"""


def _tickets_of(cluster, tenant: str, status: TicketStatus) -> list[Ticket]:
    orders = cluster.dataset.orders
    return [
        t
        for ts in cluster.dataset.tickets.values()
        for t in ts
        if t.status is status and orders[t.order_id].account_id == tenant
    ]


def _posts(cluster) -> dict[str, int]:
    paths = cluster.stats("ticketing").paths
    return {path: n for path, n in paths.items() if path in ("/tickets", "/tickets/{id}/comments")}


async def _create(secured, order, key="support_a", **extra):
    variables = {"input": {"orderId": to_global_id("Order", order.id), "subject": "Gift wrap?",
                           "body": "Can you wrap it?", **extra}}  # fmt: skip
    return await secured.post({"query": CREATE, "variables": variables}, key=key)


async def _comment(secured, ticket, key="console", **extra):
    ticket_id = to_global_id("SupportTicket", ticket.order_id, ticket.id)
    variables = {"input": {"ticketId": ticket_id, "body": "We are on it.", "author": "Agent Ann",
                           **extra}}  # fmt: skip
    return await secured.post({"query": COMMENT, "variables": variables}, key=key)


async def _read_tickets(secured, order, key="console"):
    query = {"query": TICKETS, "variables": {"n": order.number}}
    _, body, _ = await secured.post(query, key=key)
    return body["data"]["orderByNumber"]["tickets"]


async def test_create_a_ticket_and_read_it_back(secured, cluster):
    order = _orders(cluster, "delivered", TENANT_A)[0]
    before = await _read_tickets(secured, order, key="app_a")  # now cached
    status, body, _ = await _create(secured, order, priority="HIGH")
    payload = body["data"]["ticketCreate"]
    assert status == 200 and payload["userErrors"] == [], body
    ticket = payload["ticket"]
    assert (ticket["status"], ticket["priority"]) == ("NEW", "HIGH")
    assert ticket["comments"] == [
        {"author": order.customer.name, "body": "Can you wrap it?", "public": True}
    ]
    # The order's cached tickets were invalidated: the next read shows the new one.
    after = await _read_tickets(secured, order, key="app_a")
    assert [t["reference"] for t in after] == [t["reference"] for t in before] + [
        ticket["reference"]
    ]
    assert after[-1]["subject"] == "Gift wrap?"


async def test_comments_and_internal_notes(secured, cluster):
    ticket = _tickets_of(cluster, TENANT_A, TicketStatus.OPEN)[0]
    order = cluster.dataset.orders[ticket.order_id]
    await _read_tickets(secured, order)
    _, body, _ = await _comment(secured, ticket, body="Refund sent")
    payload = body["data"]["ticketAddComment"]
    assert payload["userErrors"] == [], payload
    assert payload["comment"]["body"] == "Refund sent" and payload["comment"]["id"]
    _, body, _ = await _comment(secured, ticket, body="Customer is a VIP", public=False)
    assert body["data"]["ticketAddComment"]["ticket"]["comments"][-1]["body"] == "Customer is a VIP"

    def comments(tickets):
        (found,) = [t for t in tickets if t["reference"] == ticket.id]
        return [c["body"] for c in found["comments"]]

    assert comments(await _read_tickets(secured, order)) == ["Refund sent", "Customer is a VIP"]
    assert comments(await _read_tickets(secured, order, key="app_a")) == ["Refund sent"]
    # Consoles see both in the order's timeline.
    query = {"query": TIMELINE, "variables": {"n": order.number}}
    _, body, _ = await secured.post(query, key="console")
    edges = body["data"]["orderByNumber"]["timeline"]["edges"]
    assert [e["node"]["message"] for e in edges if e["node"]["kind"] == "TICKET_COMMENTED"] == [
        f"Ticket #{ticket.id} comment by Agent Ann",
        f"Ticket #{ticket.id} internal note by Agent Ann",
    ]
    # An app may not write internal notes.
    _, body, _ = await _comment(secured, ticket, key="support_a", public=False)
    (error,) = body["data"]["ticketAddComment"]["userErrors"]
    assert (error["field"], error["code"]) == (["public"], "NOT_ALLOWED")


async def test_a_kept_outcome_is_replayed_only_to_callers_shown_the_same(secured, cluster):
    """A console's internal note, repeated with its idempotency key by an app that sees
    every account: the app is refused as if it asked first, and is not shown the note."""
    ticket = _tickets_of(cluster, TENANT_A, TicketStatus.OPEN)[1]
    note = {"body": "Flagged for fraud review", "public": False, "idempotencyKey": "note-1"}
    _, body, _ = await _comment(secured, ticket, **note)
    assert body["data"]["ticketAddComment"]["comment"]["body"] == note["body"]
    _, body, _ = await _comment(secured, ticket, key="support_all", **note)
    payload = body["data"]["ticketAddComment"]
    assert payload["comment"] is None, payload
    (error,) = payload["userErrors"]
    assert (error["field"], error["code"]) == (["public"], "NOT_ALLOWED")
    _, body, _ = await _comment(secured, ticket, **note)  # the console's repeat: replayed
    assert body["data"]["ticketAddComment"]["comment"]["body"] == note["body"]
    order = cluster.dataset.orders[ticket.order_id]
    (found,) = [t for t in await _read_tickets(secured, order) if t["reference"] == ticket.id]
    assert [c["body"] for c in found["comments"]].count(note["body"]) == 1


async def test_a_comment_reopens_a_solved_ticket(secured, cluster):
    ticket = _tickets_of(cluster, TENANT_A, TicketStatus.SOLVED)[0]
    _, body, _ = await _comment(secured, ticket, key="support_a")
    assert body["data"]["ticketAddComment"]["ticket"]["status"] == "OPEN"


async def test_a_closed_ticket_refuses_comments(secured, cluster):
    ticket = _tickets_of(cluster, TENANT_A, TicketStatus.CLOSED)[0]
    cluster.reset_stats()
    _, body, _ = await _comment(secured, ticket, key="support_a")
    payload = body["data"]["ticketAddComment"]
    assert (payload["ticket"], payload["comment"]) == (None, None)
    assert payload["userErrors"][0]["code"] == "TICKET_CLOSED"
    assert "/tickets/{id}/comments" not in _posts(cluster)


async def test_ticket_mutations_without_their_scope_are_refused_whole(secured, cluster):
    order = _orders(cluster, "delivered", TENANT_A)[1]
    cluster.reset_stats()
    status, body, _ = await _create(secured, order, key="writer_a")
    assert (status, body["errors"][0]["extensions"]["code"]) == (403, "FORBIDDEN")
    ticket = _tickets_of(cluster, TENANT_A, TicketStatus.OPEN)[1]
    status, body, _ = await _comment(secured, ticket, key="writer_a")
    assert (status, body["errors"][0]["extensions"]["code"]) == (403, "FORBIDDEN")
    assert _posts(cluster) == {}


async def test_a_write_only_key_may_write_tickets_but_not_read_them(secured, cluster):
    """tickets:write opens tickets and adds comments; the ticket in their answer (with
    everyone's public comments) needs tickets:read, and asking for it refuses the
    whole mutation before anything is written."""
    order = _orders(cluster, "delivered", TENANT_A)[4]
    ticket = _tickets_of(cluster, TENANT_A, TicketStatus.OPEN)[2]

    def written() -> tuple[int, int]:
        """The order's tickets and the ticket's comments, as the source holds them."""
        tickets = cluster.dataset.tickets
        (now,) = [t for t in tickets[ticket.order_id] if t.id == ticket.id]
        return len(tickets.get(order.id, [])), len(now.comments)

    before = written()
    for status, body, _ in (
        await _create(secured, order, key="ticket_writer_a"),
        await _comment(secured, ticket, key="ticket_writer_a"),
    ):
        assert (status, body["errors"][0]["extensions"]["code"]) == (403, "FORBIDDEN")
    assert written() == before
    create = """mutation($input: TicketCreateInput!) {
      ticketCreate(input: $input) { userErrors { code } } }"""
    comment = """mutation($input: TicketAddCommentInput!) {
      ticketAddComment(input: $input) { comment { author body } userErrors { code } } }"""
    variables = {"input": {"orderId": to_global_id("Order", order.id), "subject": "Late?",
                           "body": "Where is it?"}}  # fmt: skip
    status, body, _ = await secured.post(
        {"query": create, "variables": variables}, key="ticket_writer_a"
    )
    assert status == 200 and body["data"]["ticketCreate"] == {"userErrors": []}, body
    ticket_id = to_global_id("SupportTicket", ticket.order_id, ticket.id)
    variables = {"input": {"ticketId": ticket_id, "body": "Any news?", "author": "Ada"}}
    status, body, _ = await secured.post(
        {"query": comment, "variables": variables}, key="ticket_writer_a"
    )
    payload = body["data"]["ticketAddComment"]
    assert status == 200 and payload["userErrors"] == [], body
    assert payload["comment"] == {"author": "Ada", "body": "Any news?"}
    assert written() == (before[0] + 1, before[1] + 1)


async def test_another_tenants_order_or_ticket_is_not_found(secured, cluster):
    foreign_order = _orders(cluster, "delivered", TENANT_B)[0]
    foreign = _tickets_of(cluster, TENANT_B, TicketStatus.OPEN)[0]
    own_order = _orders(cluster, "delivered", TENANT_A)[2]
    # a ticket of tenant B passed off as one of an order of tenant A
    forged = msgspec.structs.replace(foreign, order_id=own_order.id)
    await _read_tickets(secured, own_order, key="app_a")  # cached: the check reads no source
    cluster.reset_stats()
    _, body, _ = await _create(secured, foreign_order)
    assert body["data"]["ticketCreate"]["userErrors"][0]["code"] == "NOT_FOUND"
    for ticket in (foreign, forged):
        _, body, _ = await _comment(secured, ticket, key="support_a")
        (error,) = body["data"]["ticketAddComment"]["userErrors"]
        assert (error["field"], error["code"]) == (["ticketId"], "NOT_FOUND")
    assert _posts(cluster) == {}


async def test_five_concurrent_creates_open_one_ticket(secured, cluster):
    order = _orders(cluster, "in_transit", TENANT_A)[0]
    cluster.reset_stats()
    answers = await asyncio.gather(
        *(_create(secured, order, idempotencyKey="ticket-7") for _ in range(5))
    )
    payloads = [body["data"]["ticketCreate"] for _, body, _ in answers]
    assert all(payload == payloads[0] for payload in payloads)
    assert payloads[0]["ticket"]["status"] == "NEW"
    assert _posts(cluster) == {"/tickets": 1}
    # The same key with another input is refused, and opens nothing.
    _, body, _ = await _create(secured, order, idempotencyKey="ticket-7", subject="Other")
    assert body["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert _posts(cluster) == {"/tickets": 1}


async def test_the_ticketing_call_is_never_retried(secured, cluster):
    order = _orders(cluster, "in_transit", TENANT_A)[1]
    before = len(cluster.dataset.tickets.get(order.id, []))
    with _failing(cluster, "ticketing"):
        status, body, _ = await _create(secured, order)
    assert status == 200 and body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "SOURCE_UNAVAILABLE"
    assert _posts(cluster) == {"/tickets": 1}
    assert len(cluster.dataset.tickets.get(order.id, [])) == before


async def test_a_refused_ticket_input_keeps_no_key_so_the_corrected_one_goes_through(
    secured, cluster
):
    order = _orders(cluster, "delivered", TENANT_A)[5]
    cluster.reset_stats()
    _, body, _ = await _create(secured, order, body="   ", idempotencyKey="fix-ticket")
    (error,) = body["data"]["ticketCreate"]["userErrors"]
    assert (error["field"], error["code"]) == (["body"], "BLANK")
    _, body, _ = await _create(secured, order, idempotencyKey="fix-ticket")
    assert body["data"]["ticketCreate"]["userErrors"] == [], body
    assert _posts(cluster) == {"/tickets": 1}


async def test_a_ticketing_refusal_refreshes_the_orders_stale_tickets(secured, cluster):
    """Closed at ticketing with no change event: the cached ticket still looks open,
    ticketing refuses the comment, and that refusal invalidates the order's tickets, so
    a retry is refused unsent."""
    ticket = _tickets_of(cluster, TENANT_A, TicketStatus.OPEN)[3]
    order = cluster.dataset.orders[ticket.order_id]
    await _read_tickets(secured, order, key="support_a")  # now cached for tenant A
    async with aiohttp.ClientSession() as http:
        url = f"{cluster.urls['ticketing']}/admin/tickets/{ticket.id}"
        await post(http, url, {"status": "CLOSED"})
    cluster.reset_stats()
    for _ in range(2):
        _, body, _ = await _comment(secured, ticket, key="support_a")
        assert body["data"]["ticketAddComment"]["userErrors"][0]["code"] == "TICKET_CLOSED"
    assert _posts(cluster).get("/tickets/{id}/comments") == 1
    tickets = await _read_tickets(secured, order, key="support_a")
    (read,) = [t for t in tickets if t["reference"] == ticket.id]
    assert read["status"] == "CLOSED"


@pytest.mark.parametrize(
    ("extra", "field", "code"),
    [
        ({"subject": "  "}, "subject", "BLANK"),
        ({"body": ""}, "body", "BLANK"),
        ({"subject": "x" * 201}, "subject", "TOO_LONG"),
        ({"orderId": "nope"}, "orderId", "INVALID_ID"),
    ],
)
async def test_bad_ticket_input_is_a_user_error(secured, cluster, extra, field, code):
    order = _orders(cluster, "delivered", TENANT_A)[3]
    cluster.reset_stats()
    _, body, _ = await _create(secured, order, **extra)
    (error,) = body["data"]["ticketCreate"]["userErrors"]
    assert (error["field"], error["code"]) == ([field], code)
    assert _posts(cluster) == {}


async def test_a_mutation_is_audited_without_its_variables(secured, cluster, caplog):
    order = _orders(cluster, "in_transit", TENANT_A)[0]  # refused as shipped: no change
    query = CANCEL.replace("mutation(", "mutation CancelIt(", 1)
    order_id = to_global_id("Order", order.id)
    variables = {"input": {"orderId": order_id, "reason": "CUSTOMER",
                           "idempotencyKey": "audit-secret-42"}}  # fmt: skip
    with caplog.at_level(logging.INFO, logger="ordergraph.audit"):
        status, body, _ = await secured.post(
            {"query": query, "variables": variables},
            key="writer_a",
            headers={"x-request-id": "mutation-audit-1"},
        )
    assert status == 200 and body["data"]["orderCancel"]["userErrors"]
    (line,) = audit_entries(caplog.records)
    assert datetime.fromisoformat(line["time"]).tzinfo is not None
    assert {key: value for key, value in line.items() if key != "time"} == {
        "outcome": "executed",
        "code": None,
        "keyId": parse_key(secured.keys["writer_a"]).key_id,
        "tenant": TENANT_A,
        "operation": "CancelIt",
        "documentHash": hashlib.sha256(query.encode()).hexdigest(),
        "denied": [],
        "correlationId": "mutation-audit-1",
    }
    audited = [r.getMessage() for r in caplog.records if r.name == "ordergraph.audit"]
    for value in (order_id, order.id, "audit-secret-42"):
        assert value not in f"{audited}{line}"  # never variable values
