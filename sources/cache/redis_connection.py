"""The one connection policy every Redis role shares: one client and pool, one way of
turning Redis trouble into a fallback or :class:`CacheUnavailable`, one health. Every
Redis client (the cache's here, the gateway's key store and start-up check) is made by
:func:`redis_client`: the same timeouts and the same retry.

A whole call (waiting for a pooled connection, connecting, the command) is cut off
after ``timeout_s`` (100 ms). After an error Redis is *down* for ``cooldown_s`` and
plain calls skip it entirely, answering their fallback (a hung Redis then costs a
caller at most ``timeout_s`` once per cooldown, not once per call); the first call
after the cooldown probes Redis again. A ``strict`` call always asks Redis, even
while it is down, and raises :class:`CacheUnavailable` instead of falling back. A
call that times out after queueing for a pooled connection (a burst larger than the
pool) fails too, but is not blamed on Redis: no cooldown for everyone else. Nor is
a call that timed out while this process's event loop ran late at its end (its timer,
or the lag monitor's over its last tick, fired ``OVERLOAD_LATENESS_S`` late or more):
the answer may have been waiting unread, and a cooldown would send every request to
the sources at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis._parsers import _AsyncHiredisParser
from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.utils import HIREDIS_AVAILABLE

from sources.cache.backend import BackendHealth, CacheUnavailable
from sources.resilience.loop_lag import LoopLag

log = logging.getLogger("ordergraph.cache")

T = TypeVar("T")

# What "Redis trouble" is: redis-py errors, socket errors and timeouts (asyncio's and
# the builtin TimeoutError are one class since 3.11, a subclass of OSError).
TROUBLE = (RedisError, OSError)

HEALTH_CHECK_INTERVAL_S = 15.0  # PING a connection idle this long before reusing it
# A timer (the call's own, or the lag monitor's during the call) that fires this
# much later than due means a saturated loop.
OVERLOAD_LATENESS_S = 0.02


def redis_client(
    url: str,
    *,
    timeout_s: float,
    max_connections: int | None = None,
    retry: bool = True,
    **options: Any,
) -> Redis:
    """A redis-py asyncio client for ``url`` (a scheme of ``sources.options.REDIS_SCHEMES``)
    with the house policy: connecting and each read or write are cut off after
    ``timeout_s``; a command whose connection fails is retried once, at once (a stale
    pooled connection after a Redis restart), one that times out never (that would
    double the wait on a hung Redis).

    ``max_connections``: a bounded pool, where a call waits up to ``timeout_s`` for a
    free connection (without it, redis-py's own pool, which does not wait).
    ``retry=False``: no retry, for a caller that retries with its own backoff.
    ``options``: further connection options (``decode_responses``,
    ``health_check_interval`` …)."""
    connection: dict[str, Any] = {
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        "retry": Retry(NoBackoff(), 1 if retry else 0, supported_errors=(RedisConnectionError,)),
        **options,
    }
    if max_connections is None:
        return Redis.from_pool(ConnectionPool.from_url(url, **connection))
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_s,  # bursts wait this long for a free connection
        **connection,
    )
    return Redis.from_pool(pool)


class _Reported:
    """Occurrences of one kind of trouble: counted, and logged at most once per
    interval with how many happened since the last line."""

    def __init__(self, message: str, interval_s: float) -> None:
        self.count = 0
        self._message = message  # %d: how many since the last line, %s: detail
        self._interval_s = interval_s
        self._unreported = 0
        self._next_at = 0.0

    def add(self, detail: str) -> None:
        self.count += 1
        self._unreported += 1
        now = time.monotonic()
        if now >= self._next_at:
            log.warning(self._message, self._unreported, detail)
            self._unreported = 0
            self._next_at = now + self._interval_s


class RedisConnection:
    """One Redis client over a bounded pool, and whether Redis is down."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float,
        max_connections: int,
        cooldown_s: float,
        log_interval_s: float,
        loop_lag: LoopLag | None = None,
    ) -> None:
        """``loop_lag``: the process's lag monitor (without it, only the call's own
        timer tells whether the loop was late)."""
        if not HIREDIS_AVAILABLE:
            raise RuntimeError("the Redis cache needs hiredis: pip install 'redis[hiredis]'")
        # Each step's own limit (pool wait, connect, command); the deadline below caps
        # all of them together.
        self.client = redis_client(
            url,
            timeout_s=timeout_s,
            max_connections=max_connections,
            health_check_interval=HEALTH_CHECK_INTERVAL_S,
            parser_class=_AsyncHiredisParser,
        )
        self.deadline_s = timeout_s  # a whole call, pool wait and connect included
        # At most one call in flight per pooled connection (less the one a pub/sub
        # listener keeps), so a call knows whether it had to queue for one.
        self._slots_total = max(1, max_connections - 1)
        self._slots = asyncio.Semaphore(self._slots_total)
        self._cooldown_s = cooldown_s
        self._down = False
        self._retry_at = 0.0  # while down: when the next call may probe Redis
        self._errors = _Reported(
            "redis cache unavailable, serving misses: %d error(s) since last report, last: %s",
            log_interval_s,
        )
        self._busy = _Reported(
            "redis connection pool busy, serving misses: %d call(s) since last report (%s)",
            log_interval_s,
        )
        self._late = _Reported(
            "event loop late, redis calls served as misses (redis not blamed): "
            "%d call(s) since last report, loop lag %s",
            log_interval_s,
        )
        self._loop_lag = loop_lag
        self._last_error = ""

    async def run(
        self, call: Callable[[], Awaitable[Any]], fallback: T, *, strict: bool = False
    ) -> T:
        """``call()``'s result, or ``fallback`` if Redis is down or fails now; with
        ``strict``, Redis is asked even while down and a failure raises
        :class:`CacheUnavailable`."""
        if strict:
            return await self._ask(call)
        if self._skip():
            return fallback
        try:
            return await self._ask(call)
        except CacheUnavailable:
            return fallback

    def health(self) -> BackendHealth:
        return BackendHealth(
            backend="redis",
            ok=not self._down,
            errors=self._errors.count,
            detail=self._last_error if self._down else "",
        )

    async def close(self) -> None:
        await self.client.aclose()

    def failed(self, exc: BaseException) -> None:
        """Note that Redis failed: down for the cooldown, counted and logged."""
        self._last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if isinstance(exc, TimeoutError | RedisTimeoutError):  # the call's or the socket's
            self._last_error = (
                f"no answer within {self.deadline_s * 1000:.0f} ms ({self._last_error})"
            )
        if not self._down:  # later failures (a listener's too) must not push the probe back
            self._down = True
            self._retry_at = time.monotonic() + self._cooldown_s
        self._errors.add(self._last_error)

    def succeeded(self) -> None:
        """Note that Redis answered: no longer down."""
        if self._down:
            self._down = False
            log.warning("redis cache recovered (%d error(s) in total)", self._errors.count)

    async def _ask(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """``call()``'s result; any trouble raises :class:`CacheUnavailable`."""
        started = time.monotonic()
        queued = self._slots.locked()  # every pooled connection is busy
        try:
            async with asyncio.timeout(self.deadline_s), self._slots:
                result = await call()
        except TROUBLE as exc:
            lag = self._lag_since(started) if isinstance(exc, TimeoutError) else 0.0
            if lag > OVERLOAD_LATENESS_S:
                # This process's event loop ran late: the answer may be waiting unread.
                # Not Redis's fault: no cooldown (that would send every request to the
                # sources at once).
                self._late.add(f"{lag * 1000:.0f} ms")
                raise CacheUnavailable("the event loop is saturated") from exc
            if isinstance(exc, TimeoutError) and queued:
                # Out of time after queueing behind a burst: this process is busy, not
                # Redis (calls that got a connection at once tell whether Redis is hung).
                self._busy.add(f"{self._slots_total} connection(s) for calls")
                raise CacheUnavailable("every pooled Redis connection is busy") from exc
            self.failed(exc)
            raise CacheUnavailable(self._last_error) from exc
        self.succeeded()
        return result

    def _lag_since(self, started: float) -> float:
        """How late the loop ran at the end of a call that started at ``started`` and
        has just timed out: its own timer's lateness, or the monitor's worst over the
        call's last tick. Only a loop that was late then can have left an answer
        unread; a stall that ended earlier left it time to read one, so the timeout is
        Redis's (else a loaded machine's blips would excuse a hung Redis on every call,
        and it would never cool down)."""
        late = time.monotonic() - started - self.deadline_s
        if self._loop_lag is not None:
            last_tick = started + self.deadline_s - self._loop_lag.interval_s
            late = max(late, self._loop_lag.worst_since(last_tick))
        return late

    def _skip(self) -> bool:
        """True while down and cooling off. The first call after the cooldown goes on
        as the probe, and pushes the cooldown back so concurrent calls still skip."""
        if not self._down:
            return False
        now = time.monotonic()
        if now < self._retry_at:
            return True
        self._retry_at = now + self._cooldown_s
        return False
