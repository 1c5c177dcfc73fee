"""Metrics and trace spans for upstream calls, dataloader batches, circuit breakers,
bulkheads and the cache.

Everything here is recorded once per upstream call or per batch, never per field.
Metrics go to prometheus_client's default registry; spans go to whatever
OpenTelemetry tracer provider the process installed, and are skipped while none is.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from time import perf_counter

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue
from prometheus_client import Counter, Gauge, Histogram

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
CIRCUIT_STATE = Gauge(
    "og_circuit_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", ["source"]
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

CIRCUIT_STATES = {"closed": 0, "half_open": 1, "open": 2}
_circuit: dict[str, str] = {}  # source -> last state set, for counting transitions


_NO_SPAN = nullcontext(trace.INVALID_SPAN)


def span(
    name: str,
    kind: SpanKind,
    attributes: dict[str, AttributeValue],
    context: Context | None = None,
) -> AbstractContextManager[Span]:
    """A new current span (a child of ``context``'s, if given), or none at all while no
    tracer provider is installed: even the no-op API costs about 10 µs a span. An
    incoming trace in ``context`` is made current either way, so that it passes
    through to upstream calls."""
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return _tracer.start_as_current_span(
            name, context=context, kind=kind, attributes=attributes
        )
    if context is None:
        return _NO_SPAN
    return trace.use_span(trace.get_current_span(context))


class UpstreamCall:
    """What the caller of ``upstream_call`` sees: the headers to send, and where to
    say how the call went."""

    __slots__ = ("outcome", "status")

    def __init__(self) -> None:
        self.outcome: str | None = None  # None: "ok", or "error" if an exception escapes
        self.status: int | None = None  # the upstream's HTTP status, when it answered

    def headers(self) -> dict[str, str]:
        """The W3C trace context (``traceparent``, ``tracestate``) to send: this call's
        span, or with tracing off the incoming trace, if any, passed through."""
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        return carrier


@asynccontextmanager
async def upstream_call(
    source: str, operation: str, batch_size: int
) -> AsyncIterator[UpstreamCall]:
    """A CLIENT span around one upstream request, and its count, latency and batch size."""
    attributes: dict[str, AttributeValue] = {
        "og.source": source,
        "og.operation": operation,
        "og.batch_size": batch_size,
    }
    call = UpstreamCall()
    started = perf_counter()
    with span(f"{source} {operation}", SpanKind.CLIENT, attributes) as current:
        try:
            yield call
        except asyncio.CancelledError:
            call.outcome = call.outcome or "cancelled"  # the caller gave up: not the source's fault
            raise
        except BaseException:
            call.outcome = call.outcome or "error"
            raise
        finally:
            outcome = call.outcome or "ok"
            requests, duration, sizes = _call_series(source, operation, outcome)
            duration.observe(perf_counter() - started)
            requests.inc()
            sizes.observe(batch_size)
            if current.is_recording():
                current.set_attribute("og.outcome", outcome)
                if call.status is not None:
                    current.set_attribute("http.response.status_code", call.status)
                if outcome != "ok":
                    current.set_status(Status(StatusCode.ERROR, outcome))


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


def set_circuit_state(source: str, state: str) -> None:
    """Set the breaker gauge to ``state`` ("closed", "half_open" or "open"), counting a
    transition when it differs from the last state set (a breaker starts closed)."""
    value = CIRCUIT_STATES.get(state)
    if value is None:
        raise ValueError(f"unknown circuit state {state!r}; expected one of {list(CIRCUIT_STATES)}")
    CIRCUIT_STATE.labels(source).set(value)
    if _circuit.get(source, "closed") != state:
        CIRCUIT_TRANSITIONS.labels(source, state).inc()
    _circuit[source] = state


def count_bulkhead_rejection(source: str) -> None:
    BULKHEAD_REJECTIONS.labels(source).inc()


def count_cache(source: str, hits: int, misses: int, stale: int) -> None:
    """Add one batch's (or one request's) cache lookups."""
    for result, count in (("hit", hits), ("miss", misses), ("stale", stale)):
        if count:
            CACHE_LOOKUPS.labels(source, result).inc(count)
