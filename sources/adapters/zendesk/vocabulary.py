"""Zendesk's ticket words onto ours and back, and tickets between the two shapes.

Read one way by a Zendesk adapter (vendor JSON to our records), the other way by a
simulated Zendesk API (seeded records to vendor JSON). Pure: no I/O.

Vocabularies, one table each below (Zendesk API reference: Tickets "JSON format" for
status, priority and type, "Via types reference" for channels):

- status: NEW new, OPEN open, PENDING pending (waiting on the requester), ON_HOLD
  hold (waiting on a third party), SOLVED solved, CLOSED closed (read-only);
- priority: LOW low, NORMAL normal, HIGH high, URGENT urgent;
- type: QUESTION question, INCIDENT incident, PROBLEM problem, TASK task;
- channel (``via.channel``): EMAIL email, CHAT chat, PHONE voice (Zendesk's word for
  calls and voicemail), WEB web. Read only: the via types and via ids Zendesk may send
  instead (mail and 4 are EMAIL; 29 CHAT; voicemail, phone_call_inbound,
  phone_call_outbound and 33-35 PHONE; web_form and 0 WEB), and "api" (via type
  web_service, id 5), a ticket opened through the API, ours included, read as WEB.

A Zendesk value the tables do not name falls back (choices of ours, the docs are
silent):

- a status Zendesk may add reads as OPEN: shown as waiting on us, the safe side;
- a priority or type that is null (none set, which Zendesk allows) or unknown reads as
  NORMAL or QUESTION, the defaults of our ``CreateTicketRequest``;
- any other channel (X, Facebook, SMS, messaging, mobile, rule, ...) reads as WEB,
  like "api": our four channels have no better home for them.

Tickets: Zendesk's integer ids are ours as decimal strings (ticket, comment); the
order a ticket is about is a text custom field whose id the deployment configures. A
ticket Zendesk marks "deleted", or without that field, is not one of ours. Zendesk
keeps no agent-page link on a ticket (its ``url`` is the API address), so ours is built
from ``base_url``. A comment's author is a user id: its name comes from the users
side-loaded with the comments (``include=users``), else the id stands for it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping

from sources import records
from sources.adapters.vocabulary import Vocabulary, by_name
from sources.adapters.zendesk import wire
from sources.records import AddCommentRequest, CreateTicketRequest, Ticket, TicketComment

DELETED = "deleted"  # the status of a deleted ticket where Zendesk still lists one

STATUS = Vocabulary(
    by_name(records.TicketStatus, str.lower) | {records.TicketStatus.ON_HOLD: "hold"},
    fallback=records.TicketStatus.OPEN,
)
PRIORITY = Vocabulary(
    by_name(records.TicketPriority, str.lower), fallback=records.TicketPriority.NORMAL
)
TYPE = Vocabulary(by_name(records.TicketType, str.lower), fallback=records.TicketType.QUESTION)
# Zendesk's via types reference: the channel is the "ticket created by" value, or a
# via type (string) or via id (integer) standing for it.
CHANNEL = Vocabulary(
    by_name(records.TicketChannel, str.lower) | {records.TicketChannel.PHONE: "voice"},
    fallback=records.TicketChannel.WEB,
    aliases={
        "mail": records.TicketChannel.EMAIL,
        4: records.TicketChannel.EMAIL,
        29: records.TicketChannel.CHAT,
        "voicemail": records.TicketChannel.PHONE,
        33: records.TicketChannel.PHONE,
        "phone_call_inbound": records.TicketChannel.PHONE,
        34: records.TicketChannel.PHONE,
        "phone_call_outbound": records.TicketChannel.PHONE,
        35: records.TicketChannel.PHONE,
        "web_form": records.TicketChannel.WEB,
        0: records.TicketChannel.WEB,
        "api": records.TicketChannel.WEB,
        "web_service": records.TicketChannel.WEB,
        5: records.TicketChannel.WEB,
    },
)

_ZENDESK_ID = re.compile(r"[1-9][0-9]*")


def ticket_from_zendesk(
    ticket: wire.Ticket,
    comments: Iterable[wire.Comment] | None,
    *,
    order_field_id: int,
    base_url: str,
    users: Mapping[int, str] | None = None,
) -> Ticket | None:
    """Our record of Zendesk's ``ticket`` with its ``comments`` (every page, in any
    order: :func:`comments_from_zendesk`), or None for comments not read yet.

    ``order_field_id`` is the id of the text custom field naming the order; ``base_url``
    where an agent opens tickets, the id left out (``https://acme.zendesk.com/agent/
    tickets``). None for a deleted ticket or one about no order. A merged ticket is
    what Zendesk leaves of it, closed and tagged ``closed_by_merge``: it maps as any
    closed ticket, the tag kept, since its conversation was about the order too (the
    ticket it went into is the order's only if it names the order itself).
    """
    order_id = _order_id(ticket.custom_fields, order_field_id)
    if ticket.status == DELETED or order_id is None:
        return None
    return Ticket(
        id=str(ticket.id),
        order_id=order_id,
        status=STATUS.read(ticket.status),
        priority=PRIORITY.read(ticket.priority),
        type=TYPE.read(ticket.type),
        channel=CHANNEL.read(None if ticket.via is None else ticket.via.channel),
        subject=ticket.subject or "",
        tags=list(ticket.tags),
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        url=f"{base_url.rstrip('/')}/{ticket.id}",
        comments=None if comments is None else comments_from_zendesk(comments, users),
    )


def comments_from_zendesk(
    comments: Iterable[wire.Comment], users: Mapping[int, str] | None = None
) -> list[TicketComment]:
    """Our records of a ticket's ``comments`` (every page, in any order): oldest first,
    internal notes kept with ``public`` false. A comment's author is its user's name
    from ``users`` (side-loaded with ``include=users``), else the user id."""
    ordered = sorted(comments, key=lambda c: (c.created_at, c.id))
    return [_comment_from_zendesk(c, users or {}) for c in ordered]


def zendesk_from_ticket(
    ticket: Ticket, *, order_field_id: int, api_url: str
) -> tuple[wire.Ticket, list[wire.Comment]]:
    """Zendesk's shape of our ``ticket`` and its comments, for a simulated Zendesk
    whose API answers at ``api_url`` (``https://acme.zendesk.com``).

    The inverse of :func:`ticket_from_zendesk` (given the comments' :func:`users`)
    wherever ``ticket.url`` is ``{base_url}/{ticket.id}``: Zendesk carries no
    agent-page link, so it is rebuilt on the way back. Raises ``ValueError`` when an id
    is not a Zendesk id (a positive decimal integer, written without leading zeros).
    """
    ticket_id = _zendesk_id(ticket.id)
    zendesk_ticket = wire.Ticket(
        id=ticket_id,
        url=f"{api_url.rstrip('/')}/api/v2/tickets/{ticket_id}.json",
        subject=ticket.subject,
        status=STATUS.write(ticket.status),
        priority=PRIORITY.write(ticket.priority),
        type=TYPE.write(ticket.type),
        via=wire.Via(channel=CHANNEL.write(ticket.channel)),
        tags=list(ticket.tags),
        custom_fields=[wire.CustomField(id=order_field_id, value=ticket.order_id)],
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
    )
    return zendesk_ticket, [_comment_to_zendesk(c) for c in ticket.comments or ()]


def create_ticket_body(
    request: CreateTicketRequest, *, order_field_id: int, author_id: int | None = None
) -> wire.CreateTicketBody:
    """The body opening our ``request`` as a Zendesk ticket about its order.

    Zendesk names people by user id, so ``request.author`` (a name) cannot be sent:
    pass the user's id as ``author_id`` when the caller knows it, else the API user
    writes the first comment and is the requester. ``request.channel`` is not sent
    either: Zendesk records how a ticket came in (the via object reference advises
    against setting it), here "api", which reads back as WEB.
    """
    return wire.CreateTicketBody(
        ticket=wire.NewTicket(
            subject=request.subject,
            comment=wire.CommentInput(body=request.body, public=True, author_id=author_id),
            priority=PRIORITY.write(request.priority),
            type=TYPE.write(request.type),
            custom_fields=[wire.CustomField(id=order_field_id, value=request.order_id)],
        )
    )


def add_comment_body(
    request: AddCommentRequest, *, author_id: int | None = None
) -> wire.UpdateTicketBody:
    """The body adding our ``request`` as a comment (``PUT /api/v2/tickets/{id}.json``);
    ``author_id`` as in :func:`create_ticket_body`."""
    return wire.UpdateTicketBody(
        ticket=wire.TicketChange(
            comment=wire.CommentInput(body=request.body, public=request.public, author_id=author_id)
        )
    )


def _order_id(fields: Iterable[wire.CustomField], field_id: int) -> str | None:
    """The order the ticket is about: the order field's text, None when the ticket has
    no such field or it is empty (null, blank, or not text)."""
    value = next((f.value for f in fields if f.id == field_id), None)
    if not isinstance(value, str):
        return None
    return value.strip() or None


def users(comments: Iterable[TicketComment]) -> list[wire.User]:
    """The users who wrote ``comments``, as Zendesk side-loads them."""
    named = {user_id(c.author): c.author for c in comments}
    return [wire.User(id=uid, name=name) for uid, name in named.items()]


def user_id(author: str) -> int:
    """The Zendesk user id of our comment ``author``: the id itself when the author is
    one, else a stable one for the name (a simulated Zendesk's user directory)."""
    if _ZENDESK_ID.fullmatch(author):
        return int(author)
    return zlib.crc32(author.encode()) + 1


def _comment_from_zendesk(comment: wire.Comment, users: Mapping[int, str]) -> TicketComment:
    # ``body`` is the comment as written; html_body and plain_body are renderings.
    return TicketComment(
        id=str(comment.id),
        author=users.get(comment.author_id, str(comment.author_id)),
        body=comment.body,
        public=comment.public,
        created_at=comment.created_at,
    )


def _comment_to_zendesk(comment: TicketComment) -> wire.Comment:
    # Our bodies are plain text, so the plain-text rendering is the body itself.
    return wire.Comment(
        id=_zendesk_id(comment.id),
        author_id=user_id(comment.author),
        body=comment.body,
        plain_body=comment.body,
        public=comment.public,
        created_at=comment.created_at,
    )


def _zendesk_id(value: str) -> int:
    """The Zendesk id our ``value`` is the decimal string of; only a canonical one maps
    back unchanged ("052" would return as "52"), so anything else is refused."""
    if _ZENDESK_ID.fullmatch(value) is None:
        raise ValueError(f"{value!r} is not a Zendesk id (a positive decimal integer)")
    return int(value)
