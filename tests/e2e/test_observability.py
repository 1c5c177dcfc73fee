"""Observability: request ids, JSON logs, metrics and W3C trace propagation, through
a real uvicorn, a real aiohttp client and a real upstream on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import msgspec
import pytest
from aiohttp import web
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from gateway.audit import audit
from gateway.observability import (
    RequestObservability,
    configure_logging,
    configure_tracing,
    metrics_endpoint,
    record_operation,
    request_id,
    tracer_provider,
)
from sources import telemetry
from sources.clients.http import SourceClient
from sources.options import SourceConfig
from sources.telemetry import loader_batch, upstream_call
from tests.support.ports import free_socket
from tests.support.secured import AUDIT_FIELDS
from tests.support.serving import serving

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "test-upstream"
BOOM = {"Connection": "close"}  # headers for /boom, so no client reuses its dropped connection
HEX32 = re.compile(r"[0-9a-f]{32}")
log = logging.getLogger("ordergraph.test")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]  # by name and labels


# ---- fixtures: spans, logs, a stand-in upstream and the served app ---------------


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """Finished spans, through the process's one SDK provider (whoever installed it)."""
    exporter = InMemorySpanExporter()
    tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # later modules' spans are dropped, not kept in memory


@pytest.fixture(autouse=True)
def _fresh_spans(spans: InMemorySpanExporter) -> None:
    spans.clear()


@contextlib.contextmanager
def captured_logs(fmt: str) -> Iterator[io.StringIO]:
    """What ``configure_logging`` writes, in a buffer; the logging setup before is
    restored afterwards."""
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.access")]
    saved = [(lg, list(lg.handlers), lg.level, lg.propagate) for lg in loggers]
    buffer = io.StringIO()
    configure_logging("info", fmt, stream=buffer)
    try:
        yield buffer
    finally:
        for lg, handlers, level, propagate in saved:
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate = propagate


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    with captured_logs("json") as buffer:
        yield buffer


def json_lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


@dataclass
class Upstream:
    """A loopback HTTP server standing in for a source; remembers request headers."""

    url: str
    seen: list[dict[str, str]]


