"""``/graphql`` over WebSocket: the graphql-transport-ws protocol.

The client authenticates in ``connection_init`` (its payload carries
``Authorization`` or ``X-API-Key``, else the upgrade request's headers count);
every ``subscribe`` is admitted like an HTTP request (key still valid, scopes,
limits, cost bucket) and runs with the caller's tenant. Protocol violations close
the socket with the protocol's codes: 4400 bad message, 4401 subscribe before the
ack, 4403 refused key (also when a key revoked or expired since the connection
began is checked again, every ``recheck_s``, or as an operation starts; a key store
that cannot answer closes ``connection_init`` with 1013 and gets a new operation an
``error`` AUTH_UNAVAILABLE), 4406 wrong
subprotocol, 4408 no ``connection_init`` in time, 4409 an id already in use, 4429 a
second ``connection_init``, 1009 a message larger than the HTTP body limit; shutdown
closes with 1001, a connection past ``OG_LIVE_MAX_CONNECTIONS`` is closed with 1013
as it opens, and one whose key the store could not answer at re-checks in a row
(``gateway.live.key_recheck``) with 1013 too. Every refusal (a key, an operation, a
connection) is one line in the audit trail.

Why not strawberry's own handler (``strawberry.subscriptions.protocols.
graphql_transport_ws.handlers.BaseGraphQLTransportWSHandler``, run by its ASGI
view): it has no hook between a ``subscribe`` message and execution.
``handle_subscribe`` builds its ``Operation`` from ``payload["query"]``,
``variables`` and ``operationName`` only, then ``run_operation`` calls
``schema.stream`` at once. So the subscribe payload's ``extensions`` (a trusted
document's id, an APQ hash) are dropped, and a payload without ``query`` closes the
socket 4400; no per-operation step re-checks the key, runs the gate (limits, cost,
scopes, cost bucket) or takes an in-flight place, and its refusals could not answer
an ``error`` with our codes or close 4403 for a revoked key. ``on_ws_connect`` runs
once, at ``connection_init``; nothing runs the periodic key re-check; the message
size is not limited (``iter_json`` has no bound); the subscription cap answers an
uncoded "Subscription limit reached". Overriding ``handle_subscribe`` and
``run_operation`` in a subclass would re-write this module against its internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from gateway.admission.gate import Gate
from gateway.auth.authenticate import (
    CREDENTIAL_HEADERS,
    Authenticator,
    AuthError,
    presented_key_id,
    principal_for,
)
from gateway.auth.principal import Principal
from gateway.capacity import InFlight
from gateway.error_format import INTERNAL_ERROR
from gateway.live.connections import LiveConnections
from gateway.live.key_recheck import KeyRecheck
from gateway.live.origin import OriginPolicy
from gateway.observability import LIVE_EVENTS
from gateway.operations import Operations, SubscriptionNotStarted
from gateway.refusal import RequestRefused, audit_refusal
from gateway.settings import Settings

log = logging.getLogger("ordergraph.websocket")

PROTOCOL = "graphql-transport-ws"
GOING_AWAY = 1001
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
MESSAGE_TOO_BIG = 1009


class GraphQLWebSocket:
    def __init__(
        self,
        *,
        gate: Gate,
        operations: Operations,
        authenticator: Authenticator | None,
        connections: LiveConnections,
        in_flight: InFlight,
        settings: Settings,
        origins: OriginPolicy | None,
    ) -> None:
        """``authenticator`` None: no key is ever valid (dev mode's console aside);
        ``origins`` None: any page may connect."""
        self.in_flight = in_flight
        self.gate = gate
        self.operations = operations
        self.authenticator = authenticator
        self.connections = connections
        self.init_timeout_s = settings.ws_init_timeout_ms / 1000
        self.recheck_s = settings.live_key_recheck_ms / 1000  # a key checked again
        self.max_subscriptions = settings.live_max_subscriptions
        # As for HTTP bodies. The server (gateway.server) refuses larger frames itself;
        # this holds under any server.
        self.max_message_bytes = settings.max_body_bytes
        self.dev_mode = settings.dev_mode
        self.origins = origins

    async def handle(self, websocket: WebSocket) -> None:
        origins = self.origins
        if origins is not None and origins.foreign(
            websocket.headers, websocket.scope.get("server")
        ):
            # Closed before the handshake completes: the client gets HTTP 403.
            log.info("refused a WebSocket from origin %r", websocket.headers["origin"][:100])
            audit_refusal(RequestRefused(403, "FORBIDDEN_ORIGIN", "origin not allowed"), None)
            await websocket.close(POLICY_VIOLATION)
            return
        offered = websocket.scope.get("subprotocols", [])
        if PROTOCOL not in offered:
            await websocket.accept()
            await websocket.close(4406, "Subprotocol not acceptable")
            return
        await websocket.accept(subprotocol=PROTOCOL)
        session = _Session(self, websocket)
        try:
            place = self.connections.socket(session)
        except RequestRefused as refusal:
            refusal.key_id = presented_key_id(websocket.headers)  # before connection_init
            audit_refusal(refusal, None)
            await websocket.close(TRY_AGAIN_LATER, "Too many live connections")
            return
        with place:
            await session.run()


class _Session:
    """One connection: its state, its operations, and the one lock its sends share."""

    def __init__(self, endpoint: GraphQLWebSocket, websocket: WebSocket) -> None:
        self.endpoint = endpoint
        self.websocket = websocket
        self.credentials: dict[str, str] = {}
        self.principal: Principal | None = None
        self.init_received = False
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.closed = False
        self._send_lock = asyncio.Lock()

    async def run(self) -> None:
        timer = asyncio.create_task(self._init_timeout())
        recheck = asyncio.create_task(self._recheck())
        try:
            while not self.closed:
                try:
                    raw = await self.websocket.receive_text()
                except WebSocketDisconnect:
                    break
                except KeyError:  # a binary frame
                    await self.close(4400, "Messages must be text")
                    break
                limit = self.endpoint.max_message_bytes
                if len(raw) > limit or len(raw.encode()) > limit:
                    log.info("closed a WebSocket: a message over %d bytes", limit)
                    await self.close(MESSAGE_TOO_BIG, f"Messages are limited to {limit} bytes")
                    break
                await self._handle(raw)
        finally:
            timer.cancel()
            recheck.cancel()
            await self._cancel_operations()
            self.closed = True

    async def going_away(self) -> None:
        await self.close(GOING_AWAY, "Server shutting down")

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        await self._cancel_operations()
        if self.websocket.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError, OSError):
                await self.websocket.close(code, reason[:120])

    async def send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        async with self._send_lock:
            with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
                await self.websocket.send_text(orjson.dumps(message).decode())

    async def _init_timeout(self) -> None:
        await asyncio.sleep(self.endpoint.init_timeout_s)
        if not self.init_received:
            await self.close(4408, "Connection initialisation timeout")

    async def _recheck(self) -> None:
        """Close the connection once a re-check of its key ends it: 4403 for a key
        refused (revoked, expired), 1013 for one the store could not answer."""
        rechecks = KeyRecheck(self._authenticate, "WebSocket")
        while not self.closed:
            await asyncio.sleep(self.endpoint.recheck_s)
            if self.principal is None:
                continue
            ending = await rechecks.ending()
            if ending is None:
                continue
            if ending.status == 401:
                log.info("closed a WebSocket: its key is now refused (%s)", ending.code)
                await self.close(4403, f"Forbidden: {ending.code}")
            else:
                await self.close(TRY_AGAIN_LATER, f"Try again later: {ending.code}")

    async def _handle(self, raw: str) -> None:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            await self.close(4400, "Messages must be JSON")
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "connection_init":
            await self._connection_init(message.get("payload"))
        elif kind == "ping":
            await self.send({"type": "pong"})
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            await self._subscribe(message.get("id"), message.get("payload"))
        elif kind == "complete":
            task = self.operations.pop(str(message.get("id")), None)
            if task is not None:
                task.cancel()
        else:
            await self.close(4400, f"Unknown message type {kind!r}")

    async def _connection_init(self, payload: Any) -> None:
        if self.init_received:
            await self.close(4429, "Too many initialisation requests")
            return
        self.init_received = True
        if payload is not None and not isinstance(payload, dict):
            await self.close(4400, "The connection_init payload must be an object")
            return
        self.credentials = _credentials(payload or {}, self.websocket.headers)
        try:
            self.principal = await self._authenticate()
        except AuthError as exc:
            log.info("refused a WebSocket: %s", exc.code)
            audit_refusal(exc, None)
            if exc.status == 401:
                await self.close(4403, f"Forbidden: {exc.code}")
            else:  # the key store cannot answer: the same connection may succeed later
                await self.close(TRY_AGAIN_LATER, f"Try again later: {exc.code}")
            return
        await self.send({"type": "connection_ack"})

    async def _authenticate(self) -> Principal:
        endpoint = self.endpoint
        return await principal_for(
            endpoint.authenticator,
            self.credentials,
            self.websocket.query_params,
            dev_mode=endpoint.dev_mode,
        )

    async def _subscribe(self, op_id: Any, payload: Any) -> None:
        if self.principal is None:
            await self.close(4401, "Unauthorized")
            return
        if not isinstance(op_id, str) or not op_id or not isinstance(payload, dict):
            await self.close(4400, "A subscribe message needs an id and a payload")
            return
        if op_id in self.operations:
            await self.close(4409, f"Subscriber for {op_id[:64]} already exists")
            return
        limit = self.endpoint.max_subscriptions
        if len(self.operations) >= limit:
            refusal = RequestRefused(
                429, "TOO_MANY_SUBSCRIPTIONS", f"at most {limit} operations per connection"
            )
            audit_refusal(refusal, self.principal)
            await self.send({"id": op_id, "type": "error", "payload": [refusal.error()]})
            return
        task = asyncio.create_task(self._operation(op_id, payload))
        self.operations[op_id] = task
        task.add_done_callback(lambda _: self._forget(op_id, task))

    def _forget(self, op_id: str, task: asyncio.Task[None]) -> None:
        if self.operations.get(op_id) is task:
            del self.operations[op_id]

    async def _operation(self, op_id: str, payload: dict[str, Any]) -> None:
        """Admit and run one operation; its results as ``next``, then ``complete`` (or
        one ``error``). Cancelled when the client sends ``complete``."""
        endpoint = self.endpoint
        operations = endpoint.operations
        principal: Principal | None = None
        try:
            principal = await self._authenticate()  # revoked since the connection began?
            with endpoint.in_flight.claim():  # taken before admission, which may await
                admitted = await endpoint.gate.admit(payload, principal, invalid=400)
                # A subscription is checked as it starts, not counted while it waits.
                body = None
                if admitted.analysis.kind != "subscription":
                    body = await operations.execute(admitted)
            if body is not None:
                await self._next(op_id, body)
            else:
                # Closed at once however this ends (a cancelled task included): the
                # subscription lets go of what it watches.
                async with contextlib.aclosing(operations.stream(admitted)) as results:
                    async for body in results:
                        await self._next(op_id, body)
        except RequestRefused as refusal:
            audit_refusal(refusal, principal)
            if refusal.status == 401:  # the key itself, refused since the connection began
                await self.close(4403, f"Forbidden: {refusal.code}")
            else:  # any other refusal (a key store that cannot answer too): this one only
                await self.send({"id": op_id, "type": "error", "payload": [refusal.error()]})
            return
        except SubscriptionNotStarted as rejected:
            await self.send({"id": op_id, "type": "error", "payload": rejected.body["errors"]})
            return
        except Exception:
            log.exception("operation %s on a WebSocket failed", op_id[:64])
            failure = RequestRefused(500, INTERNAL_ERROR, "Internal error.")
            await self.send({"id": op_id, "type": "error", "payload": [failure.error()]})
            return
        await self.send({"id": op_id, "type": "complete"})

    async def _next(self, op_id: str, body: dict[str, Any]) -> None:
        LIVE_EVENTS.labels("websocket").inc()
        await self.send({"id": op_id, "type": "next", "payload": body})

    async def _cancel_operations(self) -> None:
        """Cancel every operation but the caller's own (which ends by itself)."""
        current = asyncio.current_task()
        tasks = [task for task in self.operations.values() if task is not current]
        self.operations.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _credentials(payload: dict[str, Any], headers: Any) -> dict[str, str]:
    """The API key headers from ``connection_init`` (any case; ``apiKey`` counts as
    ``X-API-Key``), else from the upgrade request."""
    found = {
        str(name).lower(): value
        for name, value in payload.items()
        if str(name).lower() in CREDENTIAL_HEADERS and isinstance(value, str)
    }
    if isinstance(payload.get("apiKey"), str):
        found.setdefault("x-api-key", payload["apiKey"])
    if found:
        return found
    return {name: headers[name] for name in CREDENTIAL_HEADERS if name in headers}
