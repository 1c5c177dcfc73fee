"""Which sources each field of the graph reads besides its object's own
(``FIELD_SOURCES``: what admission prices, and the scopes a field needs); what an
order's derived fields need from the other sources (tracking, stock, tickets), read
through one request's loaders and only from the sources its caller may read; and the
order's exceptions from them. Needs a ``RequestContext``, not a strawberry ``Info``,
so background work can evaluate orders too."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from aiodataloader import DataLoader

from domain import exception_rules as rules
from resolvers.access import Access, ScopeGuard, source_scopes
from resolvers.context import RequestContext
from resolvers.loaders import Loaders, settle
from resolvers.types.freshness import DataSource
from sources import records
from sources.cache.through import Cached
from sources.failures import SourceError

# The field that carries each other source's data. A caller reads that source,
# in any field derived from it too, only when it may read this field.
SOURCE_FIELDS: Mapping[DataSource, str] = {
    DataSource.INVENTORY: "LineItem.availability",
    DataSource.CARRIER: "Shipment.tracking",
    DataSource.TICKETING: "Order.tickets",
}


@dataclass(frozen=True, slots=True)
class Reads:
    """The sources a field reads for each object it is on, besides the ones that
    object was read from. Of those, the field ``needs`` some: it is refused
    (``UNAUTHORIZED_FIELD``) to a caller without their scopes; it reads the others
    only when the caller may (``readable``)."""

    sources: frozenset[DataSource]
    needs: frozenset[DataSource] = frozenset()

    def __post_init__(self) -> None:
        if not self.needs <= self.sources:
            raise ValueError(f"a field needs only sources it reads: {self}")

    @property
    def scopes(self) -> tuple[str, ...]:
        """The scopes the field needs: those of the sources it needs."""
        return source_scopes(self.needs)


_CARRIER = frozenset({DataSource.CARRIER})
_OTHERS = frozenset(SOURCE_FIELDS)  # every source but the OMS, which orders are read from

# Every field that reads a source besides its object's. Admission prices each such
# field one per source (gateway.admission.cost). A derived field that needs sources
# takes its scope guard from here (``guard``), so it is never readable with fewer
# scopes than the sources it needs; a field carrying a source takes that source's
# scope (``SOURCE_SCOPES``) as a ``LoaderField``. tests/unit/test_field_sources.py
# runs each field to check what it reads against this.
FIELD_SOURCES: Mapping[str, Reads] = {
    **{field: Reads(frozenset({s}), needs=frozenset({s})) for s, field in SOURCE_FIELDS.items()},
    "Order.customerStatus": Reads(_CARRIER),
    "Order.estimatedDelivery": Reads(_CARRIER, needs=_CARRIER),
    "Order.previousEstimatedDelivery": Reads(_CARRIER, needs=_CARRIER),
    # Without tracking and stock it would claim ON_TRACK over what it cannot see.
    "Order.health": Reads(_OTHERS, needs=frozenset({DataSource.CARRIER, DataSource.INVENTORY})),
    "Order.exceptions": Reads(_OTHERS),
    "Order.timeline": Reads(_OTHERS),
    "Order.dataSources": Reads(_OTHERS),
    # The queue is read from the cache, its orders from the OMS.
    "ExceptionQueueEntry.order": Reads(frozenset({DataSource.OMS})),
}


def guard(coordinate: str) -> ScopeGuard:
    """The scope guard of the field at ``coordinate``: the scopes of the sources it
    needs (``FIELD_SOURCES``)."""
    scopes = FIELD_SOURCES[coordinate].scopes
    if not scopes:
        raise ValueError(f"{coordinate} needs no source: it has no scope guard")
    return ScopeGuard(*scopes)


def readable(access: Access, source: DataSource) -> bool:
    """Whether ``access`` may read ``source``'s data."""
    return SOURCE_FIELDS[source] not in access.denied


@dataclass(frozen=True, slots=True)
class _Lookup:
    """How an order's records are read from another source."""

    loader: Callable[[Loaders], DataLoader[str, Any]]
    keys: Callable[[records.Order], list[str]]  # the order's keys there


_LOOKUPS: Mapping[DataSource, _Lookup] = {
    DataSource.INVENTORY: _Lookup(
        lambda loaders: loaders.inventory_by_sku, lambda order: [line.sku for line in order.lines]
    ),
    DataSource.CARRIER: _Lookup(
        lambda loaders: loaders.tracking_by_number,
        lambda order: [s.tracking_number for s in order.shipments if s.tracking_number],
    ),
    DataSource.TICKETING: _Lookup(lambda loaders: loaders.tickets_by_order, lambda o: [o.id]),
}


def keys_in(source: DataSource, order: records.Order) -> list[str]:
    """The keys of ``order``'s records in ``source`` (one of ``SOURCE_FIELDS``)."""
    return _LOOKUPS[source].keys(order)


async def load(source: DataSource, order: records.Order, context: RequestContext) -> dict[str, Any]:
    """``order``'s records in ``source``, whatever the caller may read, in one batch
    of the request's loader: each key to its ``Cached`` or the error it raised."""
    lookup = _LOOKUPS[source]
    return await settle(lookup.loader(context.loaders), lookup.keys(order))


async def trackings(
    order: records.Order, context: RequestContext
) -> dict[str, records.Tracking | None]:
    """The order's tracking records by number, through the shared carrier loader; a
    carrier failure is raised."""
    found: dict[str, records.Tracking | None] = {}
    for number, result in (await load(DataSource.CARRIER, order, context)).items():
        if not isinstance(result, Cached):
            raise result
        found[number] = result.value
    return found