@contextlib.asynccontextmanager
async def serving_aiohttp(app: web.Application) -> AsyncIterator[str]:
    """An aiohttp.web app on a loopback port, and its URL, until the block ends."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = free_socket()
    await web.SockSite(runner, sock).start()
    host, port = sock.getsockname()
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture(scope="module")
async def upstream() -> AsyncIterator[Upstream]:
    seen: list[dict[str, str]] = []

    async def items(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        ids = request.query["ids"].split(",")
        if "fail" in ids:
            return web.json_response({"error": "down"}, status=503)
        return web.json_response({"data": [{"id": i} for i in ids]})

    app = web.Application()
    app.router.add_get("/items", items)
    async with serving_aiohttp(app) as url:
        yield Upstream(url, seen)


@dataclass
class Served:
    url: str
    session: aiohttp.ClientSession

    async def get(self, path: str, **headers: str) -> tuple[int, dict[str, str], Any]:
        async with self.session.get(f"{self.url}{path}", headers=headers) as resp:
            body = await resp.json() if resp.content_type == "application/json" else None
            return resp.status, dict(resp.headers), body

    async def scrape(self) -> Samples:
        """Every sample of ``/metrics``."""
        async with self.session.get(f"{self.url}/metrics") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain; version=")
            text = await resp.text()
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }


def build_app(upstream: Upstream, session: aiohttp.ClientSession) -> Starlette:
    """A tiny app shaped like the gateway: a route that loads a batch from the
    upstream, one that fails, probes, metrics and a websocket."""

    async def items(request: Request) -> Response:
        ids = request.path_params["ids"].split(",")
        log.info("loading %d items", len(ids))
        async with (
            loader_batch(SOURCE, "item", len(ids)),
            upstream_call(SOURCE, "get_items", len(ids)) as call,
            session.get(f"{upstream.url}/items", params={"ids": ",".join(ids)}) as resp,
        ):
            if resp.status != 200:
                call.outcome = "unavailable"
                return JSONResponse({"error": "upstream unavailable"}, 502)
            body = await resp.json()
        await asyncio.create_task(_log_elsewhere())
        return JSONResponse({"request_id": request_id.get(), "items": body["data"]})

    async def boom(_request: Request) -> Response:
        """uvicorn drops the connection after an app error: ask for that with ``BOOM``."""
        raise RuntimeError("boom")

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    return Starlette(
        routes=[
            Route("/items/{ids}", items, methods=["GET"]),
            Route("/boom", boom),
            Route("/healthz", healthz),
            Route("/metrics", metrics_endpoint),
            WebSocketRoute("/ws", echo),
        ]
    )


async def _log_elsewhere() -> None:
    logging.getLogger("ordergraph.elsewhere").warning("from a task the request started")


@pytest.fixture(scope="module")
async def served(upstream: Upstream) -> AsyncIterator[Served]:
    """The app behind ``RequestObservability`` on a real uvicorn (its access log on,
    so that its lines go through ``configure_logging``'s handler too)."""
    async with aiohttp.ClientSession(trace_configs=[telemetry.client_tracing()]) as outgoing:
        app = RequestObservability(build_app(upstream, outgoing))
        async with serving(app, lifespan="off", log_config=None, log_level="info") as running:
            yield Served(*running)


async def server_span(spans: InMemorySpanExporter, rid: str) -> ReadableSpan:
    """The SERVER span of the request with id ``rid``; it ends just after the
    response is sent, so possibly after the client has read it."""
    for _ in range(200):
        for span in spans.get_finished_spans():
            if span.kind is SpanKind.SERVER and (span.attributes or {}).get("og.request_id") == rid:
                return span
        await asyncio.sleep(0.01)
    raise AssertionError(f"no server span for request {rid}")


def only(spans: InMemorySpanExporter, kind: SpanKind) -> ReadableSpan:
    [span] = [span for span in spans.get_finished_spans() if span.kind is kind]
    return span


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


# ---- request ids and logs --------------------------------------------------------


async def test_request_id_is_generated_and_echoed(served: Served) -> None:
    status, headers, body = await served.get("/items/1")
    assert status == 200
    assert HEX32.fullmatch(headers["X-Request-ID"])
    assert body["request_id"] == headers["X-Request-ID"]


async def test_a_sane_incoming_request_id_is_kept(served: Served) -> None:
    rid = "Edge_7.a-" + "x" * 119  # 128 characters, the most kept
    status, headers, body = await served.get("/items/1", **{"X-Request-ID": rid})
    assert (status, headers["X-Request-ID"], body["request_id"]) == (200, rid, rid)


@pytest.mark.parametrize("bad", ["", "two words", "semi;colon", "x" * 129, "<script>"])
async def test_an_odd_incoming_request_id_is_replaced(served: Served, bad: str) -> None:
    _, headers, body = await served.get("/items/1", **{"X-Request-ID": bad})
    assert HEX32.fullmatch(headers["X-Request-ID"])
    assert body["request_id"] == headers["X-Request-ID"]


async def test_error_responses_carry_the_request_id(served: Served) -> None:
    status, headers, _ = await served.get("/boom", **{"X-Request-ID": "boom-1"}, **BOOM)
    assert (status, headers["X-Request-ID"]) == (500, "boom-1")


async def test_every_log_line_of_a_request_carries_its_id(
    served: Served, json_logs: io.StringIO
) -> None:
    status, _, _ = await served.get("/items/1,2", **{"X-Request-ID": "log-test-1"})
    assert status == 200
    logging.getLogger("ordergraph.outside").info("between requests")

    lines = json_lines(json_logs)
    assert {(line["logger"], line["request_id"]) for line in lines} == {
        ("ordergraph.test", "log-test-1"),
        ("ordergraph.elsewhere", "log-test-1"),  # from a task: it inherits the context
        ("uvicorn.access", "log-test-1"),
        ("ordergraph.outside", "-"),
    }
    assert all(line.keys() >= {"timestamp", "level", "message"} for line in lines)
    [loading] = [line for line in lines if line["logger"] == "ordergraph.test"]
    assert (loading["level"], loading["message"]) == ("INFO", "loading 2 items")


def test_text_logs_show_the_request_id() -> None:
    with captured_logs("text") as buffer:
        token = request_id.set("text-1")
        try:
            log.info("hello")
        finally:
            request_id.reset(token)
        log.info("bye")
    first, second = buffer.getvalue().splitlines()
    assert first.endswith("INFO ordergraph.test [text-1] hello")
    assert second.endswith("INFO ordergraph.test [-] bye")


def test_configuring_logging_twice_does_not_double_lines() -> None:
    with captured_logs("json") as first, captured_logs("json") as second:
        log.warning("once")
    assert first.getvalue() == ""
    assert [line["message"] for line in json_lines(second)] == ["once"]


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="log format"):
        configure_logging("info", "xml")


