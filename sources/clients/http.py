"""The one HTTP path every source client goes through.

Per source and per process: one pooled aiohttp session with explicit timeouts, a
concurrency cap (bulkhead), a circuit breaker, and retries with full-jitter backoff
for idempotent reads only, within a retry budget. Every call gets at most what is
left of the request's deadline. Failures become ``SourceError`` with a stable code;
batch answers are decoded record by record, so one malformed record costs only its
own entity.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import msgspec
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from sources import telemetry
from sources.failures import (
    BAD_USER_INPUT,
    CIRCUIT_OPEN,
    SOURCE_BAD_RESPONSE,
    SOURCE_TIMEOUT,
    SOURCE_UNAVAILABLE,
    SourceError,
)
from sources.options import SourceConfig
from sources.resilience import caller, deadline
from sources.resilience.breaker import CallerBreakers, CircuitBreaker, CircuitOpenError
from sources.resilience.budget import RetryBudget
from sources.resilience.throttle import Pacer, throttle_wait
from sources.webhooks import NOT_CONFIGURED, VerifiedEvent, WebhookError, verify

log = logging.getLogger("ordergraph.sources")

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

_TRANSIENT_STATUSES = frozenset({502, 503, 504})
MIN_CALL_S = 0.005  # less time than this left: the call is not worth sending
MIN_TIMEOUT_BLAME_S = 0.1  # a timeout shorter than this is the deadline's, not the source's
THROTTLED = 429
# A call waits out a rate limit within its deadline, and without one (background work)
# for this long at the most; each wait at least the minimum, so "retry now" cannot spin.
MAX_THROTTLE_WAIT_S = 10.0
MIN_THROTTLE_WAIT_S = 0.01


def open_session(config: SourceConfig) -> aiohttp.ClientSession:
    """The process-wide session for one source.

    aiohttp's defaults are a 300 s total timeout and no per-host connection limit;
    both are set explicitly here (each call narrows the timeout to its deadline).
    """
    connector = aiohttp.TCPConnector(
        limit=config.max_connections,
        limit_per_host=config.max_connections,
        ttl_dns_cache=300,
    )
    timeout = aiohttp.ClientTimeout(
        total=config.total_timeout_s,
        connect=config.connect_timeout_s,
        sock_read=config.read_timeout_s,
    )
    return aiohttp.ClientSession(
        base_url=config.base_url.rstrip("/") + "/",
        connector=connector,
        timeout=timeout,
        trace_configs=[telemetry.client_tracing()],
        raise_for_status=False,
        skip_auto_headers=("User-Agent",),
        headers={"User-Agent": "ordergraph/0.1"},
    )


class SourceAnswered(SourceError):
    """A non-200 status the caller accepted as an answer (``accept_statuses``): the
    source is healthy and said no; ``body`` is its raw payload, for the caller to read."""

    def __init__(self, source: str, status: int, body: bytes) -> None:
        super().__init__(source, SOURCE_BAD_RESPONSE, f"answered HTTP {status}", retryable=False)
        self.status = status
        self.body = body


# 4xx statuses that speak of the source's state or of the gateway's own credentials
_NOT_THE_CALLERS = frozenset({401, 403, 408, THROTTLED})
_LOGGED_BODY_CHARS = 300


class SourceRejected(SourceError):
    """The source refused the request as malformed (a 4xx other than 408/429): the
    source is healthy and the request, i.e. the caller's input, is at fault. Never a
    breaker failure, never retried; its message names only the status (the source's
    own words are logged, not shown to the caller)."""

    def __init__(self, source: str, status: int, why: str | None = None) -> None:
        super().__init__(
            source,
            BAD_USER_INPUT,
            f"refused the request as invalid ({why or f'HTTP {status}'})",
            retryable=False,
        )
        self.status = status


class _Throttled(SourceError):
    """429: the source is healthy and asks the gateway to slow down for ``wait_s``.
    Back-pressure, not a failure: waited out within the deadline, never a breaker
    failure, never spent from the retry budget."""

    def __init__(self, source: str, wait_s: float) -> None:
        message = f"rate limited: asked to wait {wait_s * 1000:.0f} ms"
        super().__init__(source, SOURCE_UNAVAILABLE, message, retryable=True)
        self.wait_s = wait_s


class _NotSent(SourceError):
    """Refused by the gateway's own limits (deadline, bulkhead): says nothing of the source."""


class _TimedOut(SourceError):
    def __init__(self, source: str, timeout_s: float) -> None:
        message = f"no answer within {timeout_s * 1000:.0f} ms"
        super().__init__(source, SOURCE_TIMEOUT, message, retryable=True)
        # A short timeout is the request deadline's doing, not the source's fault.
        self.blames_source = timeout_s >= MIN_TIMEOUT_BLAME_S


