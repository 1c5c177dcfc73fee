"""What the four simulated sources share: app factory, stats, latency, id lists, errors.

Each source module only declares its data and admin routes; :func:`create_source_app`
adds ``/healthz``, ``/openapi.json``, ``/__stats`` and ``/__faults`` plus a middleware
that counts data requests, applies the configured latency and the injected faults
(:mod:`sim.faults`) and answers unknown routes with an
:class:`~sources.records.ErrorBody`. Admin routes (``POST /admin/...``, built by
:func:`admin_route`) change the data set and announce each change through the app's
webhook emitter, if one is configured; like the other non-data routes they are neither
counted, delayed nor faulted.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

import msgspec
from aiohttp import web

from sim.changes import Apply, BodyT, ChangeError
from sim.emitter import WebhookEmitter, WebhookTarget
from sim.faults import GARBAGE, Fault, Faults, FaultSpec, hang, reset_connection
from sim.openapi import build_document
from sim.seed import Dataset
from sim.stats import Stats
from sources.clock import SYSTEM_CLOCK, Clock
from sources.records import MAX_BATCH, ErrorBody

T = TypeVar("T")
StructT = TypeVar("StructT", bound=msgspec.Struct)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

JSON = "application/json"
NON_DATA_PATHS = frozenset({"/__faults", "/__stats", "/healthz", "/openapi.json"})
ADMIN_PREFIX = "/admin/"


@dataclass
class Latency:
    """Simulated response time of data endpoints: fixed plus uniform jitter, in ms."""

    fixed_ms: float = 0.0
    jitter_ms: float = 0.0
    rng: random.Random = field(default_factory=random.Random)

    def seconds(self) -> float:
        jitter = self.rng.uniform(0, self.jitter_ms) if self.jitter_ms > 0 else 0.0
        return max(0.0, self.fixed_ms + jitter) / 1000


SOURCE_KEY = web.AppKey("source", str)
STATS_KEY = web.AppKey("stats", Stats)
LATENCY_KEY = web.AppKey("latency", Latency)
OPENAPI_KEY = web.AppKey("openapi", bytes)
EMITTER_KEY = web.AppKey("emitter", WebhookEmitter)
CLOCK_KEY = web.AppKey("clock", Clock)
FAULTS_KEY = web.AppKey("faults", Faults)
PARTIAL_BATCH_KEY = web.RequestKey("partial_batch", bool)  # set when drawn for this request


def json_response(payload: object, status: int = 200) -> web.Response:
    """Encode ``payload`` (records, dicts, lists) with msgspec as application/json."""
    return web.Response(body=msgspec.json.encode(payload), status=status, content_type=JSON)


def error_response(status: int, code: str, message: str) -> web.Response:
    return json_response(ErrorBody(code=code, message=message), status=status)


def bad_request(message: str, code: str = "BAD_REQUEST") -> web.HTTPBadRequest:
    """A 400 carrying an :class:`ErrorBody`; ``raise`` it from a handler."""
    body = msgspec.json.encode(ErrorBody(code=code, message=message)).decode()
    return web.HTTPBadRequest(text=body, content_type=JSON)


def parse_id_list(
    request: web.Request, param: str, normalize: Callable[[str], str] | None = None
) -> list[str]:
    """The distinct ids of a comma-separated query parameter, in request order.

    Repeated parameters are joined; blanks are dropped. Missing/empty or more than
    ``MAX_BATCH`` distinct ids raise a 400.
    """
    raw = [part.strip() for value in request.query.getall(param, []) for part in value.split(",")]
    ids = [i for i in dict.fromkeys(normalize(p) if normalize else p for p in raw) if i]
    if not ids:
        raise bad_request(f"query parameter '{param}' is required: a comma-separated list of ids")
    if len(ids) > MAX_BATCH:
        raise bad_request(
            f"at most {MAX_BATCH} ids per call, got {len(ids)}", code="BATCH_TOO_LARGE"
        )
    return ids


async def read_body(request: web.Request, body: type[StructT]) -> StructT:
    """The request's JSON body as ``body`` (an empty body counts as ``{}``); 400 if bad."""
    raw = await request.read()
    try:
        return msgspec.json.decode(raw if raw.strip() else b"{}", type=body)
    except msgspec.DecodeError as exc:
        raise bad_request(f"invalid body: {exc}") from None


def batch_route(
    path: str,
    param: str,
    lookup: Callable[[str], T | None],
    envelope: Callable[[list[T], list[str]], msgspec.Struct],
    normalize: Callable[[str], str] | None = None,
) -> web.RouteDef:
    """``GET path?param=a,b``: look every id up, answer ``envelope(found, not_found)``.

    Under an injected partial-batch fault every other found record, starting with the
    first, is dropped and not reported in ``not_found``.
    """

    async def handler(request: web.Request) -> web.Response:
        found: list[T] = []
        missing: list[str] = []
        ids = parse_id_list(request, param, normalize)
        request.app[STATS_KEY].record_batch(path, len(ids))
        for key in ids:
            item = lookup(key)
            if item is None:
                missing.append(key)
            else:
                found.append(item)
        if request.get(PARTIAL_BATCH_KEY):
            del found[::2]
        return json_response(envelope(found, missing))

    return web.get(path, handler)