# ---- HTTP metrics ----------------------------------------------------------------


async def test_http_metrics_use_route_templates(served: Served) -> None:
    before = await served.scrape()
    for path in ("/items/7", "/items/8,9", "/nowhere/42", "/healthz"):
        await served.get(path)
    await served.get("/boom", **BOOM)
    async with served.session.post(f"{served.url}/items/7") as resp:
        assert resp.status == 405
    after = await served.scrape()

    total = "og_http_requests_total"
    assert delta(before, after, total, path="/items/{ids}", method="GET", status="200") == 2
    assert delta(before, after, total, path="/items/{ids}", method="POST", status="405") == 1
    assert delta(before, after, total, path="other", method="GET", status="404") == 1
    assert delta(before, after, total, path="/boom", method="GET", status="500") == 1
    duration = "og_http_request_duration_seconds_count"
    assert delta(before, after, duration, path="/items/{ids}") == 3
    assert not any("/nowhere" in str(key) for key in after)
    excluded = [
        key for key in after if ("path", "/healthz") in key[1] or ("path", "/metrics") in key[1]
    ]
    assert excluded == []


async def test_websockets_pass_through(served: Served, spans: InMemorySpanExporter) -> None:
    before = await served.scrape()
    async with served.session.ws_connect(f"{served.url}/ws") as ws:
        await ws.send_str("ping")
        assert await ws.receive_str() == "ping"
    after = await served.scrape()
    assert not any(("path", "/ws") in labels for _, labels in after)
    assert delta(before, after, "og_http_request_duration_seconds_count", path="other") == 0
    assert [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER] == []


# ---- upstream calls: metrics and trace propagation -------------------------------


async def test_upstream_call_is_traced_and_measured(
    served: Served, upstream: Upstream, spans: InMemorySpanExporter
) -> None:
    before = await served.scrape()
    upstream.seen.clear()
    status, _, _ = await served.get("/items/a,b,c", **{"X-Request-ID": "trace-1"})
    assert status == 200
    after = await served.scrape()

    server = await server_span(spans, "trace-1")
    loader = only(spans, SpanKind.INTERNAL)
    client = only(spans, SpanKind.CLIENT)
    assert server.name == "GET /items/{ids}"
    assert server.parent is None
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/items/{ids}"
    assert server.attributes["http.response.status_code"] == 200
    assert (loader.parent, client.parent) == (server.context, loader.context)
    assert loader.attributes == {"og.source": SOURCE, "og.kind": "item", "og.batch_size": 3}
    host, port = upstream.url.removeprefix("http://").split(":")
    assert client.name == "GET"  # the aiohttp instrumentation's, named by HTTP conventions
    assert client.attributes == {
        "og.source": SOURCE,
        "og.operation": "get_items",
        "og.batch_size": 3,
        "http.request.method": "GET",
        "url.full": f"{upstream.url}/items",  # without the ids in its query
        "server.address": host,
        "server.port": int(port),
        "http.response.status_code": 200,
    }

    [headers] = upstream.seen
    version, trace_id, parent_id, flags = headers["traceparent"].split("-")
    assert trace_id == trace.format_trace_id(server.context.trace_id)
    assert parent_id == trace.format_span_id(client.context.span_id)
    assert version == "00"
    assert int(flags, 16) & 1  # sampled

    labels = {"source": SOURCE, "operation": "get_items"}
    assert delta(before, after, "og_upstream_requests_total", **labels, outcome="ok") == 1
    assert delta(before, after, "og_upstream_request_duration_seconds_count", **labels) == 1
    assert delta(before, after, "og_upstream_request_duration_seconds_sum", **labels) > 0
    assert delta(before, after, "og_upstream_batch_size_sum", **labels) == 3
    assert delta(before, after, "og_upstream_batch_size_bucket", **labels, le="2.0") == 0
    assert delta(before, after, "og_upstream_batch_size_bucket", **labels, le="5.0") == 1


class _Item(msgspec.Struct):
    id: str


class _ItemSource(SourceClient):
    name = SOURCE


