"""A circuit breaker over a sliding window of the last calls.

No well-kept asyncio library offers a failure-rate breaker over a sliding window
(pybreaker and circuitbreaker count consecutive failures, and pybreaker's async
support is Tornado's), so this is the small state machine itself:

- CLOSED: calls pass; each outcome joins a window of the last ``window`` calls.
  Once ``min_calls`` are in it and ``failure_ratio`` of them failed, it opens.
  Failures of one identified caller (an API key) count for at most ``caller_share``
  of the failures needed, so no caller can open it for every tenant on its own,
  whatever inputs it sends; failures of calls with no caller (dev mode, background
  work) count in full.
- OPEN: calls fail fast for ``open_s``; then it turns half-open.
- HALF_OPEN: up to ``probes`` calls pass; all succeeding closes it, any failing
  opens it again.

Each identified caller also has a breaker of its own (:class:`CallerBreakers`): what
one key's failures alone would open, they open for that key only. So a key sending
inputs that make the source fail is failed fast without costing anyone else, and a
deployment with a single key still fails fast through a real outage.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable

CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"


class CircuitOpenError(Exception):
    """The breaker refused the call."""


class CircuitBreaker:
    def __init__(
        self,
        *,
        window: int = 20,
        min_calls: int = 10,
        failure_ratio: float = 0.5,
        caller_share: float = 0.5,
        open_s: float = 5.0,
        probes: int = 3,
        on_change: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state = CLOSED
        self._outcomes: deque[tuple[bool, str | None]] = deque(maxlen=window)
        self._caller_share = caller_share
        self._min_calls = min_calls
        self._failure_ratio = failure_ratio
        self._open_s = open_s
        self._probes = probes
        self._on_change = on_change
        self._clock = clock
        self._opened_at = 0.0
        self._probing = 0  # half-open calls in flight
        self._probe_successes = 0
        self._generation = 0  # bumped on every state change

    def acquire(self) -> int:
        """Let a call through or raise ``CircuitOpenError``. The returned ticket goes
        back with the call's one ``record``."""
        if self.state == OPEN:
            if self._clock() - self._opened_at < self._open_s:
                raise CircuitOpenError
            self._move(HALF_OPEN)
        if self.state == HALF_OPEN:
            if self._probing + self._probe_successes >= self._probes:
                raise CircuitOpenError
            self._probing += 1
        return self._generation

    def record(self, ticket: int, ok: bool | None, caller: str | None = None) -> None:
        """The outcome of a call let through: success, failure, or ``None`` when it
        says nothing about the source (cancelled, refused by our own limits, a 4xx
        for the caller's input), made for ``caller`` (``None``: no identified caller).
        Outcomes of calls let through before the last state change are ignored."""
        if ticket != self._generation:
            return
        if self.state == HALF_OPEN:
            self._probing -= 1
            if ok is False:
                self._open()
            elif ok:
                self._probe_successes += 1
                if self._probe_successes >= self._probes:
                    self._move(CLOSED)
        elif self.state == CLOSED and ok is not None:
            self._outcomes.append((ok, caller))
            calls = len(self._outcomes)
            if ok or calls < self._min_calls:
                return
            needed = self._failure_ratio * calls
            if self._counted_failures(needed * self._caller_share) >= needed:
                self._open()

    def _counted_failures(self, per_caller: float) -> float:
        """The window's failures, each identified caller's at most ``per_caller``."""
        by_caller = Counter(caller for ok, caller in self._outcomes if not ok)
        anonymous = by_caller.pop(None, 0)
        return anonymous + sum(min(n, per_caller) for n in by_caller.values())

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._move(OPEN)

    def _move(self, state: str) -> None:
        self.state = state
        self._generation += 1
        self._outcomes.clear()
        self._probing = 0
        self._probe_successes = 0
        if self._on_change is not None:
            self._on_change(state)


class CallerBreakers:
    """One breaker per identified caller, the ``limit`` most recent ones kept (a
    forgotten caller starts again closed)."""

    def __init__(self, make: Callable[[], CircuitBreaker], limit: int = 1024) -> None:
        self._make = make
        self._limit = limit
        self._breakers: OrderedDict[str, CircuitBreaker] = OrderedDict()

    def of(self, caller: str) -> CircuitBreaker:
        breaker = self._breakers.get(caller)
        if breaker is None:
            breaker = self._breakers[caller] = self._make()
            if len(self._breakers) > self._limit:
                self._breakers.popitem(last=False)
        else:
            self._breakers.move_to_end(caller)
        return breaker
