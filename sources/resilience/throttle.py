"""How long a source's 429 asks the gateway to wait before it calls again."""

from __future__ import annotations

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