async def test_a_source_clients_calls_are_traced_by_its_session(
    upstream: Upstream, spans: InMemorySpanExporter
) -> None:
    """The gateway's own path: each source's one session is instrumented, so its calls
    are CLIENT spans naming the source and operation, and carry ``traceparent``."""
    client = _ItemSource(SourceConfig(base_url=upstream.url))
    upstream.seen.clear()
    try:
        with trace.get_tracer("test").start_as_current_span("caller") as caller:
            found = await client.fetch_batch("items", "ids", ["a", "b"], _Item, lambda i: i.id)
    finally:
        await client.close()
    assert set(found) == {"a", "b"}
    call = only(spans, SpanKind.CLIENT)
    assert call.parent == caller.get_span_context()
    assert call.attributes is not None
    assert (call.attributes["og.source"], call.attributes["og.operation"]) == (SOURCE, "GET items")
    assert call.attributes["og.batch_size"] == 2
    [headers] = upstream.seen
    assert headers["traceparent"].split("-")[2] == trace.format_span_id(call.context.span_id)


async def test_an_incoming_trace_is_continued_upstream(
    served: Served, upstream: Upstream, spans: InMemorySpanExporter
) -> None:
    trace_id, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    upstream.seen.clear()
    status, _, _ = await served.get(
        "/items/1",
        **{"X-Request-ID": "trace-2", "traceparent": f"00-{trace_id}-{caller_span}-01"},
    )
    assert status == 200
    server = await server_span(spans, "trace-2")
    assert trace.format_trace_id(server.context.trace_id) == trace_id
    assert server.parent is not None
    assert trace.format_span_id(server.parent.span_id) == caller_span
    assert upstream.seen[0]["traceparent"].split("-")[1] == trace_id


async def test_a_failed_upstream_call_records_its_outcome(
    served: Served, spans: InMemorySpanExporter
) -> None:
    before = await served.scrape()
    status, _, _ = await served.get("/items/fail", **{"X-Request-ID": "trace-3"})
    assert status == 502
    after = await served.scrape()
    labels = {"source": SOURCE, "operation": "get_items"}
    assert delta(before, after, "og_upstream_requests_total", **labels, outcome="unavailable") == 1
    await server_span(spans, "trace-3")
    client = only(spans, SpanKind.CLIENT)
    assert client.status.status_code is StatusCode.ERROR
    assert client.attributes is not None
    assert client.attributes["og.operation"] == "get_items"
    assert client.attributes["http.response.status_code"] == 503


class Failure(Exception):
    pass


@pytest.mark.parametrize(
    ("raised", "set_outcome", "expected"),
    [
        (None, None, "ok"),
        (None, "bad_response", "bad_response"),
        (Failure, None, "error"),
        (Failure, "timeout", "timeout"),
        (asyncio.CancelledError, None, "cancelled"),
    ],
)
async def test_upstream_call_outcomes(
    raised: type[BaseException] | None, set_outcome: str | None, expected: str
) -> None:
    def count() -> float:
        labels = {"source": "outcomes", "operation": "op", "outcome": expected}
        return REGISTRY.get_sample_value("og_upstream_requests_total", labels) or 0.0

    before = count()
    with contextlib.suppress(Failure, asyncio.CancelledError):
        async with upstream_call("outcomes", "op", 1) as call:
            call.outcome = set_outcome
            if raised is not None:
                raise raised
    assert count() - before == 1


# ---- circuit, bulkhead, cache, GraphQL operations --------------------------------


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_circuit_gauge_and_transitions() -> None:
    source = "circuit-test"

    def transitions() -> dict[str, float]:
        return {
            to: sample("og_circuit_transitions_total", source=source, to=to)
            for to in ("closed", "half_open", "open")
        }

    telemetry.set_circuit_state(source, "closed")  # a breaker starts closed: no transition
    assert sample("og_circuit_state", source=source) == 0
    assert transitions() == {"closed": 0, "half_open": 0, "open": 0}
    for state, gauge in [("open", 2), ("open", 2), ("half_open", 1), ("closed", 0)]:
        telemetry.set_circuit_state(source, state)
        assert sample("og_circuit_state", source=source) == gauge
    assert transitions() == {"closed": 1, "half_open": 1, "open": 1}
    with pytest.raises(ValueError, match="circuit state"):
        telemetry.set_circuit_state(source, "ajar")


def test_retry_bulkhead_and_cache_counters() -> None:
    source = "counters-test"
    telemetry.count_retry(source)
    telemetry.count_bulkhead_rejection(source)
    telemetry.count_bulkhead_rejection(source)
    telemetry.count_cache(source, hits=5, misses=2, stale=0)
    telemetry.count_cache(source, hits=1, misses=0, stale=3)
    assert sample("og_upstream_retries_total", source=source) == 1
    assert sample("og_bulkhead_rejections_total", source=source) == 2
    assert {
        r: sample("og_cache_lookups_total", source=source, result=r)
        for r in ("hit", "miss", "stale")
    } == {"hit": 6, "miss": 2, "stale": 3}


