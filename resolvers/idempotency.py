"""Idempotency keys for mutations: the first outcome is kept for 24 hours and every
repeat, also one arriving while the first still runs (here or on another instance),
gets that same outcome; the source is called at most once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from resolvers.errors import UserInputError
from sources.cache.backend import CacheBackend

KEEP_S = 24 * 3600.0
LOCK_MS = 30_000  # longer than any mutation may take
POLL_S = 0.02


async def run_once(
    backend: CacheBackend, key: str, compute: Callable[[], Awaitable[bytes]], *, wait_s: float
) -> bytes:
    """``compute()``'s outcome, computed at most once for ``key`` and kept.

    A request that finds the key's lock held waits up to ``wait_s`` for the holder's
    outcome. An outcome is kept only when ``compute`` returns: a failure (e.g. a
    source timeout, whose effect is unknown) is not, so the client may retry.
    """
    outcome_key, lock_key = f"og:idem:{key}", f"og:idem:{key}:lock"
    (kept,) = await backend.get_many([outcome_key])
    if kept is not None:
        return kept
    token, (taken,) = await backend.acquire_locks([lock_key], LOCK_MS)
    if not taken:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)
            (kept,) = await backend.get_many([outcome_key])
            if kept is not None:
                return kept
        raise UserInputError(
            "a request with this idempotency key is still running", code="IDEMPOTENCY_IN_PROGRESS"
        )
    try:
        (kept,) = await backend.get_many([outcome_key])  # finished while we took the lock
        if kept is not None:
            return kept
        outcome = await compute()
        await backend.set_many([(outcome_key, outcome, KEEP_S)], {})
        return outcome
    finally:
        await backend.release_locks([lock_key], token)
