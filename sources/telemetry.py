"""Metrics and trace spans for upstream calls, dataloader batches, circuit breakers,
bulkheads and the cache.

Everything here is recorded once per upstream call or per batch, never per field.
Metrics go to prometheus_client's default registry; spans go to whatever
OpenTelemetry tracer provider the process installed. An upstream request's span is
OpenTelemetry's aiohttp instrumentation's (:func:`client_tracing`, on each source's
session); a batch's is made here, and skipped while no provider is installed.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from contextvars import ContextVar
from time import perf_counter
from types import SimpleNamespace

import aiohttp
import yarl
from opentelemetry import trace
from opentelemetry.instrumentation._semconv import _StabilityMode
from opentelemetry.instrumentation.aiohttp_client import create_trace_config
from opentelemetry.instrumentation.utils import is_http_instrumentation_enabled
from opentelemetry.propagate import inject
from opentelemetry.trace import Span, SpanKind
from opentelemetry.util.types import AttributeValue
from prometheus_client import Counter, Gauge, Histogram

from sources.resilience.breaker import CLOSED, HALF_OPEN, OPEN

_tracer = trace.get_tracer("ordergraph")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

UPSTREAM_REQUESTS = Counter(
    "og_upstream_requests_total",
    "Calls to upstream sources, by outcome.",
    ["source", "operation", "outcome"],
)
UPSTREAM_DURATION = Histogram(
    "og_upstream_request_duration_seconds",
    "Upstream call latency, whatever the outcome.",
    ["source", "operation"],
    buckets=LATENCY_BUCKETS,
)
UPSTREAM_BATCH_SIZE = Histogram(
    "og_upstream_batch_size",
    "Ids asked for in one upstream call.",
    ["source", "operation"],
    buckets=(1, 2, 5, 10, 20, 50, 100),
)
UPSTREAM_RETRIES = Counter("og_upstream_retries_total", "Upstream call retries.", ["source"])
UPSTREAM_THROTTLE_WAITS = Counter(
    "og_upstream_throttle_waits_total",
    "Waits a source's rate limit asked for (HTTP 429), taken within the request deadline.",
    ["source"],
)
# Each worker has its own breakers: under several workers, one series per live worker
# (a ``pid`` label); a dead worker's go with it.
CIRCUIT_STATE = Gauge(
    "og_circuit_state",
    "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
    ["source"],
    multiprocess_mode="liveall",
)
CIRCUIT_TRANSITIONS = Counter(
    "og_circuit_transitions_total", "Circuit breaker state changes.", ["source", "to"]
)
BULKHEAD_REJECTIONS = Counter(
    "og_bulkhead_rejections_total",
    "Calls refused because a source's bulkhead was full.",
    ["source"],
)
CACHE_LOOKUPS = Counter(
    "og_cache_lookups_total", "Cache-through lookups by result.", ["source", "result"]
)

CIRCUIT_STATES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}
_circuit: dict[str, str] = {}  # source -> last state set, for counting transitions


_NO_SPAN = nullcontext(trace.INVALID_SPAN)
_RequestStart = Callable[
    [aiohttp.ClientSession, SimpleNamespace, aiohttp.TraceRequestStartParams], Awaitable[object]
]


def tracer_installed() -> bool:
    """Whether a tracer provider is installed: spans are recorded only then, and every
    span-making step is skipped until one is."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def span(
    name: str, kind: SpanKind, attributes: dict[str, AttributeValue]
) -> AbstractContextManager[Span]:
    """A new current span, or none at all while no tracer provider is installed: even
    the no-op API costs about 10 µs a span."""
    if tracer_installed():
        return _tracer.start_as_current_span(name, kind=kind, attributes=attributes)
    return _NO_SPAN


class UpstreamCall:
    """What the caller of ``upstream_call`` sees: where to say how the call went."""

    __slots__ = ("batch_size", "operation", "outcome", "source")

    def __init__(self, source: str, operation: str, batch_size: int) -> None:
        self.source = source
        self.operation = operation
        self.batch_size = batch_size
        self.outcome: str | None = None  # None: "ok", or "error" if an exception escapes


_current_call: ContextVar[UpstreamCall | None] = ContextVar("upstream_call", default=None)