def test_graphql_operations_are_counted_by_bounded_name() -> None:
    long_name = "Q" * 100
    record_operation(long_name, "query", "ok", 0.004)
    record_operation(None, "mutation", "error", 0.2)
    total = "og_graphql_operations_total"
    assert sample(total, operation="Q" * 64, kind="query", outcome="ok") == 1
    assert sample(total, operation=long_name, kind="query", outcome="ok") == 0
    assert sample(total, operation="anonymous", kind="mutation", outcome="error") >= 1
    assert sample("og_graphql_operation_duration_seconds_count", kind="query") >= 1


# ---- tracing setup ---------------------------------------------------------------


def test_configure_tracing_refuses_unknown_exporters() -> None:
    with pytest.raises(ValueError, match="bogus"):
        configure_tracing("bogus")


def test_configure_tracing_none_changes_nothing() -> None:
    provider = trace.get_tracer_provider()
    configure_tracing("none")
    assert trace.get_tracer_provider() is provider


async def run_python(script: str, *args: str) -> str:
    """Run ``script`` with ``args`` in a fresh interpreter (OpenTelemetry's global
    tracer provider and its conventions are set once per process, so this one's cannot
    be undone) and return its stdout."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, stderr.decode()
    return stdout.decode()


async def test_otlp_spans_reach_a_collector() -> None:
    """Spans go to the collector's ``/v1/traces`` as OTLP protobuf, flushed at exit,
    once even if tracing is configured twice."""
    received: list[tuple[str, str, bytes]] = []

    async def collect(request: web.Request) -> web.Response:
        received.append((request.path, request.content_type, await request.read()))
        return web.Response(body=b"", content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", collect)
    async with serving_aiohttp(app) as url:
        configure = f"configure_tracing('otlp', endpoint='{url}', service_name='og-probe')\n"
        await run_python(
            "from opentelemetry import trace\n"
            "from gateway.observability import configure_tracing\n"
            + configure
            * 2
            + "with trace.get_tracer('probe').start_as_current_span('probe'):\n"
            "    pass\n"
        )

    [(path, content_type, body)] = received
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    [resource_spans] = ExportTraceServiceRequest.FromString(body).resource_spans
    attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert attributes["service.name"] == "og-probe"
    assert [s.name for scope in resource_spans.scope_spans for s in scope.spans] == ["probe"]


async def test_without_tracing_an_incoming_trace_passes_through() -> None:
    """With no tracer provider no span is made, yet upstream calls forward the
    caller's ``traceparent`` (and send none when there is none)."""
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    output = await run_python(
        f"""
import asyncio, json
import aiohttp
from aiohttp import web
from opentelemetry import trace
from gateway.observability import RequestObservability
from sources.telemetry import client_tracing, loader_batch, upstream_call

sent = []

async def upstream(request):
    sent.append({{k: v for k, v in request.headers.items() if k == "traceparent"}})
    return web.Response(status=204)

async def main():
    runner = web.AppRunner(_upstream_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    session = aiohttp.ClientSession(trace_configs=[client_tracing()])

    async def app(scope, receive, send):
        async with loader_batch("s", "thing", 1), upstream_call("s", "op", 1):
            assert not trace.get_current_span().is_recording()
            async with session.get(f"http://127.0.0.1:{{port}}/"):
                pass
        await send({{"type": "http.response.start", "status": 204, "headers": []}})
        await send({{"type": "http.response.body", "body": b""}})

    async def receive():
        return {{"type": "http.request", "body": b"", "more_body": False}}

    async def send(message):
        pass

    middleware = RequestObservability(app)
    for headers in ([(b"traceparent", b"{traceparent}")], []):
        scope = {{"type": "http", "method": "GET", "path": "/x", "headers": headers}}
        await middleware(scope, receive, send)
    await session.close()
    await runner.cleanup()
    print(json.dumps(sent))

def _upstream_app():
    app = web.Application()
    app.router.add_get("/", upstream)
    return app

asyncio.run(main())
"""
    )
    assert json.loads(output) == [{"traceparent": traceparent}, {}]


