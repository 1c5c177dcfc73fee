"""A simulated Zendesk Support API over the data set's tickets.

``GET /api/v2/search.json`` finds tickets by the order custom field (the subset of
Zendesk's search syntax the adapter sends: ``type:ticket`` and
``custom_field_<id>:"<order id>"`` terms, the same field's values ORed), 100 a page;
``GET /api/v2/tickets/{id}/comments.json`` lists a ticket's comments with cursor
pages and the authors side-loaded (``include=users``); ``POST /api/v2/tickets.json``
opens a ticket (once per ``Idempotency-Key``, which Zendesk honours on ticket creation
only) and ``PUT /api/v2/tickets/{id}.json`` comments on one, as the native ticketing
source does (a closed ticket refuses: 422). Every call needs HTTP Basic
``<email>/token:<API token>`` and counts against the account's rate limit (429 with
``Retry-After``; Zendesk's ``X-Rate-Limit`` and the IETF draft's ``ratelimit-*``
headers on every answer). Changes go out as the webhook of a Zendesk trigger
(``{"ticket_id", "order_id"}``) signed with ``X-Zendesk-Webhook-Signature``.
"""

from __future__ import annotations

import base64
import binascii
import re

import msgspec
from aiohttp import web

from sim import catalog as cat
from sim import ticketing
from sim.changes import ChangeError
from sim.changes.ticketing import add_comment, create_ticket
from sim.common import ACCOUNT_KEY, CLOCK_KEY, DATASET_KEY, EMITTER_KEY, JSON, STATS_KEY, Handler
from sim.emitter import Render
from sim.idempotency import HEADER, MAX_KEY_LENGTH, honour_idempotency_keys
from sim.routes import Admin, Delivery, Param, Read, Source
from sim.seed import Dataset
from sim.vendors.access import SIM_API_KEY, Admission, VendorAccount
from sim.vendors.admission import admitted
from sources.adapters.zendesk import wire
from sources.adapters.zendesk.adapter import (
    INVOCATION_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookPayload,
    sign,
)
from sources.adapters.zendesk.vocabulary import PRIORITY, TYPE, users, zendesk_from_ticket
from sources.events import ChangeEvent
from sources.records import AddCommentRequest, CommentAdded, CreateTicketRequest, Ticket
from sources.webhooks import signature_timestamp

ORDER_FIELD = 360_000_123_456  # the custom field holding the order id
# What a gateway needs to read this API (gateway settings of the adapter):
CREDENTIAL = f"agent@example.com/token:{SIM_API_KEY}"
OPTIONS = {"order_field": str(ORDER_FIELD), "agent_url": cat.TICKETS_URL}


def account() -> VendorAccount:
    """Zendesk Support's limit for an Enterprise plan: 700 calls a minute."""
    return VendorAccount(limit=700, window_s=60)


API_USER = "OrderGraph API"  # whose comments the API's own are without an author_id
_TERM = re.compile(r'(\w+):(?:"([^"]*)"|(\S+))')


def _answer(payload: object, status: int = 200) -> web.Response:
    return web.Response(body=msgspec.json.encode(payload), status=status, content_type=JSON)


def _error(status: int, error: str, description: str) -> web.Response:
    return _answer(wire.Error(error=error, description=description), status)


def _refusal(status: int) -> web.Response:
    if status == 401:
        return _error(401, "Couldn't authenticate you", "Invalid credentials")
    return _error(429, "TooManyRequests", "Rate limit exceeded: retry after the Retry-After")


def _token_auth(request: web.Request, account: VendorAccount) -> bool:
    """HTTP Basic ``<email>/token:<API token>``, as Zendesk's API tokens authenticate."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    try:
        user, _, token = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return scheme == "Basic" and user.endswith("/token") and account.knows(token)


def _rate_headers(admission: Admission) -> dict[str, str]:
    """Zendesk's ``X-Rate-Limit`` and ``-Remaining`` on every answer, and on its list
    endpoints (all this API admits) the IETF draft's, the reset in seconds from now."""
    return {
        "X-Rate-Limit": str(admission.limit),
        "X-Rate-Limit-Remaining": str(admission.remaining),
        "ratelimit-limit": str(admission.limit),
        "ratelimit-remaining": str(admission.remaining),
        "ratelimit-reset": str(admission.retry_after),
    }


def _admitted(handler: Handler) -> Handler:
    return admitted(
        handler,
        authorized=_token_auth,
        refusal=_refusal,
        retry_after=True,
        rate_headers=_rate_headers,
    )


def _zendesk(ticket: Ticket, api_url: str) -> tuple[wire.Ticket, list[wire.Comment]]:
    return zendesk_from_ticket(ticket, order_field_id=ORDER_FIELD, api_url=api_url)


