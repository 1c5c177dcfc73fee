"""``POST /webhooks/{source}``: signed change events that invalidate the cache and
feed live updates.

Verified by the source's adapter (the native sources: Standard Webhooks signature,
5-minute tolerance, any live secret; a vendor: its own signature and payload), then
claimed by event id in the shared cache (an id the signature covers: the sender's
signed id, or a digest of what a vendor signed where its id is an unsigned header, so
a replay cannot claim anew by changing a header), then applied: the event's tags are
deleted in every instance's cache and the event goes to every instance's live
subscribers.
Only once that worked is the id marked applied: a later delivery of it is answered
200 ``duplicate`` (code WEBHOOK_REPLAYED) and changes nothing; a 2xx, as senders retry
every other answer (Shopify gives up on, and may remove, a subscription that keeps
failing), and a sender whose first 200 was lost retries with the same event. If the
shared cache cannot claim, delete or announce, the answer is 503 and the claim is
released, so the sender's retry applies the event. A refused event changes nothing.
"""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from gateway.bodies import read_bounded
from gateway.refusal import client_aborted
from sources.cache.backend import CacheUnavailable, KeyValue, Locks
from sources.cache.upstreams import CachedUpstreams
from sources.webhooks import SOURCE_UNKNOWN, WebhookError

log = logging.getLogger("ordergraph.webhooks")

MAX_BODY_BYTES = 64 * 1024
# Longer than the timestamp tolerance, so a replay that still passes it is caught.
DEDUPE_TTL_S = 600.0
# How long a claimed event may take to apply before another delivery may try it.
CLAIM_S = 10.0
APPLIED = b"applied"
RETRY_AFTER_S = "1"


class WebhookReceiver:
    def __init__(self, cached: CachedUpstreams) -> None:
        self._cached = cached

    async def receive(self, request: Request) -> Response:
        source = request.path_params["source"]
        try:
            body = await read_bounded(request, MAX_BODY_BYTES)
        except ClientDisconnect:
            return client_aborted()
        if body is None:
            return _refuse(413, "WEBHOOK_BODY_TOO_LARGE", f"at most {MAX_BODY_BYTES} bytes")
        adapter = self._cached.upstreams.of(source)
        try:
            if adapter is None:
                raise WebhookError(404, SOURCE_UNKNOWN, f"unknown webhook source {source!r}")
            verified = await adapter.verify_webhook(body, request.headers)
        except WebhookError as exc:
            log.info("refused a %s webhook: %s", source, exc.code)
            return _refuse(exc.status, exc.code, exc.message)
        cached = self._cached
        claims: Locks = cached.backend
        marks: KeyValue = cached.backend
        mark = f"og:webhook:{verified.msg_id}"
        tags = verified.event.tags()
        try:
            claim = await claims.claim_once(mark, CLAIM_S)
        except CacheUnavailable as exc:
            return _not_applied(source, tags, exc)
        if claim is None:
            (seen,) = await marks.get_many([mark])
            if seen == APPLIED:
                log.info("a %s webhook already applied came again: %s", source, verified.msg_id)
                return JSONResponse(
                    {
                        "status": "duplicate",
                        "code": "WEBHOOK_REPLAYED",
                        "message": "this event id was already processed; nothing was done again",
                    }
                )
            return _refuse(
                503,
                "WEBHOOK_IN_PROGRESS",
                "this event id is being applied; retry to learn the outcome",
                retry=True,
            )
        try:
            deleted = await cached.apply_change(verified.event, strict=True)
        except CacheUnavailable as exc:
            # Asked of Redis even though it just failed; if this fails too, the claim
            # expires after CLAIM_S (retries meanwhile: 503 WEBHOOK_IN_PROGRESS).
            await claims.release_claim(claim)
            return _not_applied(source, tags, exc)
        # Best effort: if this write is lost, the claim expires and a replay re-applies
        # the (idempotent) invalidation.
        await marks.set_many([(mark, APPLIED, DEDUPE_TTL_S)], {})
        log.info(
            "applied %s from %s: %s (%d entries)", verified.event.type.value, source, tags, deleted
        )
        return JSONResponse({"status": "applied", "invalidated": tags})


def _not_applied(source: str, tags: list[str], exc: CacheUnavailable) -> Response:
    log.warning("could not apply a %s webhook for %s: %s", source, tags, exc)
    return _refuse(
        503,
        "WEBHOOK_NOT_APPLIED",
        "the shared cache could not apply this event; retry it",
        retry=True,
    )


def _refuse(status: int, code: str, message: str, *, retry: bool = False) -> Response:
    headers = {"retry-after": RETRY_AFTER_S} if retry else None
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)