def admin_route(
    path: str, dataset: Dataset, apply: Apply[BodyT], body: type[BodyT], *, status: int = 200
) -> web.RouteDef:
    """``POST path``: ``apply`` the JSON body to the record named by the path's placeholder
    (``""`` for a path without one, e.g. one that creates a record).

    Answers ``status`` with the changed record and emits its event in the background; an
    empty body counts as ``{}``. Bad bodies answer 400, a :class:`ChangeError` its own
    status.
    """

    async def handler(request: web.Request) -> web.Response:
        key = next(iter(request.match_info.values()), "")
        payload = await read_body(request, body)
        try:
            record, event = apply(dataset, key, payload, request.app[CLOCK_KEY].now())
        except ChangeError as exc:
            return error_response(exc.status, exc.code, str(exc))
        emitter = request.app.get(EMITTER_KEY)
        if emitter is not None and event is not None:
            emitter.emit(event)
        return json_response(record, status=status)

    return web.post(path, handler)


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    resource = request.match_info.route.resource
    if resource is None:  # unknown path or method
        exc = request.match_info.http_exception
        status = exc.status if exc is not None else 404
        code = "METHOD_NOT_ALLOWED" if status == 405 else "NOT_FOUND"
        return error_response(status, code, f"no route for {request.method} {request.path}")
    path = resource.canonical
    if path in NON_DATA_PATHS or path.startswith(ADMIN_PREFIX):
        return await handler(request)
    app = request.app
    app[STATS_KEY].count(path)
    faults = app[FAULTS_KEY]
    delay = app[LATENCY_KEY].seconds() + faults.delay_seconds()
    if delay > 0:
        await asyncio.sleep(delay)
    match faults.draw():
        case Fault.ERROR:
            status = faults.spec.error_status
            return error_response(status, "INJECTED_FAULT", f"injected fault: {status}")
        case Fault.HANG:
            return await hang(request, faults.closing)
        case Fault.RESET:
            return reset_connection(request)
        case Fault.GARBAGE:
            return web.Response(body=GARBAGE, content_type=JSON)
        case Fault.PARTIAL:
            request[PARTIAL_BATCH_KEY] = True
    return await handler(request)


async def _healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok", "source": request.app[SOURCE_KEY]})


async def _openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI_KEY], content_type=JSON)


async def _get_stats(request: web.Request) -> web.Response:
    return json_response(request.app[STATS_KEY].snapshot())


async def _reset_stats(request: web.Request) -> web.Response:
    request.app[STATS_KEY].reset()
    return web.Response(status=204)


async def _get_faults(request: web.Request) -> web.Response:
    return json_response(request.app[FAULTS_KEY].spec)


async def _put_faults(request: web.Request) -> web.Response:
    spec = await read_body(request, FaultSpec)
    request.app[FAULTS_KEY].set(spec)
    return json_response(spec)


async def _clear_faults(request: web.Request) -> web.Response:
    request.app[FAULTS_KEY].set(FaultSpec())
    return web.Response(status=204)


async def _release_hangs(app: web.Application) -> None:
    """Runs before aiohttp waits for open requests, so hung ones do not delay shutdown."""
    app[FAULTS_KEY].closing.set()


def create_source_app(
    source: str,
    routes: Iterable[web.RouteDef],
    *,
    latency_ms: float = 0.0,
    jitter_ms: float = 0.0,
    webhook: WebhookTarget | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> web.Application:
    """An aiohttp app serving ``routes`` plus the shared health, contract, stats and
    fault routes; it starts without faults.

    With a ``webhook`` target, admin changes are delivered there; the emitter drains and
    closes when the app is cleaned up. Changes are dated by ``clock``.
    """
    app = web.Application(middlewares=[_middleware])
    app[SOURCE_KEY] = source
    app[STATS_KEY] = Stats()
    app[LATENCY_KEY] = Latency(latency_ms, jitter_ms)
    app[FAULTS_KEY] = Faults()
    app[CLOCK_KEY] = clock
    app.on_shutdown.append(_release_hangs)
    app[OPENAPI_KEY] = msgspec.json.encode(build_document(source))
    if webhook is not None:
        emitter = app[EMITTER_KEY] = WebhookEmitter(webhook)

        async def close_emitter(_app: web.Application) -> None:
            await emitter.close()

        app.on_cleanup.append(close_emitter)
    app.add_routes(
        [
            *routes,
            web.get("/healthz", _healthz),
            web.get("/openapi.json", _openapi),
            web.get("/__stats", _get_stats),
            web.delete("/__stats", _reset_stats),
            web.get("/__faults", _get_faults),
            web.put("/__faults", _put_faults),
            web.delete("/__faults", _clear_faults),
        ]
    )
    return app


def set_latency(app: web.Application, latency_ms: float, jitter_ms: float = 0.0) -> None:
    """Change a running source's simulated latency."""
    latency = app[LATENCY_KEY]
    latency.fixed_ms, latency.jitter_ms = latency_ms, jitter_ms


def set_faults(app: web.Application, spec: FaultSpec | None) -> None:
    """Replace a running source's injected faults (``None`` clears them)."""
    app[FAULTS_KEY].set(FaultSpec() if spec is None else spec)
