"""What every resolver of one request can reach."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from graphql import ExecutionResult

from domain.queue_entries import QueueEntry
from resolvers.access import FULL_ACCESS, Access
from resolvers.live import LiveFeeds
from resolvers.loaders import Loaders
from resolvers.relay import ORDER_CURSOR_PREFIX, Cursors
from sources.adapters.protocols import cancels_lines
from sources.cache.backend import IndexPosition
from sources.cache.through import CacheCounts
from sources.cache.upstreams import CachedUpstreams
from sources.clock import Clock
from sources.resilience import caller, deadline


class QueueReader(Protocol):
    """Reads the exception queue (kept by ``services.exception_queue``, which sits
    above the graph and implements this)."""

    async def page(
        self, scope: str, *, internal: bool, limit: int, after: IndexPosition | None
    ) -> list[tuple[IndexPosition, QueueEntry]]:
        """Up to ``limit`` entries of one view (``scope``: an account id or ``*``;
        ``internal``: with internal exceptions), highest rank first, below ``after``."""
        ...


# For contexts that list no orders for a caller (the exception queue's own work): a key
# of this process's own, which nobody else can seal with. The gateway hands each
# request its deployment's (resolvers.relay.order_cursors).
_OWN_ORDER_CURSORS = Cursors(ORDER_CURSOR_PREFIX, secrets.token_bytes(32))


@dataclass(slots=True)
class RequestContext:
    cached: CachedUpstreams
    loaders: Loaders
    queue: QueueReader
    access: Access = FULL_ACCESS
    counts: CacheCounts = field(default_factory=CacheCounts)
    live: LiveFeeds = field(default_factory=LiveFeeds)
    deadline_s: float | None = None  # each subscription event's own deadline
    caller: str | None = None  # whom its upstream calls are made for (an API key's id)
    order_cursors: Cursors = _OWN_ORDER_CURSORS  # sealed: they carry a source's own cursor
    # A subscription's compiled event completion (resolvers.compiled.compile_events):
    # the event's payload in, its result out; None: graphql-core completes each event.
    complete_event: Callable[[RequestContext, Any], Awaitable[ExecutionResult]] | None = None

    @classmethod
    def create(
        cls,
        cached: CachedUpstreams,
        *,
        queue: QueueReader,
        access: Access = FULL_ACCESS,
        live: LiveFeeds | None = None,
        deadline_s: float | None = None,
        caller: str | None = None,
        order_cursors: Cursors = _OWN_ORDER_CURSORS,
    ) -> RequestContext:
        """A fresh context: its loaders (and so its cache keys) carry the caller's tenant."""
        counts = CacheCounts()
        loaders = Loaders.for_request(cached, scope=access.tenant, counts=counts)
        return cls(
            cached=cached,
            loaders=loaders,
            queue=queue,
            access=access,
            counts=counts,
            live=live or LiveFeeds(),
            deadline_s=deadline_s,
            caller=caller,
            order_cursors=order_cursors,
        )

    @property
    def clock(self) -> Clock:
        """The process's one clock: "now" for every rule a resolver applies."""
        return self.cached.clock

    @property
    def oms_cancels_lines(self) -> bool:
        """Whether the OMS cancels some lines of an order (else whole orders only)."""
        return cancels_lines(self.cached.upstreams.oms)

    def renew(self) -> None:
        """Fresh loaders and counts: a subscription resolves each event as a new
        request would, never from what an earlier event loaded."""
        self.counts = CacheCounts()
        self.loaders = Loaders.for_request(
            self.cached, scope=self.access.tenant, counts=self.counts
        )

    def begin_event(self) -> None:
        """Start one subscription event as a new request: fresh loaders, its own
        deadline, and its upstream calls made for the subscriber. A transport may run
        each event in a task of its own (server-sent events do), where neither the
        deadline nor the caller the first event started is set."""
        self.renew()
        if self.deadline_s is not None:
            deadline.start(self.deadline_s)
        caller.start(self.caller)
