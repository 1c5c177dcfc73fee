"""The Zendesk adapter against the simulated Zendesk API: an order's tickets in one
search, every page of their comments with their authors' names, the two changes and
Zendesk's refusals, and its rate limit (429 with Retry-After) waited out."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import msgspec
import pytest
from msgspec.structs import replace

from sim.app import create_source_app
from sim.cluster import SimCluster
from sim.common import STATS_KEY
from sim.seed import Dataset
from sim.vendors import zendesk as simulated
from sim.vendors.access import VendorAccount
from sources.adapters.contract import tickets_with_comments
from sources.adapters.zendesk.adapter import (
    ORDERS_PER_SEARCH,
    SEARCH_PATH,
    SHOW_MANY_PATH,
    ZendeskTickets,
)
from sources.clients.changes import ChangeRefused, idempotency_key
from sources.clock import ShiftedClock
from sources.options import SourceConfig
from sources.records import (
    TICKET_CLOSED,
    AddCommentRequest,
    CreateTicketRequest,
    TicketComment,
    TicketStatus,
    comments_key,
)
from sources.resilience import deadline
from tests.support.serving import served_aiohttp
from tests.support.timing import TRIES
from tests.support.vendors import next_window

RATE = 10  # calls a second the simulated account takes here


@pytest.fixture(scope="module")
def data(vendors: SimCluster) -> Dataset:
    return vendors.dataset


@pytest.fixture
async def zendesk(vendors: SimCluster) -> AsyncIterator[ZendeskTickets]:
    config = SourceConfig(
        base_url=vendors.urls["zendesk"],
        credential=simulated.CREDENTIAL,
        options=simulated.OPTIONS,
    )
    adapter = ZendeskTickets(config)
    yield adapter
    await adapter.close()


def with_tickets(data: Dataset) -> list[str]:
    return [order_id for order_id, tickets in data.tickets.items() if tickets]


async def test_an_orders_tickets_are_one_search_and_their_comments_a_call_each_apart(
    zendesk: ZendeskTickets, vendors: SimCluster, data: Dataset
):
    orders = [*with_tickets(data)[:2], "ord_without_tickets"]
    vendors.reset_stats()
    answer = await zendesk.tickets_by_orders(orders)
    expected = {o: [replace(t, comments=None) for t in data.tickets[o]] for o in orders[:2]}
    assert answer == {**expected, "ord_without_tickets": []}
    stats = vendors.stats("zendesk")
    assert stats.batch_sizes == {SEARCH_PATH: [3]}
    assert stats.requests - stats.throttled == 1  # one search, no comment read yet
    assert zendesk.batch_size == ORDERS_PER_SEARCH
    tickets = [t for o in orders[:2] for t in data.tickets[o]]
    keys = [comments_key(t.order_id, t.id) for t in tickets]
    vendors.reset_stats()
    comments = await zendesk.comments_by_tickets([*keys, comments_key("ord_x", "99999999")])
    assert comments == {
        **{k: t.comments for k, t in zip(keys, tickets, strict=True)},
        (comments_key("ord_x", "99999999")): None,
    }
    assert set(stats.paths) == {"/api/v2/tickets/{id}/comments.json"}
    assert stats.requests - stats.throttled == len(keys) + 1  # Zendesk: a ticket a call


async def test_every_page_of_comments_comes_back_with_its_authors_names(
    zendesk: ZendeskTickets, data: Dataset
):
    order_id = with_tickets(data)[3]
    ticket = data.tickets[order_id][0]
    comments = [
        TicketComment(
            id=str(7_200_000 + n),
            author=("Ana Ruiz", "Sam Okafor", "42")[n % 3],
            body=f"note {n}",
            public=n % 4 != 0,
            created_at=ticket.created_at + timedelta(minutes=n),
        )
        for n in range(230)  # three pages of 100
    ]
    many = msgspec.structs.replace(ticket, comments=comments)
    data.tickets[order_id] = [many, *data.tickets[order_id][1:]]
    try:
        key = comments_key(order_id, ticket.id)
        read = (await zendesk.comments_by_tickets([key]))[key]
        assert read == comments  # every page, oldest first, private ones kept
    finally:
        data.tickets[order_id] = [ticket, *data.tickets[order_id][1:]]


async def test_a_ticket_is_opened_and_commented_and_a_closed_one_refuses(
    zendesk: ZendeskTickets, data: Dataset
):
    order_id = with_tickets(data)[5]
    opened = await zendesk.create_ticket(
        CreateTicketRequest(order_id=order_id, subject="Where is my parcel?", body="Hello")
    )
    assert (opened.order_id, opened.status, opened.subject) == (
        order_id,
        TicketStatus.NEW,
        "Where is my parcel?",
    )
    assert [c.body for c in opened.comments] == ["Hello"]
    added = await zendesk.add_comment(opened.id, AddCommentRequest(body="Any news?", author="x"))
    assert added.comment.body == "Any news?" and added.ticket.comments[-1] == added.comment
    closed = next(t for ts in data.tickets.values() for t in ts if t.status is TicketStatus.CLOSED)
    with pytest.raises(ChangeRefused) as refused:
        await zendesk.add_comment(closed.id, AddCommentRequest(body="Hello?", author="x"))
    assert refused.value.code == TICKET_CLOSED
    with pytest.raises(ChangeRefused) as refused:
        await zendesk.add_comment("99999999", AddCommentRequest(body="Hello?", author="x"))
    assert refused.value.code == "NOT_FOUND"


async def test_a_repeated_create_under_one_idempotency_key_opens_one_ticket(
    zendesk: ZendeskTickets, data: Dataset
):
    """A ticket opened but not answered (the read-back failed, the mutation with it) is
    asked for again with the same key: Zendesk answers with the ticket it opened."""
    order_id = with_tickets(data)[6]
    request = CreateTicketRequest(order_id=order_id, subject="Damaged box", body="Photo sent")
    with idempotency_key("mutation-key-1"):
        first = await zendesk.create_ticket(request)
        again = await zendesk.create_ticket(request)
    assert again.id == first.id
    assert [t.subject for t in data.tickets[order_id]].count("Damaged box") == 1
    other = await zendesk.create_ticket(request)  # no key: a change of its own
    assert other.id != first.id


async def test_a_ticket_opened_here_is_listed_before_search_finds_it(data: Dataset):
    """Zendesk's search lists a new ticket minutes late (an hour here): the adapter
    that opened it reads it by id meanwhile, in one show_many call; another adapter
    sees what search lists."""
    order_id = next(o for o in data.orders if not data.tickets.get(o))
    account = simulated.account()
    account.search_lag = timedelta(hours=1)
    app = create_source_app("zendesk", data.copy(), clock=ShiftedClock(data.now), account=account)
    async with served_aiohttp(app) as url:
        config = SourceConfig(
            base_url=url, credential=simulated.CREDENTIAL, options=simulated.OPTIONS
        )
        here, elsewhere = ZendeskTickets(config), ZendeskTickets(config)
        try:
            opened = await here.create_ticket(
                CreateTicketRequest(order_id=order_id, subject="Parcel?", body="Hello")
            )
            app[STATS_KEY].reset()
            listed = replace(opened, comments=None)  # read apart
            assert await here.tickets_by_orders([order_id]) == {order_id: [listed]}
            assert app[STATS_KEY].batch_sizes == {SEARCH_PATH: [1], SHOW_MANY_PATH: [1]}
            assert await elsewhere.tickets_by_orders([order_id]) == {order_id: []}
        finally:
            await here.close()
            await elsewhere.close()


async def test_the_rate_limit_is_waited_out(
    zendesk: ZendeskTickets, vendors: SimCluster, data: Dataset
):
    orders = with_tickets(data)[6:14]  # with their comments, more calls than RATE
    read = tickets_with_comments(zendesk)
    await next_window()
    vendors.reset_stats()
    answers = await asyncio.gather(*(read([o]) for o in orders))
    assert answers == [{o: data.tickets[o]} for o in orders]
    assert vendors.stats("zendesk").throttled > 0
    assert zendesk.breaker.state == "closed"


async def test_background_reads_leave_half_the_limit_to_requests(data: Dataset):
    """Zendesk states its limit in its own headers: with 4 of 10 calls left in the
    window, a request's search goes at once; a background one (the exception queue's)
    waits for the window's reset. Tried again if the six calls cross a window."""
    order_id = with_tickets(data)[0]
    app = create_source_app("zendesk", data, account=VendorAccount(limit=10, window_s=1))

    async def in_one_window(zendesk: ZendeskTickets) -> bool:
        await next_window()
        window_end = math.floor(time.time()) + 1
        for _ in range(6):
            await zendesk.tickets_by_orders([order_id])
        if time.time() >= window_end:
            return False

        async def timed() -> float:
            await zendesk.tickets_by_orders([order_id])
            return time.time()

        in_background = deadline.detached(timed(), background=True)
        for_request = await timed()
        assert for_request < window_end <= await in_background
        return True

    async with served_aiohttp(app) as url:
        config = SourceConfig(
            base_url=url, credential=simulated.CREDENTIAL, options=simulated.OPTIONS
        )
        for _ in range(TRIES):
            zendesk = ZendeskTickets(config)
            try:
                if await in_one_window(zendesk):
                    assert app[STATS_KEY].throttled == 0
                    return
            finally:
                await zendesk.close()
    pytest.fail(f"six calls never fit in one window in {TRIES} tries")


@pytest.mark.parametrize(
    ("credential", "options", "problem"),
    [
        (None, simulated.OPTIONS, "OG_TICKETING_CREDENTIAL"),
        ("just-a-token", simulated.OPTIONS, "OG_TICKETING_CREDENTIAL"),
        (simulated.CREDENTIAL, {}, "order_field"),
    ],
)
async def test_the_adapter_needs_its_settings(credential, options, problem):
    config = SourceConfig(base_url="http://127.0.0.1:9", credential=credential, options=options)
    with pytest.raises(ValueError, match=problem):
        ZendeskTickets(config)
