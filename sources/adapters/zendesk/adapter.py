"""The ticketing source served by Zendesk Support: an order's tickets through the
Search API, their comments with their authors, and the two changes the graph makes.

Settings (docs/adapters.md): ``OG_TICKETING_ADAPTER=zendesk``, ``OG_TICKETING_URL``
(``https://<subdomain>.zendesk.com``), the credential ``<agent email>/token:<API
token>`` (sent as HTTP Basic, as Zendesk's API tokens are), the options
``order_field`` (the id of the text custom field holding the order id; required) and
``agent_url`` (where agents open tickets, for the tickets' links; default
``<url>/agent/tickets``), and the webhook secret of the Zendesk webhook its trigger
posts through. A 429 is waited out as its ``Retry-After`` says, within the request's
deadline (:mod:`sources.clients.http`).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import datetime

import msgspec

from sources.adapters.zendesk import wire
from sources.adapters.zendesk.vocabulary import (
    add_comment_body,
    comments_from_zendesk,
    create_ticket_body,
    ticket_from_zendesk,
)
from sources.clients.changes import ChangeRefused, idempotency_headers
from sources.clients.http import SourceAnswered, SourceClient
from sources.events import ChangeEvent, EventType
from sources.failures import BAD_USER_INPUT, NOT_FOUND
from sources.options import SourceConfig
from sources.records import (
    TICKET_CLOSED,
    AddCommentRequest,
    CommentAdded,
    CreateTicketRequest,
    Ticket,
    TicketComment,
    comments_key_parts,
)
from sources.webhooks import (
    BODY_INVALID,
    NOT_CONFIGURED,
    SIGNATURE_INVALID,
    TIMESTAMP_EXPIRED,
    VerifiedEvent,
    WebhookError,
    hmac_signature,
    signed_content_id,
    signed_with_any,
    within_tolerance,
)

log = logging.getLogger("ordergraph.sources")

API = "/api/v2"
SEARCH_PATH = f"{API}/search.json"
SHOW_MANY_PATH = f"{API}/tickets/show_many.json"
# How long a ticket opened here is also read by id: Zendesk's search index lists a new
# ticket within minutes, not at once.
INDEX_LAG_S = 600.0
ORDERS_PER_SEARCH = 25  # custom-field terms in one query (ORed: the same field)
MAX_SEARCH_PAGES = 10  # Search answers 1,000 results at the most
SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"  # unsigned: not what we claim by
_CREATED, _NOT_FOUND, _UNPROCESSABLE = 201, 404, 422


class WebhookPayload(msgspec.Struct, frozen=True, kw_only=True):
    """The body the Zendesk trigger sends (docs/adapters.md gives the trigger's JSON):
    ``{"ticket_id": "{{ticket.id}}", "order_id": "{{ticket.ticket_field_<id>}}"}``."""

    ticket_id: str
    order_id: str


class Unindexed:
    """The tickets search may not list yet, by order: those this instance opened, and
    those any instance heard of as changed (its own changes, and Zendesk's trigger
    webhooks), for :data:`INDEX_LAG_S` seconds after (the most recent ``limit`` kept)."""

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._opened: OrderedDict[str, tuple[str, float]] = OrderedDict()  # oldest first
        self._of_order: dict[str, list[str]] = {}

    def noted(self, ticket_id: str, order_id: str) -> None:
        if ticket_id in self._opened:
            return
        self._opened[ticket_id] = (order_id, time.monotonic())
        self._of_order.setdefault(order_id, []).append(ticket_id)
        if len(self._opened) > self._limit:
            self._forget()

    def of(self, order_ids: Iterable[str]) -> list[str]:
        """The ids of the tickets noted about ``order_ids`` within the lag."""
        fresh = time.monotonic() - INDEX_LAG_S
        while self._opened and next(iter(self._opened.values()))[1] < fresh:
            self._forget()
        return [ticket for order in order_ids for ticket in self._of_order.get(order, ())]

    def _forget(self) -> None:
        """Forget the oldest ticket."""
        ticket, (order, _) = self._opened.popitem(last=False)
        tickets = self._of_order[order]
        tickets.remove(ticket)
        if not tickets:
            del self._of_order[order]


class ZendeskTickets(SourceClient):
    name = "ticketing"
    health_path = f"{API}/users/me.json".lstrip("/")

    def __init__(self, config: SourceConfig) -> None:
        if not config.credential or "/token:" not in config.credential:
            raise ValueError(
                "the zendesk adapter needs OG_TICKETING_CREDENTIAL as <email>/token:<API token>"
            )
        field = config.options.get("order_field", "")
        if not field.isdigit():
            raise ValueError("the zendesk adapter needs the option order_field=<custom field id>")
        super().__init__(config)
        self.batch_size = min(config.batch_size, ORDERS_PER_SEARCH)
        self._field = int(field)
        base = config.base_url.rstrip("/")
        self._agent_url = config.options.get("agent_url", f"{base}/agent/tickets")
        token = base64.b64encode(config.credential.encode()).decode()
        self.auth_headers = {"Authorization": f"Basic {token}"}
        self._unindexed = Unindexed()

    async def tickets_by_orders(self, order_ids: list[str]) -> dict[str, list[Ticket] | None]:
        """Every order asked gets its tickets ([] for none), in one search; their
        comments are read apart (:meth:`comments_by_tickets`), only when asked for.
        Zendesk indexes a new ticket for search within minutes, not at once: a ticket
        opened or changed in that time (:meth:`heard`) that search does not list is
        read by id."""
        found = await self._search(order_ids)
        listed = {str(ticket.id) for ticket in found}
        unlisted = [t for t in self._unindexed.of(dict.fromkeys(order_ids)) if t not in listed]
        if unlisted:
            found += await self._show_many(unlisted)
        by_order: dict[str, list[Ticket]] = {order_id: [] for order_id in order_ids}
        for ticket in found:
            read = ticket_from_zendesk(
                ticket, None, order_field_id=self._field, base_url=self._agent_url
            )
            if read is not None and read.order_id in by_order:
                by_order[read.order_id].append(read)
        return {
            order_id: sorted(listed, key=lambda t: (t.created_at, int(t.id)))
            for order_id, listed in by_order.items()
        }

    def heard(self, event: ChangeEvent) -> None:
        """A ticket any instance changed or opened, or Zendesk's trigger announced:
        read by id while search may not list it."""
        if event.type is EventType.TICKET_UPDATED and event.ticket_id and event.order_id:
            self._unindexed.noted(event.ticket_id, event.order_id)

    async def comments_by_tickets(self, keys: list[str]) -> dict[str, list[TicketComment] | None]:
        """Each ticket's comments, every cursor page with their authors' names; Zendesk
        reads comments ticket by ticket (concurrently here). None for a ticket Zendesk
        does not know."""
        asked = {key: comments_key_parts(key)[1] for key in keys}
        read = await asyncio.gather(*(self._comments(t) for t in asked.values()))
        return dict(zip(asked, read, strict=True))

    async def create_ticket(self, request: CreateTicketRequest) -> Ticket:
        """Open a ticket about the order. Never retried; the mutation's idempotency key
        goes along, so Zendesk answers a repeat with the ticket the first one opened."""
        body = create_ticket_body(request, order_field_id=self._field)
        created = await self._change(
            "POST", f"{API}/tickets.json", body, headers=idempotency_headers()
        )
        ticket = await self._ticket(created.ticket)
        if ticket is None:
            raise self.bad_response("created a ticket about no order")
        self._unindexed.noted(ticket.id, ticket.order_id)
        return ticket

    async def add_comment(self, ticket_id: str, request: AddCommentRequest) -> CommentAdded:
        """Comment on a ticket (a closed one refuses: TICKET_CLOSED). Never retried, and
        sent without the idempotency key: Zendesk honours one on ticket creation only,
        so the gateway's own claim is all that keeps a repeat from commenting twice."""
        if not ticket_id.isdigit():
            raise ChangeRefused(self.name, NOT_FOUND, f"no ticket {ticket_id!r}")
        updated = await self._change(
            "PUT", f"{API}/tickets/{ticket_id}.json", add_comment_body(request)
        )
        ticket = await self._ticket(updated.ticket)
        if ticket is None or not ticket.comments:
            raise self.bad_response("the comment is not on the ticket")
        return CommentAdded(ticket=ticket, comment=ticket.comments[-1])

    async def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        """A Zendesk webhook: ``X-Zendesk-Webhook-Signature`` is base64 of the
        HMAC-SHA256 of the signature timestamp and the body under the webhook's secret;
        a timestamp more than five minutes from now is refused (a replay).

        The event id is a digest of that timestamp and body, not the unsigned
        ``X-Zendesk-Webhook-Invocation-Id``: a replay within the five minutes under any
        invocation id is the same event, refused by the receiver's claim."""
        secrets = self._config.webhook_secrets
        if not secrets:
            raise WebhookError(503, NOT_CONFIGURED, "no Zendesk webhook secret is configured")
        lowered = {name.lower(): value for name, value in headers.items()}
        sent = lowered.get(SIGNATURE_HEADER.lower())
        stamp = lowered.get(TIMESTAMP_HEADER.lower())
        if not sent or not stamp:
            raise WebhookError(401, SIGNATURE_INVALID, f"missing header {SIGNATURE_HEADER}")
        signed = stamp.encode() + body
        if not signed_with_any(sent, signed, secrets):
            raise WebhookError(401, SIGNATURE_INVALID, "no matching signature")
        try:
            at = datetime.fromisoformat(stamp)
        except ValueError:
            raise WebhookError(401, SIGNATURE_INVALID, "unreadable signature timestamp") from None
        if not within_tolerance(at):
            raise WebhookError(401, TIMESTAMP_EXPIRED, "signature timestamp too old or too new")
        try:
            payload = msgspec.json.decode(body, type=WebhookPayload)
        except msgspec.DecodeError as exc:
            raise WebhookError(400, BODY_INVALID, f"not the trigger's payload: {exc}") from None
        event = ChangeEvent(
            type=EventType.TICKET_UPDATED,
            occurred_at=at,
            order_id=payload.order_id,
            ticket_id=payload.ticket_id,
        )
        return VerifiedEvent(msg_id=signed_content_id("zendesk", signed), event=event)

    async def _search(self, order_ids: list[str]) -> list[wire.Ticket]:
        terms = " ".join(f'custom_field_{self._field}:"{order_id}"' for order_id in order_ids)
        params = {"query": f"type:ticket {terms}", "per_page": str(wire.PAGE_SIZE)}
        found: list[wire.Ticket] = []
        for page in range(1, MAX_SEARCH_PAGES + 1):
            params["page"] = str(page)
            answer = await self.request_json(
                "GET", SEARCH_PATH, wire.SearchPage, params=params, batch_size=len(order_ids)
            )
            found += answer.results
            if answer.next_page is None:
                return found
        log.warning("zendesk: more than %d tickets for %d orders", len(found), len(order_ids))
        return found

    async def _show_many(self, ticket_ids: list[str]) -> list[wire.Ticket]:
        """The tickets ``ticket_ids`` by id, a page of ids a call."""
        found: list[wire.Ticket] = []
        for start in range(0, len(ticket_ids), wire.PAGE_SIZE):
            ids = ticket_ids[start : start + wire.PAGE_SIZE]
            answer = await self.request_json(
                "GET",
                SHOW_MANY_PATH,
                wire.TicketsPage,
                params={"ids": ",".join(ids)},
                batch_size=len(ids),
            )
            found += answer.tickets
        return found

    async def _ticket(self, ticket: wire.Ticket) -> Ticket | None:
        """Our record of ``ticket`` with every page of its comments and their authors."""
        comments, users = await self._comment_pages(ticket.id)
        return ticket_from_zendesk(
            ticket, comments, order_field_id=self._field, base_url=self._agent_url, users=users
        )

    async def _comments(self, ticket_id: str) -> list[TicketComment] | None:
        """Every comment of the ticket, oldest first; None when Zendesk knows no such
        ticket."""
        if not ticket_id.isdigit():
            return None
        try:
            comments, users = await self._comment_pages(int(ticket_id), accept=(_NOT_FOUND,))
        except SourceAnswered:  # 404
            return None
        return comments_from_zendesk(comments, users)

    async def _comment_pages(
        self, ticket_id: int, accept: tuple[int, ...] = ()
    ) -> tuple[list[wire.Comment], dict[int, str]]:
        """Every page of the ticket's comments and the names of their authors (an
        ``accept``-ed status raises :class:`SourceAnswered`)."""
        comments: list[wire.Comment] = []
        users: dict[int, str] = {}
        params = {"include": "users", "page[size]": str(wire.PAGE_SIZE)}
        path = f"{API}/tickets/{ticket_id}/comments.json"
        while True:
            page = await self.request_json(
                "GET", path, wire.CommentsPage, params=params, accept_statuses=accept
            )
            comments += page.comments
            users |= {user.id: user.name for user in page.users}
            if not page.meta.has_more or page.meta.after_cursor is None:
                return comments, users
            params["page[after]"] = page.meta.after_cursor

    async def _change(
        self,
        method: str,
        path: str,
        body: msgspec.Struct,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> wire.TicketAnswer:
        """Send a change once; Zendesk's refusals become :class:`ChangeRefused`."""
        try:
            return await self.request_json(
                method,
                path,
                wire.TicketAnswer,
                body=body,
                idempotent=False,
                accept_statuses=(_CREATED, _NOT_FOUND, _UNPROCESSABLE),
                headers=headers,
            )
        except SourceAnswered as answer:
            raise _refusal(self.name, answer) from None


def _refusal(source: str, answer: SourceAnswered) -> ChangeRefused:
    """Zendesk's 404 (no such ticket) and 422 (a closed ticket takes no update; any
    other invalid record is the caller's input)."""
    if answer.status == _NOT_FOUND:
        return ChangeRefused(source, NOT_FOUND, "no such ticket")
    try:
        error = msgspec.json.decode(answer.body, type=wire.Error)
    except msgspec.DecodeError:
        error = wire.Error(error="RecordInvalid")
    text = f"{error.description or ''} {error.details or ''}".lower()
    if "closed" in text:
        return ChangeRefused(source, TICKET_CLOSED, "the ticket is closed: open a follow-up")
    return ChangeRefused(source, BAD_USER_INPUT, error.description or "refused as invalid")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``X-Zendesk-Webhook-Signature``: base64 of HMAC-SHA256(timestamp + body)."""
    return hmac_signature(secret, timestamp.encode() + body)
