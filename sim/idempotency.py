"""``Idempotency-Key`` on the simulated sources' change endpoints, as Stripe does it.

A ``POST`` with the header is carried out once per key: its answer (status and body)
is kept for :data:`KEEP` by the source's clock, and a repeat with the same key and the
same request (method, path and body) gets that answer again, with
``Idempotent-Replayed: true``, without changing anything. The same key with another
request answers 422 ``IDEMPOTENCY_KEY_REUSED``; a repeat while the first is still
being carried out answers 409 ``IDEMPOTENCY_IN_PROGRESS``. Only answers the endpoint
gave are kept (refusals included, as they are the outcome); a malformed request
(400) or a server error is not, so it may be sent again. At most :data:`MAX_KEYS`
keys are kept (the oldest go first). Requests without the header are unaffected.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from sim.common import CLOCK_KEY, Handler, bad_request, error_response
from sources.clients.changes import IDEMPOTENCY_HEADER as HEADER  # the gateway's client
from sources.clients.changes import IDEMPOTENCY_IN_PROGRESS as IN_PROGRESS
from sources.clients.changes import IDEMPOTENCY_KEY_REUSED as KEY_REUSED

REPLAYED = "Idempotent-Replayed"
KEEP = timedelta(hours=24)
MAX_KEYS = 10_000
MAX_KEY_LENGTH = 255


@dataclass
class _Kept:
    request: bytes  # digest of method, path and body
    at: datetime
    status: int | None = None  # None while the first request is being carried out
    body: bytes = b""
    content_type: str = "application/json"


class IdempotencyKeys:
    """The keys one source has seen (its app holds them under :data:`KEYS`)."""

    def __init__(self, *, keep: timedelta = KEEP, max_keys: int = MAX_KEYS) -> None:
        self._keep = keep
        self._max_keys = max_keys
        self._kept: OrderedDict[str, _Kept] = OrderedDict()

    async def serve(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Answer ``request`` with ``handler`` once per key, or with the kept answer."""
        key = request.headers.get(HEADER)
        if key is None:
            return await handler(request)
        if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable():
            raise bad_request(
                f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters",
                code="INVALID_IDEMPOTENCY_KEY",
            )
        body = await request.read()
        digest = hashlib.sha256(
            b"\0".join((request.method.encode(), request.path.encode(), body))
        ).digest()
        now = request.app[CLOCK_KEY].now()
        self._forget_expired(now)
        kept = self._kept.get(key)
        if kept is not None:
            if kept.request != digest:
                return error_response(
                    422, KEY_REUSED, f"this {HEADER} was used for another request"
                )
            if kept.status is None:
                return error_response(
                    409, IN_PROGRESS, f"a request with this {HEADER} is still running"
                )
            return web.Response(
                body=kept.body,
                status=kept.status,
                content_type=kept.content_type,
                headers={REPLAYED: "true"},
            )
        kept = self._kept[key] = _Kept(digest, now)
        try:
            response = await handler(request)
        except BaseException:
            del self._kept[key]  # a malformed request (400) or a crash: not an outcome
            raise
        if response.status >= 500 or not isinstance(response, web.Response):
            del self._kept[key]
            return response
        kept.status = response.status
        kept.body = response.body if isinstance(response.body, bytes) else b""
        kept.content_type = response.content_type
        while len(self._kept) > self._max_keys:
            self._kept.popitem(last=False)
        return response

    def _forget_expired(self, now: datetime) -> None:
        while self._kept:
            key, oldest = next(iter(self._kept.items()))
            if now - oldest.at < self._keep:
                return
            del self._kept[key]


KEYS = web.AppKey("idempotency_keys", IdempotencyKeys)


def honour_idempotency_keys(handler: Handler) -> Handler:
    """``handler`` honouring the ``Idempotency-Key`` header with its app's keys."""

    async def honouring(request: web.Request) -> web.StreamResponse:
        return await request.app[KEYS].serve(request, handler)

    return honouring
