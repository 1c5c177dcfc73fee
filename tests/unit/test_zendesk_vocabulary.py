"""The Zendesk translation layer: every row of every vocabulary both ways and its
fallbacks, the round trip over a seeded data set, and payloads written in the shapes
Zendesk documents (its OpenAPI examples), awkward cases included."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from domain.tickets import AWAITING_OUR_REPLY, UNRESOLVED
from sources.adapters.vocabulary import Vocabulary
from sources.adapters.zendesk import wire
from sources.adapters.zendesk.vocabulary import (
    CHANNEL,
    PRIORITY,
    STATUS,
    TYPE,
    add_comment_body,
    create_ticket_body,
    ticket_from_zendesk,
    user_id,
    users,
    zendesk_from_ticket,
)
from sources.records import (
    AddCommentRequest,
    CreateTicketRequest,
    Ticket,
    TicketChannel,
    TicketComment,
    TicketPriority,
    TicketStatus,
    TicketType,
)
from tests.support.gateways import MakeDataset

ORDER_FIELD = 27642  # the text field of Zendesk's documented example ticket
API_URL = "https://company.zendesk.com"
AGENT_URL = "https://company.zendesk.com/agent/tickets"
SEEDED_URL = "https://support.example.com/tickets"  # sim.catalog.ticket_url, less the id

STATUS_ROWS = [
    (TicketStatus.NEW, "new"),
    (TicketStatus.OPEN, "open"),
    (TicketStatus.PENDING, "pending"),
    (TicketStatus.ON_HOLD, "hold"),
    (TicketStatus.SOLVED, "solved"),
    (TicketStatus.CLOSED, "closed"),
]
PRIORITY_ROWS = [
    (TicketPriority.LOW, "low"),
    (TicketPriority.NORMAL, "normal"),
    (TicketPriority.HIGH, "high"),
    (TicketPriority.URGENT, "urgent"),
]
TYPE_ROWS = [
    (TicketType.QUESTION, "question"),
    (TicketType.INCIDENT, "incident"),
    (TicketType.PROBLEM, "problem"),
    (TicketType.TASK, "task"),
]
CHANNEL_ROWS = [
    (TicketChannel.EMAIL, "email"),
    (TicketChannel.CHAT, "chat"),
    (TicketChannel.PHONE, "voice"),
    (TicketChannel.WEB, "web"),
]
TABLES: list[tuple[Vocabulary[Any], type[enum.Enum], list[tuple[Any, str]]]] = [
    (STATUS, TicketStatus, STATUS_ROWS),
    (PRIORITY, TicketPriority, PRIORITY_ROWS),
    (TYPE, TicketType, TYPE_ROWS),
    (CHANNEL, TicketChannel, CHANNEL_ROWS),
]
ROWS = [
    pytest.param(vocabulary, ours, theirs, id=f"{ours.name}-{theirs}")
    for vocabulary, _, rows in TABLES
    for ours, theirs in rows
]
# Zendesk values read one way only: via types and via ids standing for a channel.
CHANNEL_ALIASES = [
    ("mail", TicketChannel.EMAIL),
    (4, TicketChannel.EMAIL),
    (29, TicketChannel.CHAT),
    ("voicemail", TicketChannel.PHONE),
    (33, TicketChannel.PHONE),
    ("phone_call_inbound", TicketChannel.PHONE),
    (34, TicketChannel.PHONE),
    ("phone_call_outbound", TicketChannel.PHONE),
    (35, TicketChannel.PHONE),
    ("web_form", TicketChannel.WEB),
    (0, TicketChannel.WEB),
    ("api", TicketChannel.WEB),
    ("web_service", TicketChannel.WEB),
    (5, TicketChannel.WEB),
]
FALLBACKS = [
    pytest.param(STATUS, "escalated", TicketStatus.OPEN, id="status-unknown"),
    pytest.param(PRIORITY, None, TicketPriority.NORMAL, id="priority-null"),
    pytest.param(PRIORITY, "critical", TicketPriority.NORMAL, id="priority-unknown"),
    pytest.param(TYPE, None, TicketType.QUESTION, id="type-null"),
    pytest.param(TYPE, "feature_request", TicketType.QUESTION, id="type-unknown"),
    pytest.param(CHANNEL, None, TicketChannel.WEB, id="channel-missing"),
    pytest.param(CHANNEL, "twitter", TicketChannel.WEB, id="channel-unknown"),
    pytest.param(CHANNEL, 38, TicketChannel.WEB, id="channel-unknown-via-id"),
]


@pytest.mark.parametrize(("vocabulary", "ours", "theirs"), ROWS)
def test_each_of_our_values_is_sent_as_zendesks(
    vocabulary: Vocabulary[Any], ours: enum.Enum, theirs: str
) -> None:
    assert vocabulary.write(ours) == theirs


@pytest.mark.parametrize(("vocabulary", "ours", "theirs"), ROWS)
def test_each_zendesk_value_reads_as_ours(
    vocabulary: Vocabulary[Any], ours: enum.Enum, theirs: str
) -> None:
    assert vocabulary.read(theirs) is ours


@pytest.mark.parametrize(
    ("vocabulary", "ours", "rows"), TABLES, ids=[t[1].__name__ for t in TABLES]
)
def test_each_table_pairs_every_value_of_ours_and_no_more(
    vocabulary: Vocabulary[Any], ours: type[enum.Enum], rows: list[tuple[Any, str]]
) -> None:
    assert dict(vocabulary.ours) == dict(rows)
    assert {value for value, _ in rows} == set(ours)


def test_the_channel_aliases_are_these_and_no_more() -> None:
    assert dict(CHANNEL.aliases) == dict(CHANNEL_ALIASES)
    assert not (STATUS.aliases or PRIORITY.aliases or TYPE.aliases)


@pytest.mark.parametrize(("theirs", "ours"), CHANNEL_ALIASES, ids=str)
def test_via_types_and_ids_read_as_their_channel(theirs: str | int, ours: TicketChannel) -> None:
    assert CHANNEL.read(theirs) is ours


@pytest.mark.parametrize(("vocabulary", "theirs", "ours"), FALLBACKS)
def test_values_zendesk_may_add_fall_back(
    vocabulary: Vocabulary[Any], theirs: str | int | None, ours: enum.Enum
) -> None:
    assert vocabulary.read(theirs) is ours


@pytest.mark.parametrize(
    ("theirs", "waiting", "unresolved"),
    [
        ("new", True, True),
        ("open", True, True),
        ("pending", False, True),
        ("hold", False, True),
        ("solved", False, False),
        ("closed", False, False),
    ],
)
def test_zendesk_statuses_read_as_what_they_mean_to_the_rules(
    theirs: str, waiting: bool, unresolved: bool
) -> None:
    """New and open tickets wait on our reply; pending and on-hold ones wait on the
    requester or a third party but are not settled; solved and closed ones are."""
    ours = STATUS.read(theirs)
    assert (ours in AWAITING_OUR_REPLY) is waiting
    assert (ours in UNRESOLVED) is unresolved


# --- round trip ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeded(make_dataset: MakeDataset) -> list[Ticket]:
    data = make_dataset(orders=300)
    return [ticket for tickets in data.tickets.values() for ticket in tickets]


def _through_zendesk(ticket: Ticket) -> Ticket | None:
    """``ticket`` out as Zendesk's JSON and read back, as simulator and adapter would;
    the comments come newest first (as ``sort=-created_at`` lists them)."""
    zendesk_ticket, comments = zendesk_from_ticket(
        ticket, order_field_id=ORDER_FIELD, api_url=API_URL
    )
    return ticket_from_zendesk(
        msgspec.json.decode(msgspec.json.encode(zendesk_ticket), type=wire.Ticket),
        msgspec.json.decode(msgspec.json.encode(comments[::-1]), type=list[wire.Comment]),
        order_field_id=ORDER_FIELD,
        base_url=SEEDED_URL,
    )


def test_every_seeded_ticket_survives_the_round_trip(seeded: list[Ticket]) -> None:
    assert len(seeded) > 100
    assert {t.status for t in seeded} == set(TicketStatus)  # every status is exercised
    assert {t.channel for t in seeded} == set(TicketChannel)
    assert [_through_zendesk(t) for t in seeded] == seeded


OURS = Ticket(
    id="52001",
    order_id="ord_811127",
    status=TicketStatus.ON_HOLD,
    priority=TicketPriority.URGENT,
    type=TicketType.PROBLEM,
    channel=TicketChannel.PHONE,
    subject="Order #1001 lost in transit",
    tags=["lost-package", "claim"],
    created_at=datetime(2026, 11, 18, 9, 30, tzinfo=UTC),
    updated_at=datetime(2026, 11, 19, 16, 5, 12, tzinfo=UTC),
    url=f"{SEEDED_URL}/52001",
    comments=[
        TicketComment(
            id="7100001",
            author="90001",
            body="My parcel never arrived.",
            created_at=datetime(2026, 11, 18, 9, 30, tzinfo=UTC),
        ),
        TicketComment(
            id="7100002",
            author="90002",
            body="Claim filed with the carrier.",
            public=False,
            created_at=datetime(2026, 11, 18, 9, 30, tzinfo=UTC),  # same second: id decides
        ),
        TicketComment(
            id="7100003",
            author="90002",
            body="We are reshipping your order.",
            created_at=datetime(2026, 11, 19, 16, 5, 12, tzinfo=UTC),
        ),
    ],
)


def test_comments_survive_the_round_trip_private_ones_private() -> None:
    assert _through_zendesk(OURS) == OURS


def test_our_ticket_in_zendesks_shape() -> None:
    zendesk_ticket, comments = zendesk_from_ticket(
        OURS, order_field_id=ORDER_FIELD, api_url=API_URL
    )
    sent = msgspec.json.decode(msgspec.json.encode(zendesk_ticket))
    assert {k: sent[k] for k in ("id", "url", "status", "priority", "type", "via")} == {
        "id": 52001,
        "url": "https://company.zendesk.com/api/v2/tickets/52001.json",
        "status": "hold",
        "priority": "urgent",
        "type": "problem",
        "via": {"channel": "voice"},
    }
    assert sent["custom_fields"] == [{"id": ORDER_FIELD, "value": "ord_811127"}]
    assert sent["updated_at"] == "2026-11-19T16:05:12Z"
    assert msgspec.json.decode(msgspec.json.encode(comments[1])) == {
        "id": 7100002,
        "author_id": 90002,
        "body": "Claim filed with the carrier.",
        "plain_body": "Claim filed with the carrier.",
        "public": False,
        "created_at": "2026-11-18T09:30:00Z",
    }


NAMED_AUTHOR = TicketComment(
    id="7100001", author="Jane Doe", body="Hi", created_at=datetime(2026, 1, 1, tzinfo=UTC)
)


def test_an_author_by_name_travels_as_a_side_loaded_user() -> None:
    """Zendesk names a comment's author by user id; with the users side-loaded
    (include=users) the name comes back, without them the id does."""
    ours = msgspec.structs.replace(OURS, comments=[NAMED_AUTHOR])
    ticket, comments = zendesk_from_ticket(ours, order_field_id=ORDER_FIELD, api_url=API_URL)
    (user,) = users(ours.comments)
    assert (user.name, comments[0].author_id) == ("Jane Doe", user.id) and user.id > 0
    back = ticket_from_zendesk(
        ticket,
        comments,
        order_field_id=ORDER_FIELD,
        base_url=SEEDED_URL,
        users={user.id: user.name},
    )
    assert back is not None and back.comments == [NAMED_AUTHOR]
    bare = ticket_from_zendesk(ticket, comments, order_field_id=ORDER_FIELD, base_url=SEEDED_URL)
    assert bare is not None and bare.comments[0].author == str(user.id)
    assert user_id("90002") == 90002 and user_id("Jane Doe") == user.id


@pytest.mark.parametrize(
    "change",
    [{"id": "T-52001"}, {"id": "052001"}],
    ids=["ticket-id-not-numeric", "ticket-id-leading-zero"],
)
def test_what_zendesk_cannot_carry_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not a Zendesk id"):
        zendesk_from_ticket(
            msgspec.structs.replace(OURS, **change), order_field_id=ORDER_FIELD, api_url=API_URL
        )


# --- documented payloads -------------------------------------------------------------

# "Show Multiple Tickets": TicketsResponse around the TicketObject example of Zendesk's
# OpenAPI document, unread fields and all.
SHOW_MANY = """
{
  "tickets": [
    {
      "assignee_id": 235323,
      "collaborator_ids": [35334, 234],
      "created_at": "2009-07-20T22:55:29Z",
      "custom_fields": [{"id": 27642, "value": "745"}, {"id": 27648, "value": "yes"}],
      "custom_status_id": 123,
      "description": "The fire is very colorful.",
      "due_at": null,
      "external_id": "ahg35h3jh",
      "follower_ids": [35334, 234],
      "from_messaging_channel": false,
      "group_id": 98738,
      "has_incidents": false,
      "id": 35436,
      "organization_id": 509974,
      "priority": "high",
      "problem_id": 9873764,
      "raw_subject": "{{dc.printer_on_fire}}",
      "recipient": "support@company.com",
      "requester_id": 20978392,
      "satisfaction_rating": {"comment": "Great support!", "id": 1234, "score": "good"},
      "sharing_agreement_ids": [84432],
      "status": "open",
      "subject": "Help, my printer is on fire!",
      "submitter_id": 76872,
      "tags": ["enterprise", "other_tag"],
      "type": "incident",
      "updated_at": "2011-05-05T10:38:52Z",
      "url": "https://company.zendesk.com/api/v2/tickets/35436.json",
      "via": {"channel": "web"}
    }
  ]
}
"""


def _ticket(**changes: Any) -> wire.Ticket:
    """The documented example ticket with ``changes`` to its JSON."""
    document = msgspec.json.decode(SHOW_MANY)["tickets"][0] | changes
    return msgspec.json.decode(msgspec.json.encode(document), type=wire.Ticket)


def _read(ticket: wire.Ticket, comments: list[wire.Comment] | None = None) -> Ticket | None:
    return ticket_from_zendesk(
        ticket, comments or [], order_field_id=ORDER_FIELD, base_url=AGENT_URL
    )


def test_the_documented_ticket_reads_as_ours() -> None:
    [ticket] = msgspec.json.decode(SHOW_MANY, type=wire.Tickets).tickets
    assert _read(ticket) == Ticket(
        id="35436",
        order_id="745",
        status=TicketStatus.OPEN,
        priority=TicketPriority.HIGH,
        type=TicketType.INCIDENT,
        channel=TicketChannel.WEB,
        subject="Help, my printer is on fire!",
        tags=["enterprise", "other_tag"],
        created_at=datetime(2009, 7, 20, 22, 55, 29, tzinfo=UTC),
        updated_at=datetime(2011, 5, 5, 10, 38, 52, tzinfo=UTC),
        url="https://company.zendesk.com/agent/tickets/35436",
    )


@pytest.mark.parametrize("base_url", [AGENT_URL, f"{AGENT_URL}/"])
def test_the_agent_link_is_base_url_and_id(base_url: str) -> None:
    ticket = ticket_from_zendesk(_ticket(), [], order_field_id=ORDER_FIELD, base_url=base_url)
    assert ticket is not None
    assert ticket.url == "https://company.zendesk.com/agent/tickets/35436"


@pytest.mark.parametrize("api_url", [API_URL, f"{API_URL}/"])
def test_the_api_address_is_api_url_and_id(api_url: str) -> None:
    zendesk_ticket, _ = zendesk_from_ticket(OURS, order_field_id=ORDER_FIELD, api_url=api_url)
    assert zendesk_ticket.url == "https://company.zendesk.com/api/v2/tickets/52001.json"


def test_a_merged_ticket_reads_closed_with_its_merge_tag() -> None:
    ticket = _read(_ticket(status="closed", tags=["closed_by_merge", "enterprise"]))
    assert ticket is not None
    assert ticket.status is TicketStatus.CLOSED
    assert ticket.tags == ["closed_by_merge", "enterprise"]
    assert ticket.status not in UNRESOLVED


def test_a_deleted_ticket_is_not_ours() -> None:
    assert _read(_ticket(status="deleted")) is None


@pytest.mark.parametrize(
    "custom_fields",
    [
        [{"id": 27648, "value": "yes"}],
        [],
        [{"id": 27642, "value": None}],
        [{"id": 27642, "value": "  "}],
        [{"id": 27642, "value": 745}],
    ],
    ids=["other-field-only", "no-fields", "order-field-null", "order-field-blank", "not-text"],
)
def test_a_ticket_about_no_order_is_not_ours(custom_fields: list[dict[str, Any]]) -> None:
    assert _read(_ticket(custom_fields=custom_fields)) is None


def test_null_priority_and_type_read_as_our_defaults() -> None:
    ticket = _read(_ticket(priority=None, type=None))
    assert ticket is not None
    assert (ticket.priority, ticket.type) == (TicketPriority.NORMAL, TicketType.QUESTION)


def test_a_via_id_and_a_ticket_without_subject_decode() -> None:
    document = msgspec.json.decode(SHOW_MANY)["tickets"][0]
    del document["subject"]
    document["via"] = {"channel": 4, "source": {"from": {}, "rel": None, "to": {}}}
    ticket = _read(msgspec.json.decode(msgspec.json.encode(document), type=wire.Ticket))
    assert ticket is not None
    assert (ticket.channel, ticket.subject) == (TicketChannel.EMAIL, "")


# "List Comments" with cursor pagination (page[size]=2&sort=-created_at): newest first,
# more to come; the second comment is an internal note.
COMMENTS_PAGE = """
{
  "comments": [
    {
      "attachments": [],
      "audit_id": 444,
      "author_id": 235323,
      "body": "Checked with the carrier: the parcel is held in customs.",
      "created_at": "2009-07-21T09:12:00Z",
      "html_body": "<div class=\\"zd-comment\\" dir=\\"auto\\">Checked with the carrier</div>",
      "id": 1275,
      "metadata": {"system": {"client": "Zendesk API"}},
      "plain_body": "Checked with the carrier: the parcel is held in customs.",
      "public": false,
      "type": "Comment",
      "via": {"channel": "web", "source": {"from": {}, "rel": null, "to": {}}}
    },
    {
      "attachments": [
        {
          "content_type": "text/plain",
          "content_url": "https://company.zendesk.com/attachments/crash.log",
          "file_name": "crash.log",
          "id": 498483,
          "size": 2532,
          "thumbnails": []
        }
      ],
      "author_id": 123123,
      "body": "Thanks for your help!",
      "created_at": "2009-07-20T22:55:29Z",
      "id": 1274,
      "public": true,
      "type": "Comment"
    }
  ],
  "meta": {"has_more": true, "after_cursor": "xxx", "before_cursor": "yyy"},
  "links": {
    "next": "https://company.zendesk.com/api/v2/tickets/35436/comments.json?page[size]=2&page[after]=xxx",
    "prev": "https://company.zendesk.com/api/v2/tickets/35436/comments.json?page[size]=2&page[before]=yyy"
  }
}
"""


def test_a_comments_page_says_where_the_next_one_starts() -> None:
    page = msgspec.json.decode(COMMENTS_PAGE, type=wire.CommentsPage)
    assert (page.meta.has_more, page.meta.after_cursor, page.meta.before_cursor) == (
        True,
        "xxx",
        "yyy",
    )
    assert page.links.next is not None
    assert page.links.next.endswith("page[after]=xxx")


def test_comments_read_oldest_first_with_internal_notes_private() -> None:
    page = msgspec.json.decode(COMMENTS_PAGE, type=wire.CommentsPage)
    ticket = _read(_ticket(), page.comments)
    assert ticket is not None
    assert ticket.comments == [
        TicketComment(
            id="1274",
            author="123123",
            body="Thanks for your help!",
            public=True,
            created_at=datetime(2009, 7, 20, 22, 55, 29, tzinfo=UTC),
        ),
        TicketComment(
            id="1275",
            author="235323",
            body="Checked with the carrier: the parcel is held in customs.",
            public=False,
            created_at=datetime(2009, 7, 21, 9, 12, tzinfo=UTC),
        ),
    ]


# "List Search Results" for type:ticket custom_field_27642:745: offset pagination.
SEARCH_PAGE = """
{
  "count": 3,
  "facets": null,
  "next_page": "https://company.zendesk.com/api/v2/search.json?page=2&query=type%3Aticket",
  "previous_page": null,
  "results": [
    {
      "created_at": "2009-07-20T22:55:29Z",
      "custom_fields": [{"id": 27642, "value": "745"}],
      "id": 35436,
      "priority": null,
      "result_type": "ticket",
      "status": "pending",
      "subject": "Help, my printer is on fire!",
      "tags": [],
      "type": null,
      "updated_at": "2011-05-05T10:38:52Z",
      "url": "https://company.zendesk.com/api/v2/tickets/35436.json",
      "via": {"channel": "email"}
    }
  ]
}
"""


def test_a_search_page_reads_as_tickets_of_the_order() -> None:
    page = msgspec.json.decode(SEARCH_PAGE, type=wire.SearchPage)
    assert (page.count, page.previous_page) == (3, None)
    assert page.next_page is not None
    [ticket] = [_read(t) for t in page.results]
    assert ticket is not None
    assert (ticket.order_id, ticket.status, ticket.channel) == (
        "745",
        TicketStatus.PENDING,
        TicketChannel.EMAIL,
    )


def test_errors_decode() -> None:
    not_found = msgspec.json.decode(
        '{"error": "RecordNotFound", "description": "Not found"}', type=wire.Error
    )
    assert (not_found.error, not_found.description, not_found.details) == (
        "RecordNotFound",
        "Not found",
        None,
    )
    invalid = msgspec.json.decode(
        '{"error": "RecordInvalid", "description": "Record validation errors", "details":'
        ' {"status": [{"description": "Status: closed prevents ticket update"}]}}',
        type=wire.Error,
    )
    assert invalid.details is not None
    assert invalid.details["status"][0].description == "Status: closed prevents ticket update"


# --- request bodies --------------------------------------------------------------------


def _sent(body: msgspec.Struct) -> Any:
    return msgspec.json.decode(msgspec.json.encode(body))


def test_a_new_ticket_is_sent_with_its_order_field() -> None:
    request = CreateTicketRequest(
        order_id="ord_811127",
        subject="Where is my order #1001?",
        body="It has not moved for a week.",
        author="Jane Doe",
        priority=TicketPriority.HIGH,
        type=TicketType.INCIDENT,
        channel=TicketChannel.PHONE,
    )
    assert _sent(create_ticket_body(request, order_field_id=ORDER_FIELD)) == {
        "ticket": {
            "subject": "Where is my order #1001?",
            "comment": {"body": "It has not moved for a week.", "public": True},
            "priority": "high",
            "type": "incident",
            "custom_fields": [{"id": ORDER_FIELD, "value": "ord_811127"}],
        }
    }


@pytest.mark.parametrize("public", [True, False])
def test_a_comment_is_sent_public_or_not_always_said(public: bool) -> None:
    request = AddCommentRequest(body="Reshipped today.", author="Sam", public=public)
    assert _sent(add_comment_body(request)) == {
        "ticket": {"comment": {"body": "Reshipped today.", "public": public}}
    }


def test_a_known_author_is_sent_as_the_user() -> None:
    request = AddCommentRequest(body="Reshipped today.", author="Sam")
    sent = _sent(add_comment_body(request, author_id=494820284))
    assert sent["ticket"]["comment"]["author_id"] == 494820284


def test_the_answer_to_a_create_decodes() -> None:
    document = {"ticket": msgspec.json.decode(SHOW_MANY)["tickets"][0]}
    answer = msgspec.json.decode(msgspec.json.encode(document), type=wire.TicketAnswer)
    assert answer.ticket.id == 35436
