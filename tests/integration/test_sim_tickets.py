"""The ticketing source's changing data endpoints: new tickets and comments.

The module runs on a data set of its own (changes stay here) with a loopback webhook
receiver that verifies every delivery.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import msgspec
import pytest
import pytest_asyncio

from sim.cluster import SimCluster
from sim.faults import FaultSpec
from sim.seed import Dataset
from sources.clients.changes import ChangeRefused
from sources.clients.ticketing import TicketingClient
from sources.events import EventType
from sources.failures import SOURCE_UNAVAILABLE, SourceError
from sources.options import SourceConfig
from sources.records import (
    AddCommentRequest,
    CommentAdded,
    CreateTicketRequest,
    Ticket,
    TicketBatch,
    TicketChannel,
    TicketPriority,
    TicketStatus,
    TicketType,
)
from tests.support.gateways import MakeDataset
from tests.support.sim_http import get, post, post_error
from tests.support.webhook_receiver import Receiver

pytestmark = pytest.mark.usefixtures("quiet_receiver")


@pytest.fixture(scope="module")
def data(make_dataset: MakeDataset) -> Dataset:
    return make_dataset(seed=11, orders=300)


@pytest_asyncio.fixture
async def client(cluster: SimCluster) -> AsyncIterator[TicketingClient]:
    ticketing = TicketingClient(SourceConfig(base_url=cluster.urls["ticketing"]))
    yield ticketing
    await ticketing.close()


def url(cluster: SimCluster, path: str) -> str:
    return cluster.urls["ticketing"] + path


async def tickets_of(cluster: SimCluster, http: aiohttp.ClientSession, order_id: str) -> list:
    batch = await get(http, url(cluster, "/tickets"), {"orderIds": order_id}, TicketBatch)
    (entry,) = batch.data
    return entry.tickets


async def create(cluster: SimCluster, http: aiohttp.ClientSession, body: object) -> Ticket:
    payload = await post(http, url(cluster, "/tickets"), body, status=201)
    return msgspec.json.decode(payload, type=Ticket)


async def comment(
    cluster: SimCluster, http: aiohttp.ClientSession, ticket_id: str, body: object
) -> CommentAdded:
    path = url(cluster, f"/tickets/{ticket_id}/comments")
    return msgspec.json.decode(await post(http, path, body, status=201), type=CommentAdded)


def ticket_with(data: Dataset, status: TicketStatus) -> Ticket:
    return next(t for ts in data.tickets.values() for t in ts if t.status is status)


async def test_create_a_ticket_with_defaults(
    cluster: SimCluster, http: aiohttp.ClientSession, receiver: Receiver, data: Dataset
) -> None:
    order = data.orders[next(o for o in data.orders if o not in data.tickets)]
    cluster.reset_stats()
    body = {"orderId": order.id, "subject": "Gift wrap?", "body": "Can you wrap it?"}
    ticket = await create(cluster, http, body)

    assert await tickets_of(cluster, http, order.id) == [ticket]
    assert (ticket.order_id, ticket.subject, ticket.status) == (
        order.id,
        "Gift wrap?",
        TicketStatus.NEW,
    )
    assert (ticket.priority, ticket.type, ticket.channel) == (
        TicketPriority.NORMAL,
        TicketType.QUESTION,
        TicketChannel.WEB,
    )
    assert int(ticket.id) > max(
        int(t.id) for ts in data.tickets.values() for t in ts if t != ticket
    )
    assert ticket.url.endswith(f"/tickets/{ticket.id}")
    (first,) = ticket.comments
    assert (first.author, first.body, first.public) == (order.customer.name, body["body"], True)
    assert first.created_at == ticket.created_at == ticket.updated_at > order.placed_at
    verified = await receiver.next("ticketing", EventType.TICKET_UPDATED)
    assert (verified.event.order_id, verified.event.ticket_id) == (order.id, ticket.id)
    assert cluster.stats("ticketing").paths == {"/tickets": 2}  # the POST and the GET


async def test_create_with_every_field(
    cluster: SimCluster, http: aiohttp.ClientSession, receiver: Receiver, data: Dataset
) -> None:
    order_id, before = next(iter(data.tickets.items()))
    before = list(before)
    body = {"orderId": order_id, "subject": "Broken", "body": "It arrived broken.",
            "author": "Agent Smith", "priority": "URGENT", "type": "INCIDENT",
            "channel": "PHONE"}  # fmt: skip
    ticket = await create(cluster, http, body)
    assert await tickets_of(cluster, http, order_id) == [*before, ticket]
    assert (ticket.priority, ticket.type, ticket.channel) == (
        TicketPriority.URGENT,
        TicketType.INCIDENT,
        TicketChannel.PHONE,
    )
    assert ticket.comments[0].author == "Agent Smith"
    await receiver.next("ticketing", EventType.TICKET_UPDATED)


async def test_create_for_an_unknown_order(
    cluster: SimCluster, http: aiohttp.ClientSession
) -> None:
    body = {"orderId": "nope", "subject": "Hello", "body": "Where is it?"}
    await post_error(http, url(cluster, "/tickets"), body, 404, "ORDER_NOT_FOUND")


@pytest.mark.parametrize(
    "body",
    [
        None,
        {"subject": "Hello", "body": "x"},  # no orderId
        {"orderId": "ORDER", "body": "x"},  # no subject
        {"orderId": "ORDER", "subject": "   ", "body": "x"},
        {"orderId": "ORDER", "subject": "Hello", "body": ""},
        {"orderId": "ORDER", "subject": "x" * 201, "body": "x"},
        {"orderId": "ORDER", "subject": "Hello", "body": "x", "priority": "HUGE"},
        {"orderId": "ORDER", "subject": "Hello", "body": "x", "status": "OPEN"},
    ],
)
async def test_create_bad_bodies(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset, body: object
) -> None:
    order_id = next(iter(data.orders))
    raw = msgspec.json.encode(body).replace(b'"ORDER"', f'"{order_id}"'.encode())
    before = data.encode()
    await post_error(http, url(cluster, "/tickets"), raw, 400, "BAD_REQUEST")
    assert data.encode() == before


async def test_add_comments(
    cluster: SimCluster, http: aiohttp.ClientSession, receiver: Receiver, data: Dataset
) -> None:
    ticket = ticket_with(data, TicketStatus.OPEN)
    cluster.reset_stats()
    added = await comment(cluster, http, ticket.id, {"body": "On it.", "author": "Agent Smith"})
    private = {"body": "Check the carrier", "author": "Agent Smith", "public": False}
    note = await comment(cluster, http, ticket.id, private)

    assert (added.comment.body, added.comment.public) == ("On it.", True)
    assert (note.comment.public, note.ticket.comments) == (False, [added.comment, note.comment])
    assert note.ticket.status is TicketStatus.OPEN
    assert added.comment.created_at == added.ticket.updated_at > ticket.updated_at
    assert note.comment.created_at > added.comment.created_at
    assert int(note.comment.id) == int(added.comment.id) + 1
    (current,) = [t for t in await tickets_of(cluster, http, ticket.order_id) if t.id == ticket.id]
    assert current == note.ticket
    for _ in range(2):
        verified = await receiver.next("ticketing", EventType.TICKET_UPDATED)
        assert (verified.event.order_id, verified.event.ticket_id) == (ticket.order_id, ticket.id)
    assert cluster.stats("ticketing").paths["/tickets/{id}/comments"] == 2


async def test_a_comment_reopens_a_solved_ticket(
    cluster: SimCluster, http: aiohttp.ClientSession, receiver: Receiver, data: Dataset
) -> None:
    ticket = ticket_with(data, TicketStatus.SOLVED)
    added = await comment(cluster, http, ticket.id, {"body": "Still broken", "author": "Ann"})
    assert added.ticket.status is TicketStatus.OPEN
    await receiver.next("ticketing", EventType.TICKET_UPDATED)


async def test_a_closed_ticket_refuses_comments(
    cluster: SimCluster, http: aiohttp.ClientSession, data: Dataset
) -> None:
    ticket = ticket_with(data, TicketStatus.CLOSED)
    before = data.encode()
    path = url(cluster, f"/tickets/{ticket.id}/comments")
    await post_error(http, path, {"body": "Hello?", "author": "Ann"}, 409, "TICKET_CLOSED")
    assert data.encode() == before


@pytest.mark.parametrize(
    ("ticket", "body", "status", "code"),
    [
        ("nope", {"body": "Hello", "author": "Ann"}, 404, "NOT_FOUND"),
        ("OPEN", {"body": "Hello"}, 400, "BAD_REQUEST"),  # no author
        ("OPEN", {"body": " ", "author": "Ann"}, 400, "BAD_REQUEST"),
        ("OPEN", {"body": "Hello", "author": "Ann", "public": "yes"}, 400, "BAD_REQUEST"),
    ],
)
async def test_comment_refusals(
    cluster: SimCluster,
    http: aiohttp.ClientSession,
    data: Dataset,
    ticket: str,
    body: object,
    status: int,
    code: str,
) -> None:
    ticket_id = ticket_with(data, TicketStatus.OPEN).id if ticket == "OPEN" else ticket
    before = data.encode()
    await post_error(http, url(cluster, f"/tickets/{ticket_id}/comments"), body, status, code)
    assert data.encode() == before


# --- client --------------------------------------------------------------------------


async def test_client_creates_and_comments(
    client: TicketingClient, receiver: Receiver, data: Dataset
) -> None:
    order_id = data.order_ids("lost")[0]
    request = CreateTicketRequest(order_id=order_id, subject="Lost?", body="Nothing came.")
    ticket = await client.create_ticket(request)
    assert ticket in data.tickets[order_id] and ticket.status is TicketStatus.NEW
    added = await client.add_comment(ticket.id, AddCommentRequest(body="Found it", author="Ann"))
    assert added.ticket.comments[-1] == added.comment and added.comment.author == "Ann"
    for _ in range(2):
        await receiver.next("ticketing", EventType.TICKET_UPDATED)


@pytest.mark.parametrize("case", ["unknown order", "unknown ticket", "closed ticket"])
async def test_client_refusals(client: TicketingClient, data: Dataset, case: str) -> None:
    comment = AddCommentRequest(body="Hello?", author="Ann")
    with pytest.raises(ChangeRefused) as refused:
        if case == "unknown order":
            await client.create_ticket(CreateTicketRequest(order_id="nope", subject="a", body="b"))
        elif case == "unknown ticket":
            await client.add_comment("nope", comment)
        else:
            await client.add_comment(ticket_with(data, TicketStatus.CLOSED).id, comment)
    expected = {"unknown order": "ORDER_NOT_FOUND", "unknown ticket": "NOT_FOUND"}
    assert refused.value.code == expected.get(case, "TICKET_CLOSED")
    assert (refused.value.source, refused.value.retryable) == ("ticketing", False)
    assert client.breaker.state == "closed"


async def test_client_changes_are_never_retried(
    cluster: SimCluster, client: TicketingClient, data: Dataset
) -> None:
    order_id = next(iter(data.orders))
    before = data.encode()
    cluster.reset_stats()
    cluster.set_faults("ticketing", FaultSpec(error_rate=1.0, error_status=503))
    try:
        with pytest.raises(SourceError) as created:
            await client.create_ticket(
                CreateTicketRequest(order_id=order_id, subject="a", body="b")
            )
        ticket_id = ticket_with(data, TicketStatus.OPEN).id
        with pytest.raises(SourceError) as commented:
            await client.add_comment(ticket_id, AddCommentRequest(body="b", author="Ann"))
    finally:
        cluster.set_faults("ticketing", None)
    for failed in (created, commented):
        assert failed.value.code == SOURCE_UNAVAILABLE and failed.value.transient
    assert cluster.stats("ticketing").paths == {"/tickets": 1, "/tickets/{id}/comments": 1}
    assert data.encode() == before
