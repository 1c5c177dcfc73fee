"""``exceptionQueue``: the queued orders a caller may see, a page at a time.

The caller reads its own view of the queue (its tenant; public or internal), so
ranks and facts never count exceptions it may not see. Filters are applied while
reading the view in rank order; a selective filter may need to read far, so one
request reads at most ``SCAN_LIMIT`` entries and may answer a short page whose
``endCursor`` continues the scan.
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from graphql import GraphQLError

from domain import exception_rules as rules
from domain.exception_rules import SEVERITY_RANK
from domain.queue_entries import RANK, ExceptionFact, QueueEntry
from resolvers.context import RequestContext
from resolvers.idempotency import RETRY_AFTER_S, SERVICE_UNAVAILABLE
from resolvers.relay import Cursors, bad_cursor, check_first, in_utc, to_global_id
from resolvers.types.common import Connection, PageInfo
from resolvers.types.order import Info, Order
from sources.cache.backend import CacheUnavailable, IndexPosition
from sources.records import MAX_BATCH

SCAN_LIMIT = 1000  # queue entries one request reads at most
QUEUE_CURSORS = Cursors("eq1:")


@strawberry.input(
    description="Filters of `exceptionQueue`, all optional: an order is listed when one "
    "of its exceptions meets every filter given."
)
class ExceptionQueueFilter:
    codes: list[rules.ExceptionCode] | None = strawberry.field(
        default=None, description="Any of these codes."
    )
    severity: rules.Severity | None = strawberry.field(
        default=None, description="At least this severe."
    )
    since: datetime | None = strawberry.field(
        default=None, description="Detected at or after this time (UTC without an offset)."
    )


@strawberry.type(description="One open exception of a queued order, as of the entry's evaluation.")
class QueuedException:
    code: rules.ExceptionCode = strawberry.field(description="What kind of exception.")
    severity: rules.Severity = strawberry.field(description="How serious it is.")
    detected_at: datetime = strawberry.field(
        description="When the condition became true, from the source facts (in UTC, as "
        "`OrderException.detectedAt`)."
    )


@strawberry.type(
    description="An order in the exception queue and what put it there, as of the "
    "gateway's last evaluation (`evaluatedAt`); `order` is read live."
)
class ExceptionQueueEntry:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    severity: rules.Severity = strawberry.field(description="The worst of its exceptions.")
    detected_at: datetime = strawberry.field(
        description="When the newest one was detected (as `QueuedException.detectedAt`)."
    )
    codes: list[rules.ExceptionCode] = strawberry.field(
        description="The codes of its exceptions, each once, in the order of `exceptions`."
    )
    exceptions: list[QueuedException] = strawberry.field(
        description="Most severe, then newest first."
    )
    evaluated_at: datetime = strawberry.field(
        description="When the gateway last evaluated the order's exceptions (gateway clock, UTC)."
    )
    record_id: strawberry.Private[str]

    @strawberry.field(
        description="The order, read live from the OMS; null when the OMS cannot be read "
        "or it is gone."
    )
    async def order(self, info: Info) -> Order | None:
        found = await info.context.loaders.order_by_id.load(self.record_id)
        return Order.visible(found, info.context.access)

    @classmethod
    def of(cls, entry: QueueEntry) -> ExceptionQueueEntry:
        return cls(
            order_id=strawberry.ID(to_global_id("Order", entry.order_id)),
            severity=entry.severity,
            detected_at=entry.detected_at,
            codes=list(dict.fromkeys(fact.code for fact in entry.exceptions)),
            exceptions=[
                QueuedException(code=f.code, severity=f.severity, detected_at=f.detected_at)
                for f in entry.exceptions
            ],
            evaluated_at=entry.evaluated_at,
            record_id=entry.order_id,
        )


@strawberry.type(description="One entry of a page of the exception queue.")
class ExceptionQueueEdge:
    cursor: str = strawberry.field(
        description="Opaque cursor of this entry; pass it as `after` to continue after it."
    )
    node: ExceptionQueueEntry = strawberry.field(description="The queued order.")


@strawberry.type(
    description="A page of the exception queue, most severe and newest first (derived by "
    "the gateway, kept in its cache)."
)
class ExceptionQueueConnection(Connection[ExceptionQueueEdge]):
    edges: list[ExceptionQueueEdge] = strawberry.field(
        description="The entries with their cursors."
    )
    nodes: list[ExceptionQueueEntry] = strawberry.field(
        description="The same entries, without cursors."
    )
    page_info: PageInfo = strawberry.field(description="Where this page stands.")


class QueueUnavailable(GraphQLError):
    """The queue's store cannot be read now: an empty page would say "no exceptions"."""

    def __init__(self) -> None:
        super().__init__(
            "the exception queue cannot be read right now: retry",
            extensions={
                "code": SERVICE_UNAVAILABLE,
                "retryable": True,
                "retryAfter": RETRY_AFTER_S,
            },
        )