def _api_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def _search(request: web.Request) -> web.Response:
    wanted: set[str] = set()
    for name, quoted, bare in _TERM.findall(request.query.get("query", "")):
        value = quoted or bare
        if name == "type" and value == "ticket":
            continue
        if name != f"custom_field_{ORDER_FIELD}":
            return _error(400, "InvalidSearch", f"this Zendesk searches only {name!r} it knows")
        wanted.add(value)
    per_page = min(int(request.query.get("per_page", wire.PAGE_SIZE)), wire.PAGE_SIZE)
    page = max(int(request.query.get("page", 1)), 1)
    dataset = request.app[DATASET_KEY]
    request.app[STATS_KEY].record_batch(request.path, len(wanted))
    indexed = request.app[CLOCK_KEY].now() - request.app[ACCOUNT_KEY].search_lag
    found = [
        t
        for order_id in sorted(wanted)
        for t in dataset.tickets.get(order_id, ())
        if t.created_at <= indexed
    ]
    shown = found[(page - 1) * per_page : page * per_page]
    more = page * per_page < len(found)
    next_page = f"{_api_url(request)}{request.path}?page={page + 1}" if more else None
    results = [_zendesk(t, _api_url(request))[0] for t in shown]
    return _answer(wire.SearchPage(results=results, next_page=next_page, count=len(found)))


async def _show_many(request: web.Request) -> web.Response:
    ids = [i for i in request.query.get("ids", "").split(",") if i]
    if len(ids) > wire.PAGE_SIZE:
        return _error(400, "InvalidValue", f"at most {wire.PAGE_SIZE} ids")
    request.app[STATS_KEY].record_batch(request.path, len(ids))
    found = [t for i in ids if (t := _ticket(request.app[DATASET_KEY], i)) is not None]
    return _answer(wire.TicketsPage(tickets=[_zendesk(t, _api_url(request))[0] for t in found]))


def _ticket(dataset: Dataset, ticket_id: str) -> Ticket | None:
    return next(
        (t for tickets in dataset.tickets.values() for t in tickets if t.id == ticket_id), None
    )


async def _comments(request: web.Request) -> web.Response:
    ticket = _ticket(request.app[DATASET_KEY], request.match_info["id"])
    if ticket is None:
        return _error(404, "RecordNotFound", "Not found")
    size = min(int(request.query.get("page[size]", wire.PAGE_SIZE)), wire.PAGE_SIZE)
    start = int(request.query.get("page[after]", "0") or 0)
    _, comments = _zendesk(ticket, _api_url(request))
    shown = comments[start : start + size]
    more = start + size < len(comments)
    after = str(start + size) if more else None
    authors = users((ticket.comments or [])[start : start + size])
    return _answer(
        wire.CommentsPage(
            comments=shown,
            meta=wire.CursorMeta(has_more=more, after_cursor=after),
            links=wire.CursorLinks(next=None),
            users=authors if request.query.get("include") == "users" else [],
        )
    )


async def _changed(
    request: web.Request, record: Ticket, event: ChangeEvent | None, status: int
) -> web.Response:
    emitter = request.app.get(EMITTER_KEY)
    if emitter is not None and event is not None:
        emitter.emit(event)
    ticket, _ = _zendesk(record, _api_url(request))
    return _answer(wire.TicketAnswer(ticket=ticket), status)


async def _create(request: web.Request) -> web.Response:
    try:
        body = msgspec.json.decode(await request.read(), type=wire.CreateTicketBody)
    except msgspec.DecodeError as exc:
        return _error(400, "InvalidJSON", str(exc))
    fields = {f.id: f.value for f in body.ticket.custom_fields}
    order_id = fields.get(ORDER_FIELD)
    new = body.ticket
    try:
        asked = CreateTicketRequest(
            order_id=str(order_id or ""),
            subject=new.subject,
            body=new.comment.body,
            priority=PRIORITY.read(new.priority),
            type=TYPE.read(new.type),
        )
        record, event = create_ticket(
            request.app[DATASET_KEY], "", asked, request.app[CLOCK_KEY].now()
        )
    except (ChangeError, msgspec.ValidationError) as exc:
        return _error(422, "RecordInvalid", f"Record validation errors: {exc}")
    assert isinstance(record, Ticket)
    return await _changed(request, record, event, 201)


async def _update(request: web.Request) -> web.Response:
    try:
        body = msgspec.json.decode(await request.read(), type=wire.UpdateTicketBody)
    except msgspec.DecodeError as exc:
        return _error(400, "InvalidJSON", str(exc))
    comment = body.ticket.comment
    asked = AddCommentRequest(body=comment.body, author=API_USER, public=comment.public)
    try:
        added, event = add_comment(
            request.app[DATASET_KEY], request.match_info["id"], asked, request.app[CLOCK_KEY].now()
        )
    except ChangeError as exc:
        if exc.status == 404:
            return _error(404, "RecordNotFound", "Not found")
        return _error(422, "RecordInvalid", "Status: closed prevents ticket update")
    assert isinstance(added, CommentAdded)
    return await _changed(request, added.ticket, event, 200)


