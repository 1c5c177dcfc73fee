"""The Starlette application: GraphQL, change-event webhooks, health and readiness."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypedDict

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute, request_response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from gateway.admission.bucket import CostBucket
from gateway.admission.cost import CostModel
from gateway.admission.documents import DocumentAnalyser
from gateway.admission.gate import Gate
from gateway.auth.authenticate import Authenticator
from gateway.auth.store import KeyStore, KeyStoreError, open_key_store
from gateway.capacity import InFlight, LoopAdmission
from gateway.graphiql import GraphiQLAssets
from gateway.graphql_http import GraphQLEndpoint
from gateway.live.connections import LiveConnections
from gateway.live.origin import OriginPolicy
from gateway.live.sse import SseStreams
from gateway.live.websocket import GraphQLWebSocket
from gateway.observability import (
    RequestObservability,
    metrics_endpoint,
    operator_details,
    operator_only,
)
from gateway.operations import Operations
from gateway.persisted import PersistedQueries, load_manifest
from gateway.response_cache import ResponseCache
from gateway.settings import SOURCE_NAMES, Settings, key_store_kind, redact_url
from gateway.slow_clients import SlowBodyGuard
from gateway.startup import config_summary, log_configuration
from gateway.webhooks import WebhookReceiver
from resolvers.access import ScopeMap
from resolvers.live import LiveFeeds
from resolvers.relay import order_cursors
from resolvers.schema import build_schema
from services.exception_queue.index import ExceptionIndex
from sources.adapters.protocols import SourceAdapter
from sources.adapters.registry import Upstreams
from sources.cache import open_backend
from sources.cache.memory_backend import MemoryBackend
from sources.cache.upstreams import CachedUpstreams
from sources.clock import SYSTEM_CLOCK, Clock
from sources.resilience.breaker import OPEN
from sources.resilience.coalesce import SingleFlight
from sources.resilience.loop_lag import LoopLag

log = logging.getLogger("ordergraph.app")

# Each part given this long to close at shutdown: a stuck one must not keep the process
# up (whatever runs it would have to kill it); it is named in the log, the rest close.
CLOSE_STEP_S = 5.0


async def _closed(part: str, close: Callable[[], Awaitable[None]]) -> None:
    try:
        async with asyncio.timeout(CLOSE_STEP_S):
            await close()
    except TimeoutError:
        log.error("shutdown: %s did not close within %.0f s; closing the rest", part, CLOSE_STEP_S)


# A source that does not answer its health check within this is counted as hung:
# under a load balancer's usual 1 to 5 s probe timeout, so /readyz itself answers.
READY_PING_S = 1.0


class Components:
    """What one gateway process is made of. The settings, the clock, the live feeds
    and the live connections exist from the start (the server closes the connections
    and sets ``draining`` on its signals); the rest is built once by :meth:`lifespan`,
    which hands the endpoints their parts as Starlette's lifespan state
    (:class:`Running`). While the app runs, the parts are also here to look into
    (``exception_index`` is None when ``OG_EXCEPTION_QUEUE`` is off)."""

    def __init__(
        self, settings: Settings, clock: Clock = SYSTEM_CLOCK, *, log_configuration: bool = True
    ) -> None:
        self.settings = settings
        self.log_configuration = log_configuration  # False: a supervisor logged it once
        self.clock = clock  # "now" for every rule and service of this process
        self.draining = False  # set on SIGTERM: readiness fails, requests still served
        self.live = LiveFeeds()
        self.connections = LiveConnections(settings.live_max_connections)
        self.cached: CachedUpstreams | None = None
        self.authenticator: Authenticator | None = None
        self.key_store_check: KeyStoreCheck | None = None  # for /readyz, while one is open
        self.persisted: PersistedQueries | None = None
        self.bucket: CostBucket | None = None
        self.exception_index: ExceptionIndex | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[Running]:
        settings = self.settings
        if settings.dev_mode:
            log.warning(
                "DEV MODE: anonymous requests run as an internal console; never in production"
            )
        if self.log_configuration:
            log_configuration(settings)
        upstreams = Upstreams.open(
            *(settings.source(name) for name in SOURCE_NAMES),
            adapters={name: settings.sources[name].adapter for name in SOURCE_NAMES},
        )
        loop_lag = LoopLag()
        loop_lag.start()
        backend = open_backend(
            settings.cache_url, loop_lag, timeout_s=settings.cache_timeout_ms / 1000
        )
        shared = backend.name != "memory" and settings.cache_local_ttl_ms > 0
        local = MemoryBackend(max_entries=10_000) if shared else None
        cached = CachedUpstreams.build(
            upstreams, backend, settings.cache_policies(), local=local, clock=self.clock
        )
        cached.listen()
        cached.on_change(self.live.changes.publish)
        responses = None
        if settings.response_cache:
            responses = ResponseCache(
                backend,
                backend,
                cached.invalidations,
                self.clock,
                local=local,
                local_ttl_s=settings.cache_local_ttl_ms / 1000,
                max_ttl_s=settings.response_cache_max_ttl_ms / 1000,
                cache_control=settings.response_cache_control,
                tag_headers=settings.response_cache_tag_headers,
            )
        index = None
        if settings.exception_queue:
            interval_s = settings.exception_sweep_interval_ms / 1000
            index = ExceptionIndex(cached, sweep_interval_s=interval_s)
            index.listen()
            index.on_raised(self.live.raised.publish)
        await backend.start()
        keys = (
            open_key_store(settings.keys_url, timeout_s=settings.keys_timeout_ms / 1000)
            if settings.key_pepper
            else None
        )
        if keys is not None and settings.key_pepper:
            self.authenticator = Authenticator(
                keys, settings.key_pepper, cache_ttl_s=settings.key_trust_ms / 1000
            )
            self.key_store_check = KeyStoreCheck(keys)
        elif not settings.dev_mode:
            log.error("no OG_KEY_PEPPER: every request will be refused (401)")
        unsigned = [name for name in SOURCE_NAMES if not settings.source(name).webhook_secrets]
        if unsigned:
            log.warning(
                "no webhook secret for %s (OG_WEBHOOK_SECRETS, or the adapter's own): "
                "their change events will be refused",
                ", ".join(unsigned),
            )
        self.persisted = PersistedQueries(load_manifest(settings.persisted_manifest), backend)
        self.bucket = CostBucket(backend)  # shares the cache's Redis and its health
        self.cached = cached
        if index is not None:
            index.start()
            self.exception_index = index
        try:
            yield self._running(cached, self.persisted, self.bucket, loop_lag, responses)
        finally:
            await _closed("the live connections", self.connections.close)
            self.cached = None
            if index is not None:
                self.exception_index = None
                await _closed("the exception queue", index.close)
            if keys is not None:
                self.key_store_check = None
                await _closed("the key store", keys.close)
            await _closed("the cache", backend.close)
            await _closed("the source clients", upstreams.close)
            await _closed("the loop-lag probe", loop_lag.close)

    def _running(
        self,
        cached: CachedUpstreams,
        persisted: PersistedQueries,
        bucket: CostBucket,
        loop_lag: LoopLag,
        responses: ResponseCache | None,
    ) -> Running:
        """The endpoints, built on the started parts."""
        settings = self.settings
        schema = build_schema()
        cost_model = CostModel(schema._schema)
        gate = Gate(
            scope_map=ScopeMap(schema),
            analyser=DocumentAnalyser(
                schema._schema,
                settings,  # its Limits
                cache_size=settings.document_cache_size,
                cache_bytes=settings.document_cache_bytes,
            ),
            cost_model=cost_model,
            persisted=persisted,
            bucket=bucket,
            dev_mode=settings.dev_mode,
        )
        deadline_s = settings.request_deadline_ms / 1000
        operations = Operations(
            schema,
            cached,
            self.live,
            deadline_s,
            cost_model,
            compiled=settings.compiled_execution,
            responses=responses,
            order_cursors=order_cursors(settings.key_pepper),
        )
        in_flight = InFlight(settings.max_in_flight)
        # Dev mode serves anonymous consoles: only the gateway's own pages (and those
        # listed) may use /graphql, live or not. Outside it, every request needs a key.
        origins = OriginPolicy(settings.allowed_origins) if settings.dev_mode else None
        streams = SseStreams(operations, self.connections, in_flight, settings)
        return {
            "components": self,
            "cached": cached,
            "graphql": GraphQLEndpoint(
                gate=gate,
                operations=operations,
                streams=streams,
                authenticator=self.authenticator,
                in_flight=in_flight,
                loop_admission=LoopAdmission(loop_lag, settings.max_loop_lag_ms / 1000),
                settings=settings,
                origins=origins,
            ),
            "websocket": GraphQLWebSocket(
                gate=gate,
                operations=operations,
                authenticator=self.authenticator,
                connections=self.connections,
                in_flight=in_flight,
                settings=settings,
                origins=origins,
            ),
            "webhooks": WebhookReceiver(cached),
        }


class Running(TypedDict):
    """The lifespan state: what every request finds in ``request.state``."""

    components: Components
    cached: CachedUpstreams
    graphql: GraphQLEndpoint
    websocket: GraphQLWebSocket
    webhooks: WebhookReceiver


class _EveryMethod:
    """An endpoint as an ASGI app, which Starlette's ``Route`` hands every method (an
    endpoint function only those listed, GET adding HEAD, and the others a plain-text
    405): ``/graphql`` refuses all but GET and POST itself, with a code and ``Allow``."""

    def __init__(self, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        self._app = request_response(endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


async def _graphql(request: Request) -> Response:
    endpoint: GraphQLEndpoint = request.state.graphql
    return await endpoint.handle(request)


async def _graphql_websocket(websocket: WebSocket) -> None:
    endpoint: GraphQLWebSocket = websocket.state.websocket
    await endpoint.handle(websocket)


async def _webhook(request: Request) -> Response:
    receiver: WebhookReceiver = request.state.webhooks
    return await receiver.receive(request)


async def _healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _readyz(request: Request) -> Response:
    """Ready while the OMS and the key store answer; degraded (still 200) when another
    source or the cache does not, or a source's circuit breaker is open (its calls fail
    fast), since the graph then still serves partial answers, or in dev mode (where
    anonymous requests need no key) the key store does not; unavailable while the OMS
    does not answer its health check, outside dev mode while the key store does not
    (every request would be refused, 503 ``AUTH_UNAVAILABLE``), or while draining for
    shutdown. ``degraded`` names each failing source and why, ``key_store`` says why
    it fails."""
    components: Components = request.state.components
    if components.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    cached: CachedUpstreams = request.state.cached
    clients = cached.upstreams.all()
    sources_checked = asyncio.gather(*(_source_check(client) for client in clients))
    keys = components.key_store_check
    if keys is None:
        checks, keys_problem = await sources_checked, None
    else:
        checks, keys_problem = await asyncio.gather(sources_checked, keys.problem())
    sources = [
        {
            "name": client.name,
            "adapter": components.settings.sources[client.name].adapter,
            "url": redact_url(client.base_url),
            "ok": problem is None,
            "breaker": client.breaker.state,
        }
        for client, (_, problem) in zip(clients, checks, strict=True)
    ]
    degraded = [
        {"source": client.name, "reason": problem}
        for client, (_, problem) in zip(clients, checks, strict=True)
        if problem is not None
    ]
    health = cached.backend.health()
    cache = {"backend": health.backend, "ok": health.ok, "errors": health.errors}
    if health.detail:
        cache["detail"] = health.detail
    settings = components.settings
    keys_down = keys_problem is not None
    # Without the OMS nothing can be served, nor anything outside dev mode without keys.
    if not checks[0][0] or (keys_down and not settings.dev_mode):
        status, code = "unavailable", 503
    elif not degraded and health.ok and not keys_down:
        status, code = "ready", 200
    else:
        status, code = "degraded", 200
    config = config_summary(settings)  # never a secret
    body = {"status": status, "sources": sources, "cache": cache, "config": config}
    if keys is not None:
        key_store: dict[str, object] = {"kind": key_store_kind(settings.keys_url)}
        key_store["ok"] = not keys_down
        if keys_problem is not None:
            key_store["detail"] = keys_problem
        body["key_store"] = key_store
    if degraded:
        body["degraded"] = degraded
    return JSONResponse(body, code)


async def _source_check(client: SourceAdapter) -> tuple[bool, str | None]:
    """(whether it answered its health check, what is wrong with it if anything): no
    answer within ``READY_PING_S`` (hung), an error answer, or an open breaker (it
    answers its health check, yet failed so many calls that they now fail fast)."""
    try:
        async with asyncio.timeout(READY_PING_S):
            answered = await client.ping()
    except TimeoutError:
        return False, f"no answer to its health check within {READY_PING_S * 1000:.0f} ms"
    if not answered:
        return False, "its health check failed"
    if client.breaker.state == OPEN:
        return True, "circuit breaker open: its calls fail fast"
    return True, None


# The key store is asked at most this often: probes come every few seconds from each
# load balancer and orchestrator, and each would cost a lookup (up to OG_KEYS_TIMEOUT_MS
# while the store hangs); readiness says what the store did at most this long ago.
READY_KEY_STORE_EVERY_S = 2.0
READY_PROBE_KEY_ID = "readiness-probe"  # no key's id (those are base32): nothing found


class KeyStoreCheck:
    """Whether the key store answers, for ``/readyz``: a lookup of a key no one has, cut
    off after ``READY_PING_S``, at most once every ``READY_KEY_STORE_EVERY_S`` (the
    probes meanwhile share its answer)."""

    def __init__(self, store: KeyStore) -> None:
        self._store = store
        self._checked_at = -math.inf
        self._problem: str | None = None
        self._asking: SingleFlight[None, None] = SingleFlight()

    async def problem(self) -> str | None:
        """What is wrong with the key store; None while it answers."""
        if time.monotonic() - self._checked_at >= READY_KEY_STORE_EVERY_S:
            await self._asking.run(None, self._ask)  # a probe that hangs up stops no other
        return self._problem

    async def _ask(self) -> None:
        try:
            async with asyncio.timeout(READY_PING_S):
                await self._store.get(READY_PROBE_KEY_ID)
            self._problem = None
        except TimeoutError:
            self._problem = f"no answer within {READY_PING_S * 1000:.0f} ms"
        except KeyStoreError as exc:
            self._problem = str(exc)
        finally:
            self._checked_at = time.monotonic()


def create_app(settings: Settings, components: Components | None = None) -> ASGIApp:
    """The Starlette app, wrapped in the request observability middleware (outermost,
    so even a 500 carries its request id). Its endpoints find their parts in the
    lifespan state ``components`` builds as the app starts."""
    components = components or Components(settings)
    token = settings.admin_token
    graphiql = [GraphiQLAssets().route()] if settings.serves_graphiql else []  # its assets
    app = Starlette(
        routes=[
            *graphiql,
            Route("/graphql", _EveryMethod(_graphql)),
            WebSocketRoute("/graphql", _graphql_websocket),
            Route("/webhooks/{source}", _webhook, methods=["POST"]),
            Route("/healthz", _healthz, methods=["GET"]),
            # Their details are the operator's (settings.admin_token), if one is set.
            Route("/readyz", operator_details(_readyz, token), methods=["GET"]),
            Route("/metrics", operator_only(metrics_endpoint, token), methods=["GET"]),
        ],
        lifespan=components.lifespan,
    )
    guarded = SlowBodyGuard(
        app,
        grace_s=settings.body_timeout_ms / 1000,
        min_bytes_per_s=settings.body_min_bytes_per_s,
    )
    return RequestObservability(guarded)
