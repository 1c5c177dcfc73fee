"""What every resolver of one request can reach."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from resolvers.loaders import Loaders
from sources.cache.through import CacheCounts
from sources.cache.upstreams import CachedUpstreams

INTERNAL_SCOPE = "*"  # the tenant scope of internal callers: every account's orders


@dataclass(slots=True)
class RequestContext:
    cached: CachedUpstreams
    loaders: Loaders
    scope: str = INTERNAL_SCOPE
    counts: CacheCounts = field(default_factory=CacheCounts)
    request: Any = None  # the HTTP request, for the edge's own use
    operation_kind: str = "unknown"  # query, mutation or subscription, once parsed
    operation_name: str | None = None  # the executed operation's name, if it has one

    @classmethod
    def create(
        cls, cached: CachedUpstreams, *, scope: str = INTERNAL_SCOPE, request: Any = None
    ) -> RequestContext:
        counts = CacheCounts()
        loaders = Loaders.for_request(cached, scope=scope, counts=counts)
        return cls(cached=cached, loaders=loaders, scope=scope, counts=counts, request=request)
