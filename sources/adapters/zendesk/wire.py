"""Zendesk Support API JSON, as far as the gateway reads or writes it.

Shapes follow Zendesk's API reference (its OpenAPI document: Tickets ``TicketObject``,
"Show Multiple Tickets", Ticket Comments ``TicketCommentObject`` and "List Comments",
Search "List Search Results"; the "Pagination" introduction for cursor pages; the
"Via object reference"). Names are Zendesk's own snake_case, so no ``rename``. Fields
the gateway does not use are not declared and msgspec skips them. Vocabulary values
(status, priority, type, via channel) stay plain strings here, so that a value
Zendesk adds later still decodes: :mod:`.vocabulary` maps them, with a fallback.

Answers keep their nulls when encoded (the simulated API sends ``"priority": null``
as Zendesk does); request bodies leave out what is unset.
"""

from __future__ import annotations

import msgspec

from sources.records import Instant

# A custom field's value: a string for text fields, and per field type a number, a
# boolean (checkbox), a list of option tags (multi-select) or null when unset.
CustomFieldValue = str | int | float | bool | list[str] | None
PAGE_SIZE = 100  # the most the Search, show_many and comments APIs answer in a page


class Wire(msgspec.Struct, frozen=True, kw_only=True):
    """Base of Zendesk's objects: snake_case, as sent."""


class Via(Wire, frozen=True, kw_only=True):
    """How a ticket was created. The via object reference documents ``channel`` as a
    via type (a string such as "web", "email", "mail") or a via id (an integer)."""

    channel: str | int


class CustomField(Wire, frozen=True, kw_only=True):
    id: int
    value: CustomFieldValue = None


class Ticket(Wire, frozen=True, kw_only=True):
    id: int
    url: str | None = None  # the ticket's API address, not the agent's page
    # The reference does not say a subject is never null: a null one reads as "".
    subject: str | None = None
    # new, open, pending, hold, solved or closed (the status category when custom
    # statuses are on); "deleted" in the exports that still list deleted tickets.
    status: str
    priority: str | None = None  # urgent, high, normal, low; null when unset
    type: str | None = None  # problem, incident, question, task; null when unset
    via: Via | None = None
    tags: list[str] = []
    custom_fields: list[CustomField] = []
    created_at: Instant
    updated_at: Instant


class Comment(Wire, frozen=True, kw_only=True):
    id: int
    author_id: int  # a Zendesk user id
    body: str  # "the comment string"
    plain_body: str | None = None  # "the comment presented as plain text" (read-only)
    public: bool  # false: an internal note, for agents only
    created_at: Instant


class Tickets(Wire, frozen=True, kw_only=True):
    """Answer of ``GET /api/v2/tickets/show_many.json?ids=...``: the tickets found, in
    no promised order; an id Zendesk does not have (or deleted) is simply absent."""

    tickets: list[Ticket]


class TicketAnswer(Wire, frozen=True, kw_only=True):
    """Answer of creating (201) or updating (200) a ticket; an update also carries the
    ``audit``, not read here."""

    ticket: Ticket


class CursorMeta(Wire, frozen=True, kw_only=True):
    has_more: bool
    after_cursor: str | None = None
    before_cursor: str | None = None


class CursorLinks(Wire, frozen=True, kw_only=True):
    next: str | None = None
    prev: str | None = None


class User(Wire, frozen=True, kw_only=True):
    id: int
    name: str


class CommentsPage(Wire, frozen=True, kw_only=True):
    """One cursor page of ``GET /api/v2/tickets/{id}/comments.json?page[size]=n``:
    ascending by creation unless ``sort=-created_at`` was asked; the next page is
    ``page[after]=meta.after_cursor`` (or ``links.next``) while ``meta.has_more``.
    With ``include=users`` the comments' authors are side-loaded in ``users``."""

    comments: list[Comment]
    meta: CursorMeta
    links: CursorLinks
    users: list[User] = []


class TicketsPage(Wire, frozen=True, kw_only=True):
    """Answer of ``GET /api/v2/tickets/show_many.json?ids=1,2`` (100 ids at most): the
    tickets found; an unknown or deleted id is left out."""

    tickets: list[Ticket]


class SearchPage(Wire, frozen=True, kw_only=True):
    """One page of ``GET /api/v2/search.json?query=type:ticket ...`` (offset
    pagination only). With ``type:ticket`` every result is a ticket (its extra
    ``result_type`` is skipped); ``count`` is over every page."""

    results: list[Ticket]
    next_page: str | None = None
    previous_page: str | None = None
    count: int


class ErrorDetail(Wire, frozen=True, kw_only=True):
    description: str
    error: str | None = None


class Error(Wire, frozen=True, kw_only=True):
    """Zendesk's error body, e.g. 404 ``{"error": "RecordNotFound", "description":
    "Not found"}``. ``details`` (validation failures, 422 ``RecordInvalid``) maps a
    field to its errors: the reference shows no example of it, this shape is the one
    Zendesk's own API clients read."""

    error: str
    description: str | None = None
    details: dict[str, list[ErrorDetail]] | None = None


# --- request bodies -------------------------------------------------------------------


class Request(Wire, frozen=True, kw_only=True, omit_defaults=True):
    """Base of request bodies: a field left unset is not sent."""


class CommentInput(Request, frozen=True, kw_only=True):
    body: str
    # Always sent: left out, a new comment takes the ticket's previous setting.
    public: bool
    author_id: int | None = None  # unset: the comment is the API user's


class NewTicket(Request, frozen=True, kw_only=True):
    subject: str
    comment: CommentInput  # becomes the description, the first comment
    priority: str
    type: str
    custom_fields: list[CustomField]


class TicketChange(Request, frozen=True, kw_only=True):
    comment: CommentInput


class CreateTicketBody(Request, frozen=True, kw_only=True):
    """Body of ``POST /api/v2/tickets.json``."""

    ticket: NewTicket


class UpdateTicketBody(Request, frozen=True, kw_only=True):
    """Body of ``PUT /api/v2/tickets/{id}.json``: Zendesk adds comments this way (the
    Ticket Comments API has no endpoint to create one)."""

    ticket: TicketChange
