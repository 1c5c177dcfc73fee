"""How long a source's 429 asks the gateway to wait before it calls again."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

DEFAULT_THROTTLE_WAIT_S = 1.0  # a 429 that does not say how long to wait


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
    not only the one that drew it)."""

    __slots__ = ("_until",)

    def __init__(self) -> None:
        self._until = 0.0  # Unix seconds; 0: not held

    def note(self, headers: Mapping[str, str]) -> None:
        """Read an answer's rate-limit headers."""
        if headers.get("X-RateLimit-Remaining") == "0":
            with contextlib.suppress(ValueError):  # no reset time: nothing to hold to
                self._until = max(self._until, float(headers.get("X-RateLimit-Reset", "")))

    def hold(self, wait_s: float) -> None:
        """A 429 asked for ``wait_s``: hold every call that long."""
        self._until = max(self._until, time.time() + wait_s)

    def wait_s(self) -> float:
        """How long a call must wait before it may be sent (0: at once)."""
        return max(0.0, self._until - time.time()) if self._until else 0.0
