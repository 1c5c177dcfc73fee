"""A live stream's key, checked again every ``OG_LIVE_KEY_RECHECK_MS``: one rule for
the WebSocket and the event stream, each ending the stream its own way.

A key refused since the stream began (401: revoked, expired) ends it at once, with one
``denied`` line in the audit trail. A key store that cannot answer (503
AUTH_UNAVAILABLE) must not keep a stream running unchecked for as long as the outage
lasts (correctness never fails open), nor drop every console on a blip: the stream
ends, with a retryable AUTH_UNAVAILABLE, once its key could not be checked at
``UNCHECKED_RECHECKS`` re-checks in a row. That is no denial (no request was refused):
it is logged, not audited.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from gateway.refusal import RequestRefused, audit_refusal

log = logging.getLogger("ordergraph.live")

# Two: one unanswered re-check is forgiven (a Redis failover, a store call timed out
# on a loaded host), but two in a row mean the store has been out for a whole re-check
# interval, so a key revoked meanwhile streams on at most two intervals past its last
# check.
UNCHECKED_RECHECKS = 2

Authenticate = Callable[[], Awaitable[object]]  # raises RequestRefused once the key is refused


class KeyRecheck:
    """One stream's re-checks: ``authenticate`` checks its key again; ``stream`` names
    the transport in the log."""

    def __init__(self, authenticate: Authenticate, stream: str) -> None:
        self._authenticate = authenticate
        self._stream = stream
        self._unchecked = 0  # re-checks in a row the key store could not answer

    async def ending(self) -> RequestRefused | None:
        """Check the key again: None while the stream goes on, else why it ends (the
        key's 401 refusal, or the store's 503 made retryable)."""
        try:
            await self._authenticate()
        except RequestRefused as refusal:
            if refusal.status == 401:
                audit_refusal(refusal, None)
                return refusal
            # Any other refusal is the key store's 503 AUTH_UNAVAILABLE.
            self._unchecked += 1
            if self._unchecked < UNCHECKED_RECHECKS:
                return None
            log.warning(
                "ended a %s: its key %s could not be checked at %d re-checks in a row (%s)",
                self._stream,
                refusal.key_id,
                self._unchecked,
                refusal.code,
            )
            return RequestRefused(
                refusal.status,
                refusal.code,
                f"{refusal.message}: open the stream again later",
                key_id=refusal.key_id,
                extensions={"retryable": True},
            )
        self._unchecked = 0
        return None