async def _read(
    source: DataSource, order: records.Order, context: RequestContext
) -> dict[str, Any]:
    """``order``'s records in ``source`` as :func:`load` gives them, or none when the
    caller may not read that source."""
    return await load(source, order, context) if readable(context.access, source) else {}


def _answered(found: Mapping[str, Any]) -> dict[str, Any]:
    """The records of the keys in ``found`` that answered."""
    return {key: result.value for key, result in found.items() if isinstance(result, Cached)}


def _failure(found: Mapping[str, Any]) -> Exception | None:
    """What the first key in ``found`` that did not answer raised, if any."""
    return next((result for result in found.values() if not isinstance(result, Cached)), None)


def _masked_trackings(
    found: Mapping[str, Any], access: Access
) -> dict[str, records.Tracking | None]:
    """The tracking records in ``found`` that answered, as ``access`` may see them; a
    load's error other than a carrier failure (a bug) is raised."""
    for result in found.values():
        if not isinstance(result, Cached | SourceError):
            raise result
    return {number: masked(tracking, access) for number, tracking in _answered(found).items()}


async def readable_trackings(
    order: records.Order, context: RequestContext
) -> dict[str, records.Tracking | None]:
    """The order's tracking records the caller may read (none without shipments:read,
    signers' names masked without pii:read); records a failing carrier could not give
    are left out."""
    found = await _read(DataSource.CARRIER, order, context)
    return _masked_trackings(found, context.access)


WITHHELD = "[name withheld]"


def masked(tracking: records.Tracking | None, access: Access) -> records.Tracking | None:
    """``tracking`` as the caller may see it: without pii:read the signer's name (a
    person's) is gone, from ``signed_by`` and from the carrier's messages, which
    often repeat it ("DELIVERED, SIGNED BY J SMITH")."""
    signer = tracking.signed_by if tracking is not None else None
    if tracking is None or not signer or access.pii:
        return tracking
    name = re.compile(re.escape(signer), re.IGNORECASE)
    return msgspec.structs.replace(
        tracking,
        signed_by=None,
        message=name.sub(WITHHELD, tracking.message) if tracking.message else tracking.message,
        checkpoints=[
            msgspec.structs.replace(c, message=name.sub(WITHHELD, c.message))
            for c in tracking.checkpoints
        ],
    )


async def ticket_comments(
    ticket: records.Ticket, context: RequestContext
) -> list[records.TicketComment]:
    """The ticket's comments: as read with it, or read apart (Zendesk); its source's
    failure is the caller's error."""
    if ticket.comments is not None:
        return ticket.comments
    key = records.comments_key(ticket.order_id, ticket.id)
    return (await context.loaders.comments_by_ticket.load(key)).value or []


async def with_comments(
    tickets: list[records.Ticket] | None, context: RequestContext
) -> list[records.Ticket] | None:
    """``tickets`` with the comments their source reads apart, in one batch; the
    failure of a read is raised (a ticket without its comments would tell less than it
    has, as if nothing was said)."""
    keys = records.read_apart(tickets or ())
    if not tickets or not keys:
        return tickets
    found = await settle(context.loaders.comments_by_ticket, keys)
    if (failure := _failure(found)) is not None:
        raise failure
    return records.with_comments(tickets, {key: c.value or [] for key, c in found.items()})


@dataclass(frozen=True, slots=True)
class SourceFacts:
    """The other sources' records of one order, as the exception rules take them."""

    trackings: dict[str, records.Tracking | None]
    stock: dict[str, records.InventoryItem | None]
    tickets: list[records.Ticket] | None
    # What each readable source that left records out raised (the first of its keys')
    failures: Mapping[DataSource, Exception]
    complete: bool  # every readable source answered for every record asked

    def exceptions(self, order: records.Order, now: datetime) -> list[rules.OrderException]:
        return rules.detect_exceptions(order, self.trackings, self.stock, self.tickets, now=now)

    def failure(self, coordinate: str, *, internal: bool) -> Exception | None:
        """Why the field at ``coordinate`` cannot be answered from these facts: the
        failure of a source it reads (``FIELD_SOURCES``), whose records are missing.
        Not ticketing's for a caller shown no internal exceptions (``internal``):
        tickets feed only UNANSWERED_TICKET, an internal one, so its answer stands."""
        reads = FIELD_SOURCES[coordinate].sources
        if not internal:
            reads -= {DataSource.TICKETING}
        return next((error for source, error in self.failures.items() if source in reads), None)


async def gather_facts(order: records.Order, context: RequestContext) -> SourceFacts:
    sources = list(SOURCE_FIELDS)
    found = await asyncio.gather(*(_read(source, order, context) for source in sources))
    read = dict(zip(sources, found, strict=True))
    failures = {s: error for s, results in read.items() if (error := _failure(results)) is not None}
    tickets = _answered(read[DataSource.TICKETING]).get(order.id)
    return SourceFacts(
        _masked_trackings(read[DataSource.CARRIER], context.access),
        _answered(read[DataSource.INVENTORY]),
        tickets,
        failures,
        # ticketing may also answer that it does not know the order
        complete=not failures
        and (tickets is not None or not readable(context.access, DataSource.TICKETING)),
    )


async def detect(order: records.Order, context: RequestContext) -> list[rules.OrderException]:
    """The order's exceptions now, from what the caller may read."""
    return (await gather_facts(order, context)).exceptions(order, context.clock.now())