@asynccontextmanager
async def upstream_call(
    source: str, operation: str, batch_size: int
) -> AsyncIterator[UpstreamCall]:
    """One upstream request's count, latency and batch size. Its CLIENT span is the
    aiohttp instrumentation's (:func:`client_tracing`), which this names the source,
    operation and batch size on."""
    call = UpstreamCall(source, operation, batch_size)
    token = _current_call.set(call)
    started = perf_counter()
    try:
        yield call
    except asyncio.CancelledError:
        call.outcome = call.outcome or "cancelled"  # the caller gave up: not the source's fault
        raise
    except BaseException:
        call.outcome = call.outcome or "error"
        raise
    finally:
        _current_call.reset(token)
        requests, duration, sizes = _call_series(source, operation, call.outcome or "ok")
        duration.observe(perf_counter() - started)
        requests.inc()
        sizes.observe(batch_size)


def _name_the_call(span: Span, _params: aiohttp.TraceRequestStartParams) -> None:
    call = _current_call.get()
    if call is not None and span.is_recording():
        span.set_attributes(
            {
                "og.source": call.source,
                "og.operation": call.operation,
                "og.batch_size": call.batch_size,
            }
        )


def _without_query(url: yarl.URL) -> str:
    return str(url.with_query(None))  # ids in a query are the caller's business


def client_tracing() -> aiohttp.TraceConfig:
    """For a source's session: a CLIENT span per HTTP request (OpenTelemetry's aiohttp
    instrumentation, stable HTTP conventions, the URL without its query), carrying
    the W3C trace context (``traceparent``) upstream; with tracing off, an incoming
    trace passes through."""
    config = create_trace_config(
        url_filter=_without_query,
        request_hook=_name_the_call,
        sem_conv_opt_in_mode=_StabilityMode.HTTP,
    )
    [start] = config.on_request_start
    config.on_request_start[0] = _spans_only_when_tracing(start)
    return config


def _spans_only_when_tracing(start: _RequestStart) -> _RequestStart:
    """The instrumentation's request start, while a tracer provider is installed.

    Without one it would still build a span's attributes (parsing the URL) and a
    non-recording span carrying the current span's context, only to inject that
    context into the request's headers and end the span: an eighth of the CPU of a
    single order read without a cache. Here that injection is all that is done, on the
    same conditions (instrumentation not suppressed, URL not excluded). The request's
    end and exception callbacks see no span and do nothing (the durations they would
    record go to OpenTelemetry metrics, which the process does not collect)."""

    async def on_request_start(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        if tracer_installed():
            await start(session, context, params)
        elif is_http_instrumentation_enabled() and not context.excluded_urls.url_disabled(
            str(params.url)
        ):
            inject(params.headers)

    return on_request_start


@asynccontextmanager
async def loader_batch(source: str, kind: str, size: int) -> AsyncIterator[None]:
    """An INTERNAL span around one dataloader batch (its upstream calls nest inside)."""
    attributes: dict[str, AttributeValue] = {
        "og.source": source,
        "og.kind": kind,
        "og.batch_size": size,
    }
    with span(f"load {kind}", SpanKind.INTERNAL, attributes):
        yield


@functools.cache
def _call_series(source: str, operation: str, outcome: str) -> tuple[Counter, Histogram, Histogram]:
    """The metric children of one kind of call, kept: ``labels()`` takes a lock and
    costs microseconds."""
    return (
        UPSTREAM_REQUESTS.labels(source, operation, outcome),
        UPSTREAM_DURATION.labels(source, operation),
        UPSTREAM_BATCH_SIZE.labels(source, operation),
    )


def count_retry(source: str) -> None:
    UPSTREAM_RETRIES.labels(source).inc()


def count_throttle_wait(source: str) -> None:
    UPSTREAM_THROTTLE_WAITS.labels(source).inc()


def set_circuit_state(source: str, state: str) -> None:
    """Set the breaker gauge to ``state`` ("closed", "half_open" or "open"), counting a
    transition when it differs from the last state set (a breaker starts closed)."""
    value = CIRCUIT_STATES.get(state)
    if value is None:
        raise ValueError(f"unknown circuit state {state!r}; expected one of {list(CIRCUIT_STATES)}")
    CIRCUIT_STATE.labels(source).set(value)
    if _circuit.get(source, CLOSED) != state:
        CIRCUIT_TRANSITIONS.labels(source, state).inc()
    _circuit[source] = state


def count_bulkhead_rejection(source: str) -> None:
    BULKHEAD_REJECTIONS.labels(source).inc()


def count_cache(source: str, hits: int, misses: int, stale: int) -> None:
    """Add one batch's (or one request's) cache lookups."""
    for result, count in (("hit", hits), ("miss", misses), ("stale", stale)):
        if count:
            _cache_series(source, result).inc(count)


@functools.cache
def _cache_series(source: str, result: str) -> Counter:
    """One source's lookups with one result, kept: ``labels()`` takes a lock."""
    return CACHE_LOOKUPS.labels(source, result)
