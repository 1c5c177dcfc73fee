"""``POST /webhooks/{source}``: signed change events that invalidate the cache and
feed live updates.

Verified (Standard Webhooks signature, 5-minute tolerance, any live secret), then
de-duplicated by event id in the shared cache, then applied: the event's tags are
deleted in every instance's cache and the event goes to every instance's live
subscribers. A refused event changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sources.cache.upstreams import CachedUpstreams
from sources.webhooks import WebhookError, verify

log = logging.getLogger("ordergraph.webhooks")

MAX_BODY_BYTES = 64 * 1024
# Longer than the timestamp tolerance, so a replay that still passes it is caught.
DEDUPE_TTL_S = 600.0


class WebhookReceiver:
    def __init__(self, secrets: Sequence[str], cached: Callable[[], CachedUpstreams]) -> None:
        self._secrets = list(secrets)
        self._cached = cached

    async def receive(self, request: Request) -> Response:
        source = request.path_params["source"]
        body = await _read_bounded(request)
        if body is None:
            return _refuse(413, "WEBHOOK_BODY_TOO_LARGE", f"at most {MAX_BODY_BYTES} bytes")
        if not self._secrets:
            return _refuse(503, "WEBHOOKS_NOT_CONFIGURED", "no webhook secret is configured")
        try:
            verified = verify(source, body, request.headers, self._secrets)
        except WebhookError as exc:
            log.info("refused a %s webhook: %s", source, exc.code)
            return _refuse(exc.status, exc.code, exc.message)
        cached = self._cached()
        if not await cached.backend.first_time(f"og:webhook:{verified.msg_id}", DEDUPE_TTL_S):
            return _refuse(409, "WEBHOOK_REPLAYED", "this event id was already processed")
        tags = verified.event.tags()
        deleted = await cached.apply_change(verified.event)
        log.info(
            "applied %s from %s: %s (%d entries)", verified.event.type.value, source, tags, deleted
        )
        return JSONResponse({"status": "applied", "invalidated": tags})


async def _read_bounded(request: Request) -> bytes | None:
    """The body, or ``None`` when it is larger than ``MAX_BODY_BYTES``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


def _refuse(status: int, code: str, message: str) -> Response:
    return JSONResponse({"code": code, "message": message}, status_code=status)
