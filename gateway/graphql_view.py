"""The GraphQL endpoint: strawberry's ASGI view with orjson, a fresh context (and so
fresh dataloaders) per request, and coded errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from gateway.errors import format_error
from resolvers.context import RequestContext
from sources.cache.upstreams import CachedUpstreams


class OrderGraphView(GraphQL[RequestContext, None]):
    def __init__(self, *args: Any, cached: Callable[[], CachedUpstreams], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cached = cached

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        return RequestContext.create(self._cached(), request=request)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            response["errors"] = [format_error(error) for error in result.errors]
        if result.extensions:
            response["extensions"] = result.extensions
        return response