class CurrentUser(wire.Wire, frozen=True, kw_only=True):
    user: wire.User


async def _me(_request: web.Request) -> web.Response:
    return _answer(CurrentUser(user=wire.User(id=1, name=API_USER)))


def webhook(dataset: Dataset, source: str) -> Render:
    """How the simulated Zendesk delivers a change of ``source`` (ticketing's): the
    trigger's payload, signed over its timestamp and body."""

    def render(event: ChangeEvent, msg_id: str, secret: str) -> tuple[bytes, dict[str, str]]:
        payload = WebhookPayload(ticket_id=event.ticket_id or "", order_id=event.order_id or "")
        body = msgspec.json.encode(payload)
        stamp = signature_timestamp()
        return body, {
            SIGNATURE_HEADER: sign(secret, stamp, body),
            TIMESTAMP_HEADER: stamp,
            INVOCATION_HEADER: msg_id,
        }

    return render


_AUTH = Param(
    "Authorization", "Basic <email>/token:<API token>.", {"type": "string"}, True, location="header"
)
_ID = Param("id", "The ticket id.", {"type": "string"}, True, location="path")
_IDEMPOTENCY = Param(
    HEADER,
    "Opens the ticket once: a repeat with the same key and body answers with it again.",
    {"type": "string", "maxLength": MAX_KEY_LENGTH},
    location="header",
)

SOURCE = Source(
    name="zendesk",
    title="OrderGraph simulated Zendesk Support API",
    description="The ticketing source's tickets in Zendesk's shapes, auth, limits and webhooks.",
    routes=(
        Read(
            path="/api/v2/search.json",
            operation_id="listSearchResults",
            summary="Search tickets by the order field",
            description='type:ticket and custom_field_<id>:"<order id>" terms (ORed); '
            "per_page up to 100; next_page while more.",
            response=wire.SearchPage,
            handler=_admitted(_search),
            params=(_AUTH, Param("query", "The search.", {"type": "string"}, True)),
        ),
        Read(
            path="/api/v2/tickets/show_many.json",
            operation_id="showManyTickets",
            summary="Tickets by id",
            description="ids: up to 100 ticket ids, comma-separated; unknown ids are left out.",
            response=wire.TicketsPage,
            handler=_admitted(_show_many),
            params=(_AUTH, Param("ids", "Ticket ids, comma-separated.", {"type": "string"}, True)),
        ),
        Read(
            path="/api/v2/tickets/{id}/comments.json",
            operation_id="listTicketComments",
            summary="A ticket's comments",
            description="Oldest first; page[size] up to 100, page[after] the cursor; "
            "include=users side-loads the authors.",
            response=wire.CommentsPage,
            handler=_admitted(_comments),
            params=(_AUTH, _ID),
        ),
        Read(
            method="POST",
            path="/api/v2/tickets.json",
            operation_id="createTicket",
            summary="Open a ticket",
            description="A ticket about the order in the order field (422 for an order "
            "the help desk's OMS does not know).",
            response=wire.TicketAnswer,
            handler=_admitted(honour_idempotency_keys(_create)),
            params=(_AUTH, _IDEMPOTENCY),
        ),
        Read(
            method="PUT",
            path="/api/v2/tickets/{id}.json",
            operation_id="updateTicket",
            summary="Comment on a ticket",
            description="Adds the comment (a solved ticket reopens; a closed one: 422).",
            response=wire.TicketAnswer,
            handler=_admitted(_update),
            params=(_AUTH, _ID),
        ),
        Read(
            path="/api/v2/users/me.json",
            operation_id="showCurrentUser",
            summary="The API user",
            description="Who the credentials are.",
            response=CurrentUser,
            handler=_admitted(_me),
            params=(_AUTH,),
        ),
        *(route for route in ticketing.SOURCE.routes if isinstance(route, Admin)),
    ),
    serves=("ticketing",),
    delivers=Delivery(
        body=WebhookPayload,
        headers=(
            (SIGNATURE_HEADER, "Base64 of HMAC-SHA256(timestamp + body) under the secret."),
            (TIMESTAMP_HEADER, "When it was signed (ISO 8601)."),
            (INVOCATION_HEADER, "The delivery's id: the same on every retry."),
        ),
        signed="The trigger's payload {ticket_id, order_id}; signed with "
        "X-Zendesk-Webhook-Signature.",
    ),
)
