"""How long a source's 429 asks the gateway to wait before it calls again."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

DEFAULT_THROTTLE_WAIT_S = 1.0  # a 429 that does not say how long to wait
# The share of a source's rate limit background work (no request deadline: the
# exception queue's sweeps, background refreshes) leaves to requests.
REQUESTS_SHARE = 0.5


def throttle_wait(headers: Mapping[str, str]) -> float:
    """How long a 429 asks the caller to wait, in seconds: ``Retry-After`` (seconds or
    an HTTP date), else ``X-RateLimit-Reset`` (the Unix time the limit resets, as
    AfterShip sends it), else :data:`DEFAULT_THROTTLE_WAIT_S`.

    Read against the wall clock, not the gateway's clock: the source's limit resets in
    real time, whatever time a demo pins.
    """
    retry_after = headers.get("Retry-After")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(retry_after).timestamp() - time.time())
            except (TypeError, ValueError):
                pass
    reset = headers.get("X-RateLimit-Reset")
    if reset is not None:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            pass
    return DEFAULT_THROTTLE_WAIT_S


class Pacer:
    """Holds a source's calls back while its rate limit is spent, so they wait for the
    reset instead of drawing 429s: the source said so with ``X-RateLimit-Remaining: 0``
    and ``X-RateLimit-Reset`` on an answer, or with a 429 (every caller then waits,
    not only the one that drew it). Background calls also wait for the reset once less
    than :data:`REQUESTS_SHARE` of ``X-RateLimit-Limit`` remains: the rest is the
    requests'."""

    __slots__ = ("_short_until", "_until")

    def __init__(self) -> None:
        self._until = 0.0  # Unix seconds; 0: not held
        self._short_until = 0.0  # likewise, for background calls

    def note(self, headers: Mapping[str, str]) -> None:
        """Read an answer's rate-limit headers."""
        with contextlib.suppress(TypeError, ValueError):  # a header missing or unreadable
            reset = float(headers.get("X-RateLimit-Reset", ""))
            remaining = int(headers.get("X-RateLimit-Remaining", ""))
            if remaining == 0:
                self._until = max(self._until, reset)
            if remaining < int(headers.get("X-RateLimit-Limit", "")) * REQUESTS_SHARE:
                self._short_until = max(self._short_until, reset)

    def hold(self, wait_s: float) -> None:
        """A 429 asked for ``wait_s``: hold every call that long."""
        self._until = max(self._until, time.time() + wait_s)

    def wait_s(self, *, background: bool = False) -> float:
        """How long a call must wait before it may be sent (0: at once)."""
        until = max(self._until, self._short_until) if background else self._until
        return max(0.0, until - time.time()) if until else 0.0
