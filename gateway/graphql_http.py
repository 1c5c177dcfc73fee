"""``/graphql``: GraphQL over HTTP, with everything that must hold before a resolver
runs.

In order, each step answering at once when it refuses: method, ``Accept`` (406),
content type (415; simple-request types are refused against CSRF), body size (413),
JSON (400), batching (off unless enabled, then capped), the API key (401), the
persisted-operation rules (partners run trusted documents only), document limits
and static cost (400 under ``application/graphql-response+json``, 200 under
``application/json``), introspection and mutation scopes (403), a mutation over GET
(405) and the caller's cost bucket (429). Only then is the operation executed, with
the caller's tenant and scopes in its context and the request deadline running.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import strawberry
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.http.ides import get_graphql_ide_html
from strawberry.types.graphql import OperationType

from gateway.admission.bucket import BucketState, CostBucket
from gateway.admission.cost import CostModel, check_cost
from gateway.admission.documents import AdmissionError, Analysis, DocumentAnalyser
from gateway.audit import audit
from gateway.auth.authenticate import Authenticator, AuthError
from gateway.auth.principal import INTERNAL_DEV, TIERS, Principal
from gateway.errors import format_error
from gateway.observability import record_operation
from gateway.persisted import PersistedQueries, PersistedQueryError
from resolvers.access import Access, ScopeMap
from resolvers.context import RequestContext
from sources.cache.upstreams import CachedUpstreams
from sources.resilience import deadline

log = logging.getLogger("ordergraph.http")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
# Content types a browser may send cross-site without a preflight: refused (CSRF).
SIMPLE_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data")
# A GET must carry one of these, which no cross-site form can set (CSRF).
PREFLIGHT_HEADERS = ("authorization", "x-api-key", "apollo-require-preflight", "x-requested-with")


@dataclass(frozen=True, slots=True)
class HttpOptions:
    max_body_bytes: int = 1_000_000
    batching: bool = False
    max_batch: int = 10
    dev_mode: bool = False
    # Operations executing at once. Past it a request is refused at once (429
    # OVERLOADED) rather than queued: a saturated loop would otherwise make every
    # answer late, far past the deadline.
    max_in_flight: int = 64


class Refusal(Exception):
    """A request answered without executing: an HTTP status and a coded error."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


