"""The GraphQL endpoint: strawberry's ASGI view with orjson, a fresh context (and so
fresh dataloaders) per request, and coded errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.async_base_view import AsyncHTTPRequestAdapter
from strawberry.types import ExecutionResult

from gateway.errors import format_error
from gateway.observability import record_operation
from resolvers.context import RequestContext
from sources.cache.upstreams import CachedUpstreams
from sources.resilience import deadline


class OrderGraphView(GraphQL[RequestContext, None]):
    def __init__(
        self,
        *args: Any,
        cached: Callable[[], CachedUpstreams],
        deadline_s: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._cached = cached
        self._deadline_s = deadline_s

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        # Each request runs in its own task: the deadline holds for this one only.
        deadline.start(self._deadline_s)
        return RequestContext.create(self._cached(), request=request)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: RequestContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Run one operation and record it: name, kind, outcome and duration."""
        started = time.perf_counter()
        outcome = "rejected"
        try:
            result = await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
            failed = "error" if result.data is None else "partial"
            outcome = failed if result.errors else "ok"
            return result
        finally:
            seconds = time.perf_counter() - started
            record_operation(context.operation_name, context.operation_kind, outcome, seconds)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            response["errors"] = [format_error(error) for error in result.errors]
        if result.extensions:
            response["extensions"] = result.extensions
        return response
