"""Idempotency keys for mutations: the first outcome is kept for 24 hours and every
repeat, also one arriving while the first still runs (here or on another instance),
gets that same outcome; the source is called at most once.

The promise holds only while the claim store (the cache backend) records claims, so a
claim is never assumed: when the backend cannot record it (Redis down, hung,
restarting) the mutation is refused with :class:`ClaimUnavailable`, a retryable
``SERVICE_UNAVAILABLE``, before anything reaches a source. A claim can still be lost
after it was recorded (Redis restarted empty, an LRU eviction, another instance with
its own memory): the key is passed on to the source as well (``Idempotency-Key``),
which then replays its first answer instead of changing anything twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from graphql import GraphQLError

from sources.cache.backend import CacheUnavailable, KeyValue, Locks

log = logging.getLogger("ordergraph.idempotency")

KEEP_S = 24 * 3600.0
CLAIM_S = 30.0  # longer than any mutation may take
POLL_S = 0.02
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
IDEMPOTENCY_IN_PROGRESS = "IDEMPOTENCY_IN_PROGRESS"
RETRY_AFTER_S = 1  # what a refused caller is told to wait: about a backend's cooldown


class ClaimUnavailable(GraphQLError):
    """The idempotency claim could not be recorded: nothing was changed, and the same
    request (same key) may be sent again later."""

    def __init__(self) -> None:
        super().__init__(
            "the idempotency key cannot be claimed right now; nothing was changed: "
            "retry with the same key",
            extensions={
                "code": SERVICE_UNAVAILABLE,
                "retryable": True,
                "retryAfter": RETRY_AFTER_S,
            },
        )


class InProgress(GraphQLError):
    """A request with the same key still runs (here or on another instance): its
    outcome is not known yet, so the same request may be sent again later."""

    def __init__(self) -> None:
        super().__init__(
            "a request with this idempotency key is still running",
            extensions={"code": IDEMPOTENCY_IN_PROGRESS, "retryable": True},
        )


class ClaimStore(KeyValue, Locks, Protocol):
    """Where claims are taken and outcomes kept (the shared cache backend)."""


def source_key(scoped: str) -> str:
    """The key passed on to a source for the caller's ``scoped`` key: the same for
    every repeat, distinct per tenant and mutation, and telling the source nothing."""
    return hashlib.sha256(scoped.encode()).hexdigest()


async def run_once(
    backend: ClaimStore, key: str, compute: Callable[[], Awaitable[bytes]], *, wait_s: float
) -> bytes:
    """``compute()``'s outcome, computed at most once for ``key`` and kept.

    ``compute`` runs only under a claim the backend really recorded, once it has said
    that no outcome is kept; when it cannot record the claim or say so,
    :class:`ClaimUnavailable` is raised and nothing runs. An outcome is kept only when
    ``compute`` returns: what it raises (a source timeout, whose effect is unknown; an
    answer not to keep) is not, so the client may retry. A request that finds the
    claim held waits up to ``wait_s`` for the holder's outcome, or for the claim to be
    released with none kept: it then takes the claim and runs ``compute`` itself.
    """
    outcome_key, lock_key = f"og:idem:{key}", f"og:idem:{key}:lock"
    deadline = time.monotonic() + wait_s
    while True:
        (kept,) = await backend.get_many([outcome_key])  # a failing backend: a miss
        if kept is not None:
            return kept
        try:
            claim = await backend.claim_once(lock_key, CLAIM_S)
        except CacheUnavailable as exc:
            log.info("idempotency claim refused, the claim store is unavailable: %s", exc)
            raise ClaimUnavailable() from None
        if claim is not None:
            break
        if time.monotonic() >= deadline:
            raise InProgress()
        await asyncio.sleep(POLL_S)
    try:
        # Finished while we took the claim? Asked strictly: a backend that cannot answer
        # would read as "no outcome", and the change would be made a second time.
        try:
            (kept,) = await backend.get_many([outcome_key], strict=True)
        except CacheUnavailable as exc:
            log.info("idempotency outcome unreadable, the claim store failed: %s", exc)
            raise ClaimUnavailable() from None
        if kept is not None:
            return kept
        outcome = await compute()
        try:
            await backend.set_many([(outcome_key, outcome, KEEP_S)], {}, strict=True)
        except CacheUnavailable as exc:
            # The change is made: answer it. A repeat finds no outcome and reaches the
            # source, which replays its first answer for the same key.
            log.warning("idempotency outcome not kept, the claim store failed: %s", exc)
        return outcome
    finally:
        await backend.release_claim(claim)