# What a client may send in a GET's query string or its headers, none of it for a span.
KEY = "og_live_abcdefghijkl_" + "S3cr3t" * 7 + "x"
PRIVATE = {
    "email": "jane.doe@example.com",
    "phone": "+1 555 0100",
    "key": KEY,
    "key secret": KEY.rsplit("_", 1)[1],
    "cookie": "sessionid=c00kie",
}
SERVER_SPAN_SCRIPT = """
import asyncio, json, os, sys
os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = sys.argv[1]
os.environ["OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST"] = ".*"
os.environ["OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE"] = ".*"
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from gateway.observability import RequestObservability, tracer_provider
from tests.support.serving import serving

spans = InMemorySpanExporter()
tracer_provider().add_span_processor(SimpleSpanProcessor(spans))

async def refused(request):  # as the gateway refuses a GET it suspects of CSRF
    return JSONResponse({"errors": []}, 400, headers={"set-cookie": sys.argv[4]})

async def main():
    app = RequestObservability(Starlette(routes=[Route("/graphql", refused)]))
    async with serving(app, lifespan="off") as (url, session):
        async with session.get(f"{url}/graphql?{sys.argv[2]}", headers=json.loads(sys.argv[3])):
            pass
    print(json.dumps([dict(span.attributes) for span in spans.get_finished_spans()]))

asyncio.run(main())
"""


@pytest.mark.parametrize(
    ("conventions", "query_attributes"),
    [("http", ["url.query"]), ("http/dup", ["url.query", "http.url"]), ("", ["http.url"])],
    ids=["stable", "both", "old"],
)
async def test_a_server_span_carries_no_query_values_nor_secret_headers(
    conventions: str, query_attributes: list[str]
) -> None:
    """Under every conventions the instrumentation may follow, a GET's variables and a
    key sent in its URL (what the gateway refuses, but only once the span has begun)
    leave the query attributes with parameter names only, and the headers an operator
    captures show no credential or cookie."""
    variables = json.dumps({"e": PRIVATE["email"], "phone": PRIVATE["phone"]})
    query = urlencode({"query": "{__typename}", "variables": variables, "api_key": KEY})
    query += f"&{KEY}"  # a key sent as a parameter's name
    headers = {
        "Authorization": f"Bearer {KEY}",
        "X-API-Key": KEY,
        "Cookie": PRIVATE["cookie"],
        "X-Request-ID": "redacted-1",
    }
    output = await run_python(
        SERVER_SPAN_SCRIPT, conventions, query, json.dumps(headers), PRIVATE["cookie"]
    )
    [attributes] = json.loads(output)
    text = json.dumps(attributes)
    assert [name for name, value in PRIVATE.items() if value in text] == []
    redacted = "query=REDACTED&variables=REDACTED&api_key=REDACTED&REDACTED=REDACTED"
    shown = {
        name: attributes[name].partition("?")[2] or attributes[name] for name in query_attributes
    }
    assert shown == dict.fromkeys(query_attributes, redacted)
    captured = {
        name: attributes[f"http.request.header.{name}"]
        for name in ("authorization", "x_api_key", "cookie", "x_request_id")
    }
    assert captured == {
        "authorization": ["[REDACTED]"],
        "x_api_key": ["[REDACTED]"],
        "cookie": ["[REDACTED]"],
        "x_request_id": ["redacted-1"],  # what is no secret stays
    }
    assert attributes["http.response.header.set_cookie"] == ["[REDACTED]"]


def test_an_audit_line_is_one_json_object_with_its_fields_at_the_top(
    json_logs: io.StringIO,
) -> None:
    token = request_id.set("audit-test-1")
    try:
        audit(
            outcome="denied",
            code="FORBIDDEN",
            key_id="abcdefghijkl",
            tenant="acct_x",
            operation="Cancel",
            document_hash="f" * 64,
            denied={"Mutation.orderCancel"},
        )
    finally:
        request_id.reset(token)
    (line,) = [line for line in json_lines(json_logs) if line["logger"] == "ordergraph.audit"]
    assert {key: line[key] for key in AUDIT_FIELDS if key != "time"} == {
        "outcome": "denied",
        "code": "FORBIDDEN",
        "keyId": "abcdefghijkl",
        "tenant": "acct_x",
        "operation": "Cancel",
        "documentHash": "f" * 64,
        "denied": ["Mutation.orderCancel"],
        "correlationId": "audit-test-1",
    }
    assert line["time"].endswith("+00:00") and line["request_id"] == "audit-test-1"
    assert "{" not in line["message"]  # not a JSON text inside the JSON line
