"""Observability at the HTTP edge: JSON logs carrying the request id, a request
middleware (request id, HTTP metrics, OpenTelemetry's SERVER span), GraphQL operation metrics, the
``/metrics`` endpoint and the tracing setup.

Everything is recorded once per request or per operation, never per field.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hmac
import logging
import os
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextvars import ContextVar
from pathlib import Path
from time import perf_counter
from typing import Any, TextIO, cast
from urllib.parse import parse_qsl, urlsplit

import orjson
from opentelemetry import context, trace
from opentelemetry.instrumentation._semconv import (
    _get_semconv_opt_in_modes,
    _OpenTelemetryStabilitySignalType,
    _report_new,
    _report_old,
    _StabilityMode,
)
from opentelemetry.instrumentation.asgi import (
    OpenTelemetryMiddleware,
    asgi_getter,
    get_default_span_details,
    get_host_port_url_tuple,
)
from opentelemetry.instrumentation.propagators import get_global_response_propagator
from opentelemetry.instrumentation.utils import is_http_instrumentation_enabled
from opentelemetry.propagate import extract
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.semconv._incubating.attributes.http_attributes import HTTP_URL
from opentelemetry.semconv.attributes.url_attributes import URL_QUERY
from opentelemetry.trace import Span
from opentelemetry.util.http import (
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS,
    get_custom_headers,
)
from opentelemetry.util.types import AttributeValue
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from pythonjsonlogger.orjson import OrjsonFormatter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sources.telemetry import LATENCY_BUCKETS, tracer_installed

request_id: ContextVar[str] = ContextVar("request_id", default="-")

HTTP_REQUESTS = Counter(
    "og_http_requests_total", "HTTP requests served.", ["path", "method", "status"]
)
HTTP_DURATION = Histogram(
    "og_http_request_duration_seconds",
    "HTTP request latency, until the response is sent.",
    ["path"],
    buckets=(*LATENCY_BUCKETS, 10.0),
)
GRAPHQL_OPERATIONS = Counter(
    "og_graphql_operations_total", "GraphQL operations executed.", ["operation", "kind", "outcome"]
)
GRAPHQL_DURATION = Histogram(
    "og_graphql_operation_duration_seconds",
    "GraphQL operation latency.",
    ["kind"],
    buckets=(*LATENCY_BUCKETS, 10.0),
)
# Under several workers: the sum over the live ones (a dead worker's connections are gone).
LIVE_CONNECTIONS = Gauge(
    "og_live_connections",
    "WebSockets and event streams open.",
    ["transport"],
    multiprocess_mode="livesum",
)
LIVE_EVENTS = Counter("og_live_events_total", "Subscription results sent.", ["transport"])

OTHER = "other"  # the path label of unrouted requests, and the method label of odd methods
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
REDACTED = "REDACTED"  # what a span shows for a value left out (OpenTelemetry's word)
_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
# Request and response headers whose values a span never shows, whatever headers the
# operator has the instrumentation capture (OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*).
_SECRET_HEADERS = ("authorization", "cookie", "api.?key", "token", "secret")  # regexes


# ---- logging ---------------------------------------------------------------------


class _LogHandler(logging.StreamHandler[TextIO]):
    """The handler ``configure_logging`` installs, recognisable so it is never doubled."""


def _add_request_id(record: logging.LogRecord) -> bool:
    record.request_id = request_id.get()
    return True


def configure_logging(level: str, fmt: str = "json", *, stream: TextIO | None = None) -> None:
    """Send every log record (uvicorn's too) to ``stream`` (stdout by default), as
    one JSON object per line (``fmt="json"``) or readable text (``"text"``), each
    with the current request id. Calling again replaces the previous setup.

    uvicorn reinstalls its own handlers when it builds its config unless told
    ``log_config=None``.
    """
    handler = _LogHandler(stream or sys.stdout)
    handler.addFilter(_add_request_id)
    if fmt == "json":
        handler.setFormatter(
            OrjsonFormatter(
                ["levelname", "name", "message", "request_id"],
                rename_fields={"levelname": "level", "name": "logger"},
                timestamp=True,
            )
        )
    elif fmt == "text":
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    else:
        raise ValueError(f"unknown log format {fmt!r}; expected 'json' or 'text'")
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _LogHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True


# ---- the request middleware ------------------------------------------------------


class RequestObservability:
    """Pure ASGI middleware: per HTTP request, a request id (kept from a sane
    ``X-Request-ID`` or generated, set in ``request_id`` and echoed in the response),
    the HTTP metrics, and a SERVER span continuing an incoming W3C trace:
    OpenTelemetry's ASGI instrumentation's, under the stable HTTP conventions, named
    after the matched route once the app has routed the request. The span shows the
    query string's parameter names only, and no secret header's value.

    Excluded paths (scrapes, probes) and websockets pass through untouched.
    """

    def __init__(
        self, app: ASGIApp, *, exclude_paths: Iterable[str] = ("/metrics", "/healthz")
    ) -> None:
        self.app = app
        self.exclude_paths = frozenset(exclude_paths)
        # The conventions its attributes follow, unless the operator chose others.
        os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
        http = _OpenTelemetryStabilitySignalType.HTTP
        conventions = _get_semconv_opt_in_modes((http,))[http]  # as the instrumentation reads it
        self._traced = OpenTelemetryMiddleware(
            self._routed,
            default_span_details=functools.partial(_span_details, conventions),
            server_request_hook=_tag_request,
            http_capture_headers_sanitize_fields=[
                *_SECRET_HEADERS,
                *get_custom_headers(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS),
            ],
            exclude_spans=["receive", "send"],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exclude_paths:
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope["headers"])
        echoed = (b"x-request-id", rid.encode())
        status = 500  # what the client sees if the app fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), echoed]}
            await send(message)

        token = request_id.set(rid)
        started = perf_counter()
        try:
            if _tracing():
                await self._traced(scope, receive, send_with_id)
            else:
                await self._untraced(scope, receive, send_with_id)
        finally:
            method = scope["method"]
            method_label = method if method in _METHODS else OTHER
            requests, duration = _http_series(_route_template(scope), method_label, status)
            duration.observe(perf_counter() - started)
            requests.inc()
            request_id.reset(token)

    async def _untraced(self, scope: Scope, receive: Receive, send: Send) -> None:
        """What the ASGI instrumentation does while no tracer provider is installed (its
        span would not record), and no more: an incoming trace context (``traceparent``,
        baggage) becomes the current one, so upstream calls carry it on. Its span, the
        span's attributes and its wrappers of ``receive`` and ``send`` cost a few percent
        of a single order's CPU."""
        traced = self._traced
        if (
            trace.get_current_span() is not trace.INVALID_SPAN
            or not is_http_instrumentation_enabled()
            or (traced.excluded_urls and traced.excluded_urls.url_disabled(_url(scope)))
        ):
            await self._routed(scope, receive, send)
            return
        carrier = cast(dict[str, Any], scope)  # what the instrumentation's getter reads
        token = context.attach(extract(carrier, getter=asgi_getter))
        try:
            await self._routed(scope, receive, send)
        finally:
            context.detach(token)

    async def _routed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app, inside the request's span, which is named after the matched route
        as the response starts (it ends once the response is sent)."""

        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                path = _route_template(scope)
                current = trace.get_current_span()
                if path != OTHER and current.is_recording():
                    current.update_name(f"{scope['method']} {path}")
                    current.set_attribute("http.route", path)
            await send(message)

        await self.app(scope, receive, named)


def _tracing() -> bool:
    """Whether requests get spans: a tracer provider is installed, or a response
    propagator (which answers with the request's span) is set."""
    return tracer_installed() or get_global_response_propagator() is not None


def _url(scope: Scope) -> str:
    return get_host_port_url_tuple(scope)[2]


def _span_details(
    conventions: _StabilityMode, scope: Scope
) -> tuple[str, dict[str, AttributeValue]]:
    """The instrumentation's span name, and the attributes that would carry the query
    string (``url.query``, and ``http.url`` under the old conventions) with its values
    redacted: a GET's variables are customer data, and a key sent in the URL a secret.
    The instrumentation lays these over the attributes it collects before the span
    starts, so no span processor or sampler sees the query either."""
    name, attributes = get_default_span_details(cast(dict[str, Any], scope))
    query = scope.get("query_string")
    if query:
        redacted = _redacted_query(query)
        if _report_new(conventions):
            attributes[URL_QUERY] = redacted
        if _report_old(conventions):
            attributes[HTTP_URL] = f"{_url(scope)}?{redacted}"
    return name, attributes


def _redacted_query(query: bytes) -> str:
    """``query``'s distinct parameter names, each with the value ``REDACTED``; a name
    that is no short identifier (an email, a key sent as a name) is ``REDACTED`` too."""
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    names = (name if _PARAMETER_NAME.fullmatch(name) else REDACTED for name, _ in pairs)
    return "&".join(f"{name}={REDACTED}" for name in dict.fromkeys(names))


def _tag_request(span: Span, _scope: Scope) -> None:
    if span.is_recording():
        span.set_attribute("og.request_id", request_id.get())


@functools.cache
def _http_series(path: str, method: str, status: int) -> tuple[Counter, Histogram]:
    """The metric children of one kind of response, kept: ``labels()`` takes a lock.
    Every argument comes from a bounded set (odd methods are ``OTHER``)."""
    return (
        HTTP_REQUESTS.labels(path, method, status),
        HTTP_DURATION.labels(path),
    )


def _request_id(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The request's sane ``X-Request-ID``, else a new one."""
    for name, value in headers:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(text):
                return text
    return uuid.uuid4().hex


def _route_template(scope: Scope) -> str:
    """The matched route's path template (Starlette's router leaves the route in the
    scope), so path labels stay few whatever the URLs."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else OTHER


# ---- GraphQL operations and /metrics ---------------------------------------------


class OperationLabels:
    """The ``operation`` label: a trusted document's id (``doc:<id>``; the manifest is
    the operator's, so bounded), else the operation's name while fewer than ``limit``
    names have been admitted, else ``other``: a client choosing ``operationName`` cannot
    grow ``/metrics`` (3,000 names took it from 33 KB to 742 KB, for ever).

    With ``directory`` (the workers' multiprocess metrics directory, which lives as
    long as the series it holds) the admitted names are one list there, read and added
    to by every worker and every worker that replaces one, so ``limit`` bounds the
    whole server, not each process. A process reads the list only for a name it has
    not admitted yet while the list has room: at most ``limit`` + 1 short reads under
    a lock."""

    def __init__(self, limit: int, directory: str | None = None) -> None:
        self.limit = limit
        self._names: set[str] = set()  # admitted, as far as this process has seen
        self._full = False  # whether the list has reached ``limit`` (it never shrinks)
        self._shared = None if directory is None else Path(directory, "operation-names")

    def label(self, name: str | None, trusted_id: str | None = None) -> str:
        if trusted_id is not None:
            return f"doc:{trusted_id[:64]}"
        if not name:
            return "anonymous"
        name = name[:64]  # a GraphQL name: no line breaks
        if name in self._names or (not self._full and self._admit(name)):
            return name
        return OTHER

    def _admit(self, name: str) -> bool:
        """Whether ``name`` is admitted now: it was (by another process), or there was
        room for it."""
        with self._shared_list() as shared:
            if shared is not None:
                shared.seek(0)
                self._names.update(shared.read().splitlines())
            if name in self._names:
                return True
            if len(self._names) >= self.limit:
                self._full = True
                return False
            if shared is not None:
                shared.write(f"{name}\n")
            self._names.add(name)
            return True

    @contextlib.contextmanager
    def _shared_list(self) -> Iterator[TextIO | None]:
        """The shared list, locked against the other workers, or ``None`` without one."""
        if self._shared is None:
            yield None
            return
        with self._shared.open("a+", encoding="utf-8") as shared:
            fcntl.flock(shared, fcntl.LOCK_EX)  # released as the file closes
            yield shared


OPERATION_LABELS = OperationLabels(limit=200, directory=os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def record_operation(
    name: str | None, kind: str, outcome: str, seconds: float, *, trusted_id: str | None = None
) -> None:
    """Count one GraphQL operation (``kind``: query, mutation, subscription)."""
    operations, duration = _operation_series(
        OPERATION_LABELS.label(name, trusted_id), kind, outcome
    )
    operations.inc()
    duration.observe(seconds)


@functools.cache
def _operation_series(label: str, kind: str, outcome: str) -> tuple[Counter, Histogram]:
    """The metric children of one kind of operation, kept: ``labels()`` takes a lock.
    Every argument comes from a bounded set (``OperationLabels``, the manifest's ids)."""
    return GRAPHQL_OPERATIONS.labels(label, kind, outcome), GRAPHQL_DURATION.labels(kind)


# ---- operator endpoints ----------------------------------------------------------

Endpoint = Callable[[Request], Awaitable[Response]]


def is_operator(request: Request, token: str | None) -> bool:
    """Whether ``request`` carries the operator token (``Authorization: Bearer``);
    with no token configured, everyone is."""
    if token is None:
        return True
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    presented = presented.strip()  # empty never matches, whatever token is configured
    return (
        scheme.lower() == "bearer"
        and bool(presented)
        and hmac.compare_digest(presented.encode(), token.encode())
    )


def operator_only(endpoint: Endpoint, token: str | None) -> Endpoint:
    """``endpoint`` for the operator; 401 for anyone else."""

    async def guarded(request: Request) -> Response:
        if is_operator(request, token):
            return await endpoint(request)
        return JSONResponse(
            {"error": "the operator token (Authorization: Bearer) is required"},
            401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    return guarded


def operator_details(endpoint: Endpoint, token: str | None) -> Endpoint:
    """``endpoint``'s JSON answer in full for the operator; anyone else (a load
    balancer) gets its status code and ``status`` only."""

    async def guarded(request: Request) -> Response:
        response = await endpoint(request)
        if is_operator(request, token):
            return response
        body = orjson.loads(bytes(response.body))
        status = body.get("status") if isinstance(body, dict) else None
        return JSONResponse({"status": status}, response.status_code)

    return guarded


async def metrics_endpoint(request: Request) -> Response:
    """The default registry in the format the scraper asks for (Prometheus text or
    OpenMetrics); with several worker processes (``PROMETHEUS_MULTIPROC_DIR`` set by
    ``gateway.workers``), every worker's series added up."""
    registry = REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(registry), headers={"Content-Type": content_type})


# ---- tracing ---------------------------------------------------------------------

_exporters: set[tuple[str, str | None]] = set()  # (exporter, endpoint) already added


def tracer_provider(service_name: str = "ordergraph") -> TracerProvider:
    """The process's SDK tracer provider, installed as the global one on first use.

    OpenTelemetry lets the global provider be set once per process, so later
    callers (and tests) add their span processors to this one; ``service_name``
    only counts the first time.
    """
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        resource = Resource.create({SERVICE_NAME: service_name})
        trace.set_tracer_provider(TracerProvider(resource=resource))
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        raise RuntimeError(f"a non-SDK tracer provider is already installed: {provider!r}")
    return provider


def configure_tracing(
    exporter: str, *, endpoint: str | None = None, service_name: str = "ordergraph"
) -> None:
    """Export spans: ``"none"`` (the OpenTelemetry API stays a no-op), ``"console"``
    (stdout, for debugging) or ``"otlp"`` (OTLP/HTTP, batched, to ``endpoint``: a
    collector's base URL gets ``/v1/traces`` appended; ``None`` leaves it to the
    ``OTEL_EXPORTER_OTLP_*`` environment variables). A repeated call is a no-op."""
    if exporter not in ("none", "console", "otlp"):
        raise ValueError(f"unknown trace exporter {exporter!r}; expected none, console or otlp")
    if exporter == "none" or (exporter, endpoint) in _exporters:
        return
    processor: SpanProcessor
    if exporter == "console":
        processor = SimpleSpanProcessor(ConsoleSpanExporter())
    else:
        # Imported here: it pulls in protobuf and requests, which only this needs.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=_traces_url(endpoint)))
    tracer_provider(service_name).add_span_processor(processor)
    _exporters.add((exporter, endpoint))


def _traces_url(endpoint: str | None) -> str | None:
    if endpoint is None or urlsplit(endpoint).path.strip("/"):
        return endpoint
    return endpoint.rstrip("/") + "/v1/traces"