class GraphQLEndpoint:
    def __init__(
        self,
        *,
        schema: strawberry.Schema,
        scope_map: ScopeMap,
        analyser: DocumentAnalyser,
        cost_model: CostModel,
        authenticator: Callable[[], Authenticator | None],
        cached: Callable[[], CachedUpstreams],
        persisted: Callable[[], PersistedQueries],
        bucket: Callable[[], CostBucket],
        options: HttpOptions,
        deadline_s: float,
    ) -> None:
        self._schema = schema
        self._scope_map = scope_map
        self._analyser = analyser
        self._cost_model = cost_model
        self._authenticator = authenticator
        self._cached = cached
        self._persisted = persisted
        self._bucket = bucket
        self._options = options
        self._deadline_s = deadline_s
        self._ide = get_graphql_ide_html("graphiql")
        self._in_flight = 0

    async def handle(self, request: Request) -> Response:
        accept = request.headers.get("accept", "")
        if request.method == "GET" and self._options.dev_mode and "text/html" in accept:
            return HTMLResponse(self._ide)
        media = _negotiate(accept)
        try:
            if media is None:
                raise Refusal(406, "NOT_ACCEPTABLE", f"answers are {GRAPHQL_RESPONSE} or {JSON}")
            payload = await self._payload(request)
            principal = await self._principal(request)
            if isinstance(payload, list):
                return await self._batch(request, payload, principal, media)
            status, body, headers = await self._one(request, payload, principal, media)
        except Refusal as refusal:
            return _error_response(refusal, media or JSON)
        return _json(body, status, media, headers)

    async def _payload(self, request: Request) -> Any:
        if request.method == "GET":
            if not any(name in request.headers for name in PREFLIGHT_HEADERS):
                raise Refusal(
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
            payload["operationName"] = params.get("operationName")
            return payload
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != JSON:
            raise Refusal(415, "UNSUPPORTED_MEDIA_TYPE", f"send the request as {JSON}")
        return _decode_json(await self._body(request), "body")

    async def _body(self, request: Request) -> bytes:
        limit = self._options.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise Refusal(413, "PAYLOAD_TOO_LARGE", f"the body is limited to {limit} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise Refusal(413, "PAYLOAD_TOO_LARGE", f"the body is limited to {limit} bytes")
        return bytes(body)

    async def _principal(self, request: Request) -> Principal:
        authenticator = self._authenticator()
        has_key = "authorization" in request.headers or "x-api-key" in request.headers
        if authenticator is None or (self._options.dev_mode and not has_key):
            if not self._options.dev_mode:
                raise Refusal(401, "API_KEY_MISSING", "an API key is required")
            return INTERNAL_DEV
        try:
            return await authenticator.authenticate(request.headers, request.query_params)
        except AuthError as exc:
            audit(outcome="denied", code=exc.code, key_id=None, tenant=None)
            raise Refusal(exc.status, exc.code, exc.message) from None

    async def _batch(
        self, request: Request, payloads: list[Any], principal: Principal, media: str
    ) -> Response:
        if not self._options.batching:
            raise Refusal(400, "BATCHING_DISABLED", "send one operation per request")
        if not payloads or len(payloads) > self._options.max_batch:
            raise Refusal(
                400, "BATCH_TOO_LARGE", f"1 to {self._options.max_batch} operations per batch"
            )
        bodies = await asyncio.gather(
            *(self._answer(request, payload, principal, media) for payload in payloads)
        )
        return _json(bodies, 200, media, {})

    async def _answer(
        self, request: Request, payload: Any, principal: Principal, media: str
    ) -> dict[str, Any]:
        """One operation of a batch: its body, or its refusal as a body."""
        try:
            return (await self._one(request, payload, principal, media))[1]
        except Refusal as refusal:
            return _refusal_body(refusal)

    async def _one(
        self, request: Request, payload: Any, principal: Principal, media: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Admit and run one operation: (status, body, headers)."""
        if self._in_flight >= self._options.max_in_flight:
            raise Refusal(
                429, "OVERLOADED", "the gateway is at capacity: retry shortly", {"Retry-After": "1"}
            )
        if not isinstance(payload, dict):
            raise Refusal(400, "BAD_REQUEST", "an operation is a JSON object")
        try:
            query, _trusted = await self._persisted().resolve(
                payload, trusted_only=principal.client_class == "partner"
            )
        except PersistedQueryError as exc:
            if exc.status == 403:
                audit_denial(principal, exc.code)
            raise Refusal(exc.status, exc.code, exc.message) from None
        if not isinstance(query, str) or not query.strip():
            raise Refusal(400, "BAD_REQUEST", "no GraphQL query in the request")
        variables = payload.get("variables") or {}
        operation_name = payload.get("operationName")
        if not isinstance(variables, dict) or not isinstance(operation_name, str | None):
            raise Refusal(400, "BAD_REQUEST", "variables must be an object, operationName a string")

        invalid = 400 if media == GRAPHQL_RESPONSE else 200
        try:
            analysis = self._analyser.analyse(query, operation_name)
            cost = self._cost_model.requested_cost(analysis, variables)
            check_cost(cost, self._analyser.limits)
        except AdmissionError as exc:
            raise Refusal(invalid, exc.code, exc.message) from None
        access = self._scope_map.access(
            principal.tenant, principal.scopes, internal=principal.client_class == "console"
        )
        self._authorise(request, analysis, principal, access.denied)

        tier = TIERS[principal.tier]
        if principal is INTERNAL_DEV:  # anonymous in dev mode: nothing to charge it to
            state = BucketState(True, tier.capacity, tier.capacity, tier.refill_per_s, 0.0)
        else:
            state = await self._bucket().take(
                principal.key_id, cost, tier.capacity, tier.refill_per_s
            )
        cost_report = {
            "requestedQueryCost": cost,
            "throttleStatus": {
                "maximumAvailable": state.capacity,
                "currentlyAvailable": round(state.available, 1),
                "restoreRate": state.refill_per_s,
            },
        }
        if not state.allowed:
            audit_denial(principal, "THROTTLED", analysis)
            retry = (
                "1" if state.retry_after_s == float("inf") else str(int(state.retry_after_s) + 1)
            )
            raise Refusal(
                429, "THROTTLED", "the cost budget of this API key is spent", {"Retry-After": retry}
            )

        self._in_flight += 1
        try:
            body = await self._execute(request, query, variables, analysis, access)
        finally:
            self._in_flight -= 1
        if analysis.kind == "mutation":
            audit(
                outcome="executed" if "errors" not in body else "failed",
                key_id=principal.key_id,
                tenant=principal.tenant,
                operation=analysis.name,
                document_hash=analysis.document_hash,
            )
        cost_report["actualQueryCost"] = _objects(body.get("data"))
        body.setdefault("extensions", {})["cost"] = cost_report
        # A request error (the document did not validate) has no data at all; a field
        # error that nulled the whole answer still has data: null, and is a 200.
        return (200 if "data" in body else invalid), body, {}

    def _authorise(
        self, request: Request, analysis: Analysis, principal: Principal, denied: frozenset[str]
    ) -> None:
        if analysis.uses_introspection and not (
            self._options.dev_mode or principal.has("introspection")
        ):
            audit_denial(principal, "INTROSPECTION_DISABLED", analysis)
            raise Refusal(
                403, "INTROSPECTION_DISABLED", "introspection needs the introspection scope"
            )
        if analysis.kind == "mutation":
            if request.method == "GET":
                raise Refusal(405, "METHOD_NOT_ALLOWED", "mutations need POST", {"Allow": "POST"})
            refused = analysis.coordinates & denied
            if refused:
                audit_denial(principal, "FORBIDDEN", analysis, refused)
                raise Refusal(403, "FORBIDDEN", "this API key may not run this mutation")
        elif analysis.coordinates & denied:
            # Queries still run: those fields come back null with UNAUTHORIZED_FIELD.
            audit_denial(principal, "UNAUTHORIZED_FIELD", analysis, analysis.coordinates & denied)

    async def _execute(
        self,
        request: Request,
        query: str,
        variables: dict[str, Any],
        analysis: Analysis,
        access: Access,
    ) -> dict[str, Any]:
        context = RequestContext.create(self._cached(), access=access, request=request)
        deadline.start(self._deadline_s)
        allowed = {OperationType.QUERY} if request.method == "GET" else None
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await self._schema.execute(
                query,
                variable_values=variables,
                context_value=context,
                operation_name=analysis.name,
                allowed_operation_types=allowed,
            )
            outcome = ("partial" if result.data is not None else "error") if result.errors else "ok"
        finally:
            elapsed = time.perf_counter() - started
            record_operation(analysis.name, analysis.kind, outcome, elapsed)
        body: dict[str, Any] = {}
        request_error = result.data is None and all(e.path is None for e in result.errors or ())
        if not request_error:
            body["data"] = result.data
        if result.errors:
            body["errors"] = [format_error(error) for error in result.errors]
        if result.extensions:
            body["extensions"] = dict(result.extensions)
        return body


def audit_denial(
    principal: Principal,
    code: str,
    analysis: Analysis | None = None,
    denied: frozenset[str] = frozenset(),
) -> None:
    audit(
        outcome="denied",
        code=code,
        key_id=principal.key_id,
        tenant=principal.tenant,
        operation=None if analysis is None else analysis.name,
        document_hash=None if analysis is None else analysis.document_hash,
        denied=denied,
    )


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
        raise Refusal(400, "BAD_REQUEST", f"{what} is not valid JSON") from None


def _objects(data: Any) -> int:
    """Objects in an answer: the cost the operation actually had (1 per object)."""
    if isinstance(data, dict):
        return 1 + sum(_objects(value) for value in data.values())
    if isinstance(data, list):
        return sum(_objects(item) for item in data)
    return 0


def _refusal_body(refusal: Refusal) -> dict[str, Any]:
    return {"errors": [{"message": refusal.message, "extensions": {"code": refusal.code}}]}


def _error_response(refusal: Refusal, media: str) -> Response:
    return _json(_refusal_body(refusal), refusal.status, media, refusal.headers)


def _json(body: Any, status: int, media: str, headers: Mapping[str, str]) -> Response:
    return Response(orjson.dumps(body), status, dict(headers), media_type=media)
