"""``/graphql``: GraphQL over HTTP, with everything that must hold before a resolver
runs.

In order, each step answering at once when it refuses: a saturated event loop (503
OVERLOADED, :class:`~gateway.capacity.LoopAdmission`), method (405 for any but GET
and POST, HEAD included), in dev mode the page's origin (403), ``Accept`` (406),
content type (415; simple-request types are refused against CSRF), body size (413),
JSON (400), the API key (401; a key in the URL in any mode), batching (off unless
enabled, then capped), capacity (429; for an event stream, live connections too:
503), the persisted-operation rules (partners run trusted documents only), document
limits (400 under ``application/graphql-response+json``, 200 under
``application/json``), a mutation over GET (405), static cost (as limits),
introspection and mutation scopes (403) and the caller's cost bucket (429). Only then
is the operation executed, with the caller's tenant and scopes in its context and the
request deadline running. Every refusal is one line in the audit trail.

A POST that accepts ``text/event-stream`` passes the same checks and gets its results
as server-sent events (the GraphQL over SSE protocol's distinct-connections mode):
one ``next`` event per result, then ``complete``. That is how subscriptions run over
HTTP. Its refusals are plain JSON with their status, as for any other request.

A client that goes away before its body is whole is its own abort: one INFO line and
status 499 in the request metrics, never a 500 or a traceback. An unexpected failure
is masked to INTERNAL_SERVER_ERROR with a correlation id (the traceback goes to the
log under it): the whole answer's, a 500, or in a batch only that operation's, beside
its siblings' answers. In dev mode, where a request without a key runs as an internal
console, only the gateway's own pages may send requests (as they alone may open a
WebSocket; :mod:`gateway.live.origin`), against DNS rebinding.

Why not strawberry's ASGI view (``strawberry.http.async_base_view``): everything
above happens before a document is parsed, and the view has no hook there. It reads
the body whole (``cross_web``'s ``StarletteRequestAdapter.get_body`` awaits
``request.body()``, unbounded), parses JSON, and ``execute_single`` hands the query
text straight to ``schema.execute``, which parses and validates it: no step runs the
token-level limits, the persisted-operation rules, static cost, scopes or the cost
bucket on the raw document first, nor answers from the response cache, nor runs a
compiled plan (:mod:`gateway.operations`) instead of the reference executor. Its
refusals are ``HTTPException``s with a reason, not our ``extensions.code`` bodies and
audit lines. Overriding ``execute_operation`` would re-write this module against the
view's internals.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response

from gateway.admission.documents import Analysis
from gateway.admission.gate import Gate
from gateway.auth.authenticate import (
    CREDENTIAL_HEADERS,
    Authenticator,
    presented_key_id,
    principal_for,
)
from gateway.auth.principal import Principal
from gateway.bodies import read_bounded
from gateway.capacity import InFlight, LoopAdmission
from gateway.error_format import format_error
from gateway.graphiql import content_security_policy, page_html
from gateway.live.origin import OriginPolicy
from gateway.live.sse import SseStreams, accepts_event_stream
from gateway.operations import Operations
from gateway.refusal import RequestRefused, audit_refusal, client_aborted
from gateway.settings import Settings
from resolvers.idempotency import RETRY_AFTER_S, SERVICE_UNAVAILABLE

log = logging.getLogger("ordergraph.http")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
# Content types a browser may send cross-site without a preflight: refused (CSRF).
SIMPLE_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data")
FORBIDDEN_ORIGIN = "FORBIDDEN_ORIGIN"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
METHODS = ("GET", "POST")
# A GET must carry one of these, which no cross-site form can set (CSRF).
PREFLIGHT_HEADERS = (*CREDENTIAL_HEADERS, "apollo-require-preflight", "x-requested-with")


class GraphQLEndpoint:
    def __init__(
        self,
        *,
        gate: Gate,
        operations: Operations,
        streams: SseStreams,
        authenticator: Authenticator | None,
        in_flight: InFlight,
        loop_admission: LoopAdmission,
        settings: Settings,
        origins: OriginPolicy | None,
    ) -> None:
        """``authenticator`` None: no key is ever valid (dev mode's console aside);
        ``origins`` None: any page may send requests."""
        self._gate = gate
        self._operations = operations
        self._streams = streams
        self._authenticator = authenticator
        self._in_flight = in_flight
        self._loop_admission = loop_admission
        self._settings = settings
        self._origins = origins
        self._ide = page_html() if settings.serves_graphiql else ""
        self._ide_headers = {"content-security-policy": content_security_policy(self._ide)}

    async def handle(self, request: Request) -> Response:
        accept = request.headers.get("accept", "")
        if request.method == "GET" and self._ide and "text/html" in accept:
            return HTMLResponse(self._ide, headers=self._ide_headers)
        # Results as events go through every check a plain request does; only their
        # refusals are plain JSON.
        stream = request.method == "POST" and accepts_event_stream(accept)
        media = JSON if stream else _negotiate(accept)
        principal: Principal | None = None
        try:
            self._loop_admission.check()  # first: a refusal must cost next to nothing
            if request.method not in METHODS:
                raise RequestRefused(
                    405,
                    METHOD_NOT_ALLOWED,
                    "/graphql answers GET (queries) and POST",
                    {"Allow": ", ".join(METHODS)},
                )
            self._check_origin(request)
            if media is None:
                raise RequestRefused(
                    406, "NOT_ACCEPTABLE", f"answers are {GRAPHQL_RESPONSE} or {JSON}"
                )
            payload = await self._payload(request)
            principal = await self._principal(request)
            if stream:
                return await self._stream(request, payload, principal)
            if isinstance(payload, list):
                return await self._batch(request, payload, principal, media)
            status, body, headers = await self._one(request, payload, principal, media)
        except ClientDisconnect:
            return client_aborted()
        except RequestRefused as refusal:
            if principal is None and refusal.key_id is None:
                refusal.key_id = presented_key_id(request.headers)  # refused before auth
            audit_refusal(refusal, principal)
            return _error_response(refusal, media or JSON)
        except Exception as exc:  # masked; its traceback is logged
            return _json(_failed(exc), 500, media or JSON, {})
        return _json(body, status, media, headers)

    def _check_origin(self, request: Request) -> None:
        origins = self._origins
        headers = request.headers
        if origins is not None and origins.foreign(headers, request.scope.get("server")):
            page = headers.get("origin") or headers.get("host", "")
            log.info("refused a request from the page at %r", page[:100])
            raise RequestRefused(
                403,
                FORBIDDEN_ORIGIN,
                "this page's origin may not use the gateway in dev mode; "
                "list it in OG_ALLOWED_ORIGINS",
            )

    async def _payload(self, request: Request) -> Any:
        if request.method == "GET":
            if not any(name in request.headers for name in PREFLIGHT_HEADERS):
                raise RequestRefused(
                    400,
                    "CSRF_PREVENTED",
                    "a GET query needs a header a cross-site form cannot send "
                    "(e.g. Authorization, X-API-Key or Apollo-Require-Preflight)",
                )
            params = request.query_params
            payload: dict[str, Any] = {"query": params.get("query")}
            for name in ("variables", "extensions"):
                if params.get(name):
                    payload[name] = _decode_json(params[name], name)
            for name in ("documentId", "id"):  # a trusted document, as over POST
                if params.get(name):
                    payload[name] = params[name]
            payload["operationName"] = params.get("operationName")
            return payload
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != JSON:
            raise RequestRefused(415, "UNSUPPORTED_MEDIA_TYPE", f"send the request as {JSON}")
        return _decode_json(await self._body(request), "body")

    async def _body(self, request: Request) -> bytes:
        limit = self._settings.max_body_bytes
        body = await read_bounded(request, limit)
        if body is None:
            raise RequestRefused(413, "PAYLOAD_TOO_LARGE", f"the body is limited to {limit} bytes")
        return body

    async def _stream(self, request: Request, payload: Any, principal: Principal) -> Response:
        """Results as server-sent events, once the operation is admitted."""
        return await self._streams.respond(
            request,
            lambda: self._gate.admit(payload, principal, invalid=400),
            lambda: self._principal(request),
        )

    async def _principal(self, request: Request) -> Principal:
        """The caller, or :class:`AuthError` (a :class:`RequestRefused`)."""
        return await principal_for(
            self._authenticator,
            request.headers,
            request.query_params,
            dev_mode=self._settings.dev_mode,
        )

    async def _batch(
        self, request: Request, payloads: list[Any], principal: Principal, media: str
    ) -> Response:
        if not self._settings.batching:
            raise RequestRefused(400, "BATCHING_DISABLED", "send one operation per request")
        limit = self._settings.max_batch
        if not payloads or len(payloads) > limit:
            raise RequestRefused(400, "BATCH_TOO_LARGE", f"1 to {limit} operations per batch")
        bodies = await asyncio.gather(
            *(self._answer(request, payload, principal, media) for payload in payloads)
        )
        return _json(bodies, 200, media, {})

    async def _answer(
        self, request: Request, payload: Any, principal: Principal, media: str
    ) -> dict[str, Any]:
        """One operation of a batch: its body, its refusal as a body, or its unexpected
        failure masked (the batch's other operations have run: their answers stand)."""
        try:
            return (await self._one(request, payload, principal, media))[1]
        except RequestRefused as refusal:
            audit_refusal(refusal, principal)
            return refusal.body()
        except Exception as exc:  # masked; its traceback is logged
            return _failed(exc)

    async def _one(
        self, request: Request, payload: Any, principal: Principal, media: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Admit and run one operation: (status, body, headers)."""
        invalid = 400 if media == GRAPHQL_RESPONSE else 200
        screen = _runs_over_get if request.method == "GET" else _runs_over_post
        with self._in_flight.claim():  # taken before admission, which may await Redis
            admitted = await self._gate.admit(payload, principal, invalid=invalid, screen=screen)
            headers: dict[str, str] = {}
            body = await self._operations.execute(
                admitted, queries_only=request.method == "GET", headers=headers
            )
        # A request error (the document did not validate) has no data at all; a field
        # error that nulled the whole answer still has data: null, and is a 200 -
        # unless every error is a retryable refusal that changed nothing (an
        # idempotency claim the claim store could not record): that is a 503 any
        # client or proxy knows to retry after Retry-After.
        if _unavailable(body):
            return 503, body, {"Retry-After": str(RETRY_AFTER_S)}
        return (200 if "data" in body else invalid), body, headers


def _unavailable(body: Mapping[str, Any]) -> bool:
    """True when the whole answer is SERVICE_UNAVAILABLE: no data, only such errors."""
    errors = body.get("errors") or ()
    return (
        bool(errors)
        and body.get("data") is None
        and all(e.get("extensions", {}).get("code") == SERVICE_UNAVAILABLE for e in errors)
    )


def _failed(exc: Exception) -> dict[str, Any]:
    """The body for an unexpected failure: masked, as an execution's own are, to
    INTERNAL_SERVER_ERROR with the correlation id its logged traceback has."""
    error = GraphQLError("Internal error.", original_error=exc)
    return {"errors": [format_error(error, suggestions=False)]}


def _runs_over_post(analysis: Analysis) -> None:
    """A plain request runs queries and mutations; subscriptions need a stream."""
    if analysis.kind == "subscription":
        raise RequestRefused(
            400,
            "SUBSCRIPTION_NEEDS_STREAM",
            "subscriptions run over server-sent events (POST with Accept: "
            "text/event-stream) or a graphql-transport-ws WebSocket",
        )


def _runs_over_get(analysis: Analysis) -> None:
    """A GET runs queries only: a mutation must never be a link to follow."""
    if analysis.kind == "mutation":
        raise RequestRefused(405, METHOD_NOT_ALLOWED, "mutations need POST", {"Allow": "POST"})
    _runs_over_post(analysis)


def _negotiate(accept: str) -> str | None:
    """The answer's media type: graphql-response+json when accepted, else JSON
    (also for a missing Accept, as legacy clients send none); ``None``: 406."""
    if not accept.strip():
        return JSON
    types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    if GRAPHQL_RESPONSE in types:
        return GRAPHQL_RESPONSE
    if types & {JSON, "application/*", "*/*"}:
        return JSON
    return None


def _decode_json(raw: bytes | str, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RequestRefused(400, "BAD_REQUEST", f"{what} is not valid JSON") from None


def _error_response(refusal: RequestRefused, media: str) -> Response:
    return _json(refusal.body(), refusal.status, media, refusal.headers)


def _json(body: Any, status: int, media: str, headers: Mapping[str, str]) -> Response:
    return Response(orjson.dumps(body), status, dict(headers), media_type=media)
