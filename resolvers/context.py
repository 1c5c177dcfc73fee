"""What every resolver of one request can reach."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resolvers.loaders import Loaders
from sources.clients import Upstreams


@dataclass(slots=True)
class RequestContext:
    upstreams: Upstreams
    loaders: Loaders
    request: Any = None  # the HTTP request, for the edge's own use

    @classmethod
    def create(cls, upstreams: Upstreams, request: Any = None) -> RequestContext:
        return cls(upstreams=upstreams, loaders=Loaders.for_request(upstreams), request=request)