class _StopNearDeadline(stop_base):
    """Stop retrying when the request deadline leaves no room for another attempt."""

    def __init__(self, config: SourceConfig) -> None:
        self._room_s = config.retry_backoff_cap_s + MIN_CALL_S

    def __call__(self, retry_state: RetryCallState) -> bool:
        left = deadline.remaining()
        return left is not None and left < self._room_s


@dataclass(frozen=True, slots=True)
class _Call:
    """One request to send, however many attempts it takes."""

    method: str
    path: str
    params: Mapping[str, str] | None
    body: bytes | None
    accept_statuses: Collection[int] = ()
    headers: Mapping[str, str] | None = None
    caller_input: bool = True


class _RawBatch(msgspec.Struct, rename="camel"):
    data: list[msgspec.Raw]
    not_found: list[str] = []


class SourceClient:
    """Base of the four clients: one named source behind one session."""

    name: str = "source"
    health_path = "healthz"  # answers 200 while the source is up

    def __init__(self, config: SourceConfig) -> None:
        """Open the client's session; call from inside the running event loop."""
        self.auth_headers: Mapping[str, str] = {}  # sent with every call, health included
        self.base_url = config.base_url
        self.batch_size = config.batch_size
        self._config = config
        self._session = open_session(config)
        self._decoders: dict[Any, msgspec.json.Decoder[Any]] = {}
        self._bulkhead = asyncio.Semaphore(config.max_concurrency)

        def breaker(**options: Any) -> CircuitBreaker:
            return CircuitBreaker(
                window=config.breaker_window,
                min_calls=config.breaker_min_calls,
                failure_ratio=config.breaker_failure_ratio,
                open_s=config.breaker_open_s,
                probes=config.breaker_probes,
                **options,
            )

        self.breaker = breaker(
            caller_share=config.breaker_caller_share, on_change=self._breaker_moved
        )
        self.caller_breakers = CallerBreakers(breaker)  # what one key alone would open
        self._budget = RetryBudget()
        self._pacer = Pacer()
        self._retrying = AsyncRetrying(
            stop=stop_after_attempt(config.retry_attempts) | _StopNearDeadline(config),
            wait=wait_random_exponential(
                multiplier=config.retry_backoff_s, max=config.retry_backoff_cap_s
            ),
            retry=retry_if_exception(self._may_retry),
            before_sleep=lambda _: telemetry.count_retry(self.name),
            reraise=True,
        )
        telemetry.set_circuit_state(self.name, self.breaker.state)

    async def close(self) -> None:
        await self._session.close()

    async def ping(self) -> bool:
        """Whether the source answers its health endpoint with a 200."""
        try:
            async with self._session.get(self.health_path, headers=self.auth_headers) as resp:
                return resp.status == 200
        except (TimeoutError, aiohttp.ClientError, OSError):
            return False

    async def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        """A change event the native source sent: a Standard Webhook signed with one of
        the configured secrets (``OG_WEBHOOK_SECRETS``)."""
        if not self._config.webhook_secrets:
            raise WebhookError(503, NOT_CONFIGURED, "no webhook secret is configured")
        return verify(self.name, body, headers, self._config.webhook_secrets)

    def bad_response(self, what: str) -> SourceError:
        """The error for an answer the gateway cannot use (``what`` it was); not
        retried: the same call would get the same answer."""
        return SourceError(self.name, SOURCE_BAD_RESPONSE, what, retryable=False)

    def held_s(self) -> float:
        """How long the source's rate limit holds calls back from now (0: not)."""
        return self._pacer.wait_s()

    def throttled_s(self, answer: Any) -> float | None:
        """For an API that answers its rate limit inside a 200 (GraphQL's THROTTLED
        error): how long the decoded ``answer`` asks to wait before its call is sent
        again, as a 429 would; None (the default) when it was not throttled. It may
        also raise :class:`SourceError` for an answer that is an error: the call then
        failed, as with an unreadable payload; or :class:`SourceRejected` for one that
        refuses the caller's input, as a 4xx does."""
        return None

    async def fetch_batch(
        self,
        path: str,
        param: str,
        ids: list[str],
        record_type: type[T],
        key: Callable[[T], str],
    ) -> dict[str, T | None]:
        """One batch read: found records by ``key``, ``None`` for ids the source says it
        does not have. Ids in neither (a partial answer, or a record that failed to
        decode) are left out, for the caller to report.

        The ids were checked by the gateway or come from another source's records, and
        the contract lists unknown ones in ``notFound``: a 4xx refusing the batch is the
        source's failure (a moved route, a broken contract), not the caller's input."""
        batch = await self.request_json(
            "GET",
            path,
            _RawBatch,
            params={param: ",".join(ids)},
            batch_size=len(ids),
            caller_input=False,
        )
        found: dict[str, T | None] = dict.fromkeys(batch.not_found)
        decoder = self._decoder(record_type)
        for raw in batch.data:
            try:
                record = decoder.decode(raw)
            except msgspec.DecodeError as exc:
                log.warning("%s sent an unreadable %s: %s", self.name, record_type.__name__, exc)
                continue
            found[key(record)] = record
        return found

    async def request_json(
        self,
        method: str,
        path: str,
        into: type[T],
        *,
        params: Mapping[str, str] | None = None,
        body: object = None,
        idempotent: bool = True,
        batch_size: int = 1,
        accept_statuses: Collection[int] = (),
        headers: Mapping[str, str] | None = None,
        caller_input: bool = True,
    ) -> T:
        """Call the source and decode its JSON answer into ``into``, or raise
        ``SourceError``. Only ``idempotent`` calls are ever retried.

        ``accept_statuses`` are answers besides 200, not failures (no retry, no breaker
        failure): a 2xx one decodes into ``into`` too, any other raises
        :class:`SourceAnswered` with the raw body (e.g. a 409 refusal's ErrorBody).
        ``headers`` are sent besides the client's own (e.g. ``Idempotency-Key``).
        A 4xx refusing the call is the caller's input at fault (:class:`SourceRejected`)
        only while the call carries ``caller_input``; else it is the source's failure.
        """
        encoded = None if body is None else msgspec.json.encode(body)
        call = _Call(method, path, params, encoded, accept_statuses, headers, caller_input)
        waited_s = 0.0
        background = deadline.in_background()
        while True:
            try:
                held_s = self._pacer.wait_s(background=background)
                if held_s > 0:  # the source said its limit is spent (for us): not sent
                    raise _Throttled(self.name, held_s)
                return await self._call(call, into, batch_size, idempotent)
            except _Throttled as exc:
                # A 429 means the call was not processed: even a write may be resent.
                wait_s = max(exc.wait_s, MIN_THROTTLE_WAIT_S)
                if waited_s + wait_s > MAX_THROTTLE_WAIT_S or not _room_to_wait(wait_s):
                    raise
                waited_s += wait_s
                telemetry.count_throttle_wait(self.name)
                await asyncio.sleep(wait_s)

    async def _call(self, call: _Call, into: type[T], batch_size: int, idempotent: bool) -> T:
        """One call, with retries of an idempotent one."""
        self._budget.on_call()
        if not idempotent:
            return await self._attempt(call, into, batch_size)
        # The first attempt runs outside tenacity, whose set-up per call costs more than
        # the rest of the call's Python; a failure is handed to it as its own first try.
        try:
            return await self._attempt(call, into, batch_size)
        except Exception as exc:
            first: Exception | None = exc

        async def attempt() -> T:
            nonlocal first
            if first is not None:
                failed, first = first, None
                raise failed
            return await self._attempt(call, into, batch_size)

        return await self._retrying.copy()(attempt)

    def _may_retry(self, exc: BaseException) -> bool:
        return isinstance(exc, SourceError) and exc.transient and self._budget.try_spend()

    def _breaker_moved(self, state: str) -> None:
        log.warning("%s circuit breaker is now %s", self.name, state)
        telemetry.set_circuit_state(self.name, state)

    async def _attempt(self, call: _Call, into: type[T], batch_size: int) -> T:
        who = caller.current()
        own = None if who is None else self.caller_breakers.of(who)
        try:
            own_ticket = 0 if own is None else own.acquire()
        except CircuitOpenError:
            raise SourceError(
                self.name,
                CIRCUIT_OPEN,
                "circuit open for this API key's calls: failing fast",
                retryable=True,
            ) from None
        try:
            ticket = self.breaker.acquire()
        except CircuitOpenError:
            if own is not None:
                own.record(own_ticket, None)  # the call never went out
            raise SourceError(
                self.name, CIRCUIT_OPEN, "circuit open: failing fast", retryable=True
            ) from None
        verdict: bool | None = None
        try:
            result = await self._send(call, into, batch_size)
            verdict = True
            return result
        except (_NotSent, _Throttled):
            raise  # said nothing of the source's health (verdict None)
        except SourceAnswered:
            verdict = True
            raise
        except SourceRejected:
            verdict = None  # the caller's input, not the source's health
            raise
        except _TimedOut as exc:
            verdict = False if exc.blames_source else None
            raise
        except SourceError:
            verdict = False
            raise
        finally:
            self.breaker.record(ticket, verdict, who)
            if own is not None:
                own.record(own_ticket, verdict)

    async def _send(self, request: _Call, into: type[T], batch_size: int) -> T:
        config = self._config
        timeout_s = deadline.bounded(config.total_timeout_s)
        if timeout_s < MIN_CALL_S:
            raise _NotSent(self.name, SOURCE_TIMEOUT, "request deadline exhausted", retryable=True)
        try:
            async with asyncio.timeout(timeout_s):
                await self._bulkhead.acquire()
        except TimeoutError:
            telemetry.count_bulkhead_rejection(self.name)
            raise _NotSent(
                self.name, SOURCE_TIMEOUT, "too many calls in flight", retryable=True
            ) from None
        try:
            timeout_s = deadline.bounded(config.total_timeout_s)
            operation = f"{request.method} {request.path}"
            async with telemetry.upstream_call(self.name, operation, batch_size) as call:
                try:
                    status, payload, wait_s = await self._exchange(request, timeout_s)
                except SourceError as exc:
                    call.outcome = _OUTCOMES[exc.code]
                    raise
                if status == THROTTLED:
                    call.outcome = "throttled"
                    raise _Throttled(self.name, wait_s)
                if status != 200 and status not in request.accept_statuses:
                    call.outcome = "unavailable" if status >= 500 else "rejected"
                    if (
                        request.caller_input
                        and 400 <= status < 500
                        and status not in _NOT_THE_CALLERS
                    ):
                        log.info(
                            "%s refused %s %s with HTTP %d: %s",
                            self.name,
                            request.method,
                            request.path,
                            status,
                            payload[:_LOGGED_BODY_CHARS].decode("utf-8", "replace"),
                        )
                        raise SourceRejected(self.name, status)
                    raise _status_error(self.name, status)
                if status >= 300:
                    call.outcome = "rejected"
                    raise SourceAnswered(self.name, status, payload)
                try:
                    decoded = self._decoder(into).decode(payload)
                except msgspec.DecodeError as exc:
                    call.outcome = "bad_response"
                    raise SourceError(
                        self.name,
                        SOURCE_BAD_RESPONSE,
                        f"unreadable payload: {exc}",
                        retryable=False,
                    ) from exc
                try:
                    asked_s = self.throttled_s(decoded)
                except SourceRejected:
                    call.outcome = "rejected"  # the caller's input, as with a 4xx
                    raise
                if asked_s is not None:  # a 429 in all but status: waited out the same way
                    call.outcome = "throttled"
                    raise _Throttled(self.name, self._pacer.hold(asked_s))
                call.outcome = "ok"
                return decoded
        finally:
            self._bulkhead.release()

    async def _exchange(self, request: _Call, timeout_s: float) -> tuple[int, bytes, float]:
        """The status and body of one request, and for a 429 how long it asks to wait."""
        config = self._config
        timeout = aiohttp.ClientTimeout(
            total=timeout_s,
            connect=min(config.connect_timeout_s, timeout_s),
            sock_read=min(config.read_timeout_s, timeout_s),
        )
        # the trace context is the session's to add
        headers = {**self.auth_headers, **(request.headers or {})}
        if request.body is not None:
            headers["Content-Type"] = "application/json"
        try:
            async with self._session.request(
                request.method,
                request.path.lstrip("/"),
                params=request.params,
                data=request.body,
                headers=headers,
                timeout=timeout,
            ) as resp:
                wait_s = 0.0
                if resp.status == THROTTLED:
                    wait_s = self._pacer.hold(throttle_wait(resp.headers))
                else:
                    self._pacer.note(resp.headers)
                return resp.status, await resp.read(), wait_s
        except TimeoutError as exc:
            raise _TimedOut(self.name, timeout_s) from exc
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
            raise SourceError(
                self.name,
                SOURCE_UNAVAILABLE,
                f"unreachable ({type(exc).__name__})",
                retryable=True,
                transient=True,
            ) from exc

    def _decoder(self, into: Any) -> msgspec.json.Decoder[Any]:
        decoder = self._decoders.get(into)
        if decoder is None:
            decoder = self._decoders[into] = msgspec.json.Decoder(into)
        return decoder


def _room_to_wait(wait_s: float) -> bool:
    """Whether the request's deadline leaves room to wait ``wait_s`` and call again."""
    left = deadline.remaining()
    return left is None or left - wait_s >= MIN_CALL_S


_OUTCOMES = {
    SOURCE_TIMEOUT: "timeout",
    SOURCE_UNAVAILABLE: "unavailable",
    SOURCE_BAD_RESPONSE: "bad_response",
    CIRCUIT_OPEN: "circuit_open",
}


def _status_error(source: str, status: int) -> SourceError:
    transient = status in _TRANSIENT_STATUSES
    if transient or status >= 500:
        return SourceError(
            source,
            SOURCE_UNAVAILABLE,
            f"answered HTTP {status}",
            retryable=True,
            transient=transient,
        )
    return SourceError(source, SOURCE_BAD_RESPONSE, f"answered HTTP {status}", retryable=False)