async def queue_page(
    context: RequestContext, first: int, after: str | None, filter: ExceptionQueueFilter | None
) -> ExceptionQueueConnection:
    check_first(first)
    context.counts.spoil()  # the queue is no cached entity: no answer from it is stored
    wanted = ExceptionMatch(filter or ExceptionQueueFilter())
    queue = context.queue
    access = context.access
    kept: list[tuple[IndexPosition, QueueEntry]] = []
    position = None if after is None else _position(after)
    scanned, more = 0, True
    chunk = MAX_BATCH if wanted.filters else first + 1
    while more and len(kept) <= first and scanned < SCAN_LIMIT:
        try:
            page = await queue.page(
                access.tenant, internal=access.internal, limit=chunk, after=position
            )
        except CacheUnavailable:
            raise QueueUnavailable() from None
        more = len(page) == chunk
        for at, entry in page:
            if wanted.below_floor(entry):
                more = False  # ranked by severity first: nothing further can match
                break
            scanned, position = scanned + 1, at
            if wanted(entry):
                kept.append((at, entry))
                if len(kept) > first:
                    break
    edges = [
        ExceptionQueueEdge(cursor=_cursor(at), node=ExceptionQueueEntry.of(entry))
        for at, entry in kept[:first]
    ]
    has_next = len(kept) > first or (more and scanned >= SCAN_LIMIT)
    # A scan that stopped short of a full page resumes where it stopped.
    resume = position if len(kept) <= first and has_next else None
    return ExceptionQueueConnection.page(
        edges, has_next=has_next, resume=None if resume is None else _cursor(resume)
    )  # the queue is read forward only: no previous page (see PageInfo)


class ExceptionMatch:
    """Whether an exception (``fact``), or one of an entry's, meets every filter given."""

    def __init__(self, filter: ExceptionQueueFilter) -> None:
        self.codes = frozenset(filter.codes or ())
        self.floor = None if filter.severity is None else SEVERITY_RANK[filter.severity]
        self.since = in_utc(filter.since, "filter.since")
        self.filters = bool(self.codes) or self.floor is not None or self.since is not None

    def below_floor(self, entry: QueueEntry) -> bool:
        return self.floor is not None and SEVERITY_RANK[entry.severity] < self.floor

    def __call__(self, entry: QueueEntry) -> bool:
        return any(self.fact(fact) for fact in entry.exceptions)

    def fact(self, fact: ExceptionFact) -> bool:
        return (
            (not self.codes or fact.code in self.codes)
            and (self.floor is None or SEVERITY_RANK[fact.severity] >= self.floor)
            and (self.since is None or fact.detected_at >= self.since)
        )


def _cursor(position: IndexPosition) -> str:
    rank, member = position
    return QUEUE_CURSORS.encode(f"{rank}|{member}")


def _position(cursor: str) -> IndexPosition:
    rank, _, member = QUEUE_CURSORS.decode(cursor).partition("|")
    if not RANK.fullmatch(rank) or not member or "\0" in member:
        raise bad_cursor()
    return (rank, member)
