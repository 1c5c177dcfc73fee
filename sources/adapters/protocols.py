"""What the gateway asks of each kind of source.

Every adapter is a :class:`SourceAdapter` (health, circuit state, batch limit, one
session for the process); each kind adds its reads and writes. Batch reads take at
most ``batch_size`` keys and answer a mapping: the record per key found, ``None`` for
a key the source says it does not have, and no entry for a key it left out (a
partial answer, reported by the caller as an error for that key alone). Failures are
:class:`~sources.failures.SourceError`; a write the source refuses is
:class:`~sources.clients.changes.ChangeRefused`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from sources.adapters.search import OrderSearch
from sources.events import ChangeEvent
from sources.records import (
    AddCommentRequest,
    AddressChange,
    CancelReason,
    CommentAdded,
    CreateTicketRequest,
    InventoryItem,
    LineQuantity,
    MailingAddress,
    Order,
    OrderPage,
    Ticket,
    TicketComment,
    Tracking,
)
from sources.webhooks import VerifiedEvent


class BreakerState(Protocol):
    @property
    def state(self) -> str: ...


@runtime_checkable
class SourceAdapter(Protocol):
    """What every adapter has: the source it serves, where (for ``/readyz``; no
    secret in it), its batch limit and circuit breaker, a health check, its change
    events, and a close for its session.

    ``verify_webhook`` checks one delivery the source (or its vendor) POSTed to
    ``/webhooks/<source>`` and turns it into our change event, or raises
    :class:`~sources.webhooks.WebhookError` (the status and code to answer); it may ask
    its source what the delivery names (Shopify's inventory names items by id)."""

    name: str
    base_url: str
    batch_size: int

    @property
    def breaker(self) -> BreakerState: ...

    async def ping(self) -> bool: ...

    async def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent: ...

    async def close(self) -> None: ...


@runtime_checkable
class HearsChanges(Protocol):
    """An adapter that keeps track of the changes any instance applies (the Zendesk
    adapter: the tickets its vendor's search may not list yet). ``heard`` is called
    before that instance drops what the change makes stale, so a read that follows
    already knows; it must not block."""

    def heard(self, event: ChangeEvent) -> None: ...


@runtime_checkable
class OrdersAdapter(SourceAdapter, Protocol):
    """The order management system: orders by id and by number, the order list with
    filters and cursors (newest first), and the two changes the graph makes.

    An adapter may say ``cancels_lines = False``: it cancels whole orders only, refuses
    ``cancel_order`` with ``lines`` (code ``LINE_CANCEL_NOT_SUPPORTED``), and
    ``changeEligibility.cancelLines`` says so first. Without the attribute it cancels
    lines (as adapters written before it do): see :func:`cancels_lines`."""

    async def orders_by_ids(self, ids: list[str]) -> dict[str, Order | None]: ...

    async def orders_by_numbers(self, numbers: list[str]) -> dict[str, Order | None]: ...

    async def search_orders(
        self, search: OrderSearch, *, limit: int, cursor: str | None = None
    ) -> OrderPage: ...

    async def cancel_order(
        self, order_id: str, reason: CancelReason, lines: list[LineQuantity] | None = None
    ) -> Order: ...

    async def change_shipping_address(
        self, order_id: str, address: MailingAddress
    ) -> AddressChange: ...


@runtime_checkable
class InventoryAdapter(SourceAdapter, Protocol):
    """Stock per SKU and location."""

    async def items_by_skus(self, skus: list[str]) -> dict[str, InventoryItem | None]: ...


@runtime_checkable
class TrackingAdapter(SourceAdapter, Protocol):
    """Carrier tracking by tracking number (case-insensitive at the source)."""

    async def trackings(self, numbers: list[str]) -> dict[str, Tracking | None]: ...


@runtime_checkable
class TicketsAdapter(SourceAdapter, Protocol):
    """Support tickets per order, and the two changes the graph makes."""

    async def tickets_by_orders(self, order_ids: list[str]) -> dict[str, list[Ticket] | None]:
        """Each order's tickets; a ticket's comments inline, or None when they are
        read apart (:meth:`comments_by_tickets`)."""
        ...

    async def comments_by_tickets(self, keys: list[str]) -> dict[str, list[TicketComment] | None]:
        """The comments of the tickets ``keys`` names (``records.comments_key``),
        oldest first; None for a ticket the source does not know."""
        ...

    async def create_ticket(self, request: CreateTicketRequest) -> Ticket: ...

    async def add_comment(self, ticket_id: str, request: AddCommentRequest) -> CommentAdded: ...


def cancels_lines(oms: OrdersAdapter) -> bool:
    """Whether ``oms`` cancels some lines of an order (its optional ``cancels_lines``;
    true when it does not say)."""
    return bool(getattr(oms, "cancels_lines", True))
