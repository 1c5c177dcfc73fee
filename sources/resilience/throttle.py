"""How long a source's 429 asks the gateway to wait before it calls again."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import NamedTuple

DEFAULT_THROTTLE_WAIT_S = 1.0  # a 429 that does not say how long to wait
# The longest a source's statement holds its calls back. The longest window of the
# sources served here is a minute (Zendesk counts calls a minute; AfterShip's window is
# a second, Shopify's bucket refills in 10 s), so no real statement is cut short; a
# longer one (Retry-After: 1e9, a reset in the wrong unit) is the source misbehaving,
# and a call sent after a minute reads a fresh statement. No caller waits even this
# long (sources.clients.http.MAX_THROTTLE_WAIT_S): a longer hold only fails calls fast.
MAX_STATED_WAIT_S = 60.0
# The share of a source's rate limit background work (no request deadline: the
# exception queue's sweeps, background refreshes) leaves to requests.
REQUESTS_SHARE = 0.5


def bounded(wait_s: float) -> float:
    """``wait_s`` as the gateway keeps it: from 0 to :data:`MAX_STATED_WAIT_S`; one that
    is not a number is :data:`DEFAULT_THROTTLE_WAIT_S`."""
    if math.isnan(wait_s):
        return DEFAULT_THROTTLE_WAIT_S
    return min(max(wait_s, 0.0), MAX_STATED_WAIT_S)


def _number(value: str | None) -> float | None:
    """A header's number of seconds or time; None unless finite and not negative."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def throttle_wait(headers: Mapping[str, str]) -> float:
    """How long a 429 asks the caller to wait, in seconds: ``Retry-After`` (seconds or
    an HTTP date), else ``X-RateLimit-Reset`` (the Unix time the limit resets, as
    AfterShip sends it), else :data:`DEFAULT_THROTTLE_WAIT_S`; at most
    :data:`MAX_STATED_WAIT_S`. A value that is not a finite, non-negative number (``inf``,
    ``nan``, ``-3``) is not read.

    Read against the wall clock, not the gateway's clock: the source's limit resets in
    real time, whatever time a demo pins.
    """
    retry_after = headers.get("Retry-After")
    seconds = _number(retry_after)
    if seconds is not None:
        return bounded(seconds)
    if retry_after is not None:
        try:
            return bounded(parsedate_to_datetime(retry_after).timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    reset = _number(headers.get("X-RateLimit-Reset"))
    if reset is not None:
        now = time.time()
        return max(0.0, reset_at(reset, now) - now)
    return DEFAULT_THROTTLE_WAIT_S


# No rate limit's window is decades long: a reset from this value on is a Unix time,
# and from the next on a Unix time in milliseconds (1e12 s would be the year 33658).
_UNIX_TIME_FROM = 1e9
_UNIX_MS_FROM = 1e12


def reset_at(stated: float, now: float) -> float:
    """When a stated reset is, in Unix seconds, :data:`MAX_STATED_WAIT_S` from ``now`` at
    the latest: a reset header holds a Unix time (in seconds or milliseconds) or the
    seconds until the reset, whatever its name promises (the IETF draft's
    ``RateLimit-Reset`` counts seconds; AfterShip sends a Unix time under that name
    too), and the value tells which."""
    if stated >= _UNIX_MS_FROM:
        at = stated / 1000
    elif stated >= _UNIX_TIME_FROM:
        at = stated
    else:
        at = now + stated
    return min(at, now + MAX_STATED_WAIT_S)


class RateLimit(NamedTuple):
    """What an answer said of its source's rate limit."""

    limit: int | None  # calls a window; None when not said
    remaining: int  # calls left in this window
    reset: float  # when the window ends, Unix seconds


# (limit, remaining, reset) header names, in the order they are looked for:
# AfterShip's; the IETF draft's, which Zendesk sends on its list endpoints; Zendesk's
# on every answer, which says no reset (see rate_limit).
_SPELLINGS: tuple[tuple[str, str, str | None], ...] = (
    ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"),
    ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"),
    ("X-Rate-Limit", "X-Rate-Limit-Remaining", None),
)


def rate_limit(headers: Mapping[str, str]) -> RateLimit | None:
    """The rate limit an answer's headers state, in the first spelling of
    :data:`_SPELLINGS` it carries; None when it carries none, or no readable count or
    reset (one that is not a finite, non-negative number included). A spelling without
    a reset is taken to reset :data:`DEFAULT_THROTTLE_WAIT_S` from now: read again on the
    next answer, so a low count holds calls a second at a time."""
    for limit_name, remaining_name, reset_name in _SPELLINGS:
        remaining = headers.get(remaining_name)
        if remaining is None:
            continue
        now = time.time()
        try:
            left = int(remaining)
            if reset_name is None:
                reset = now + DEFAULT_THROTTLE_WAIT_S
            else:
                stated = _number(headers.get(reset_name))
                if stated is None:
                    return None
                reset = reset_at(stated, now)
            limit = headers.get(limit_name)
            return RateLimit(None if limit is None else int(limit), left, reset)
        except ValueError:
            return None
    return None


class Pacer:
    """Holds a source's calls back while its rate limit is spent, so they wait for the
    reset instead of drawing 429s: the source said so with a remaining count of 0 and
    a reset on an answer (:func:`rate_limit`), or with a 429 (every caller then waits,
    not only the one that drew it). Background calls also wait for the reset once less
    than :data:`REQUESTS_SHARE` of the limit remains: the rest is the requests'.

    Nothing holds calls longer than :data:`MAX_STATED_WAIT_S` from when it was said:
    a held source is sent nothing, so only a call sent after the hold can hear a
    shorter one."""

    __slots__ = ("_short_until", "_until")

    def __init__(self) -> None:
        self._until = 0.0  # Unix seconds; 0: not held
        self._short_until = 0.0  # likewise, for background calls

    def note(self, headers: Mapping[str, str]) -> None:
        """Read an answer's rate-limit headers."""
        stated = rate_limit(headers)
        if stated is None:
            return
        if stated.remaining == 0:
            self._until = max(self._until, stated.reset)
        if stated.limit is not None and stated.remaining < stated.limit * REQUESTS_SHARE:
            self._short_until = max(self._short_until, stated.reset)

    def hold(self, wait_s: float) -> float:
        """A 429 asked for ``wait_s``: hold every call that long (:func:`bounded`), and
        answer how long that is."""
        held_s = bounded(wait_s)
        self._until = max(self._until, time.time() + held_s)
        return held_s

    def wait_s(self, *, background: bool = False) -> float:
        """How long a call must wait before it may be sent (0: at once)."""
        until = max(self._until, self._short_until) if background else self._until
        return max(0.0, until - time.time()) if until else 0.0
