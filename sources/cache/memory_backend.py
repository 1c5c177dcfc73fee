"""In-process cache backend: a bounded LRU with per-entry TTLs, a tag index, claims,
ranked indexes and pub/sub to this process's subscribers.

Claims live in the same bounded store as cached values, as they share one keyspace in
Redis: nothing here can grow past ``max_entries`` keys nor past ``max_bytes`` of keys
and values (an evicted claim is a lost claim, as in a Redis under memory pressure).
Ranked indexes are kept apart and never evicted (as in Redis, their owners bound them).
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sources.cache.backend import (
    BackendHealth,
    Claim,
    IndexEntry,
    IndexPosition,
    MessageHandler,
    MissedHandler,
    TokenTake,
)
from sources.cache.ranked_index import RankedIndex
from sources.cache.releases import Releases, ReleaseWatch

log = logging.getLogger("ordergraph.cache")

# Keys and values held (whole responses can be large); Python's own overhead per entry
# comes on top.
DEFAULT_MAX_BYTES = 128_000_000


class Subscribers:
    """Handlers by channel. Each message runs every handler of its channel as its own
    task, so a slow or failing handler (logged) never holds up or stops delivery."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[MessageHandler]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def channels(self) -> set[str]:
        return set(self._handlers)

    def add(self, channel: str, handler: MessageHandler) -> None:
        self._handlers.setdefault(channel, []).append(handler)

    def deliver(self, channel: str, message: bytes) -> None:
        for handler in self._handlers.get(channel, ()):
            task = asyncio.create_task(self._run(channel, handler, message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, channel: str, handler: MessageHandler, message: bytes) -> None:
        try:
            await handler(message)
        except Exception:
            log.exception("cache message handler failed on channel %r", channel)

    async def close(self) -> None:
        """Cancel handlers still running."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@dataclass(slots=True)
class _Entry:
    value: bytes
    expires_at: float  # time.monotonic()
    tags: set[str] = field(default_factory=set)  # the tags indexing this key


class MemoryBackend:
    """``CacheBackend`` for one process (development, tests, single-instance runs).
    It never fails, so ``strict`` calls are plain calls and claims are always recorded."""

    name: str = "memory"

    def __init__(self, max_entries: int = 50_000, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, got {max_bytes}")
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0  # keys and values held in _entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()  # least recently used first
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at
        self._tags: dict[str, set[str]] = {}  # tag -> live keys; only keys in _entries
        self._indexes: dict[str, RankedIndex] = {}  # never empty
        self._subscribers = Subscribers()
        self._releases = Releases()
        self._open = False

    async def start(self) -> None:
        self._open = True

    async def close(self) -> None:
        self._open = False
        await self._subscribers.close()

    async def get_many(self, keys: Sequence[str], *, strict: bool = False) -> list[bytes | None]:
        now = time.monotonic()
        values: list[bytes | None] = []
        for key in keys:
            entry = self._live(key, now)
            if entry is not None:
                self._entries.move_to_end(key)
            values.append(None if entry is None else entry.value)
        return values

    async def set_many(
        self,
        entries: Sequence[tuple[str, bytes, float]],
        tags: Mapping[str, Sequence[str]],
        *,
        strict: bool = False,
    ) -> None:
        now = time.monotonic()
        for key, value, ttl_s in entries:
            self._put(key, value, ttl_s, now)
        for tag, keys in tags.items():
            for key in keys:
                entry = self._live(key, now)
                if entry is not None:
                    entry.tags.add(tag)
                    self._tags.setdefault(tag, set()).add(key)

    async def invalidate_tags(self, tags: Sequence[str], *, strict: bool = False) -> int:
        now = time.monotonic()
        deleted = 0
        for tag in tags:
            for key in self._tags.pop(tag, ()):
                entry = self._remove(key)
                if entry is not None and entry.expires_at > now:
                    deleted += 1
        return deleted

    async def claim_once(self, key: str, ttl_s: float) -> Claim | None:
        token = secrets.token_hex(16)
        return Claim(token, (key,)) if self._claim(key, token, ttl_s) else None

    async def lease_many(self, keys: Sequence[str], ttl_s: float) -> tuple[Claim, list[bool]]:
        token = secrets.token_hex(16)
        taken = [self._claim(key, token, ttl_s) for key in keys]
        held = tuple(key for key, ok in zip(keys, taken, strict=True) if ok)
        return Claim(token, held), [not ok for ok in taken]

    async def renew_claim(self, claim: Claim, ttl_s: float) -> bool:
        now = time.monotonic()
        token = claim.token.encode()
        entries = [self._live(key, now) for key in claim.keys]
        if any(entry is not None and entry.value != token for entry in entries):
            return False
        for key in claim.keys:
            self._put(key, token, ttl_s, now)
        return True

    async def release_claim(self, claim: Claim) -> None:
        now = time.monotonic()
        released = []
        for key in claim.keys:
            entry = self._live(key, now)
            if entry is not None and entry.value == claim.token.encode():
                self._remove(key)
                released.append(key)
        self._releases.heard(released)

    def watch_releases(self, keys: Sequence[str]) -> ReleaseWatch:
        return self._releases.watch(keys)

    async def take_tokens(
        self, key: str, cost: float, capacity: float, refill_per_s: float
    ) -> TokenTake | None:
        now = time.monotonic()
        tokens, at = self._buckets.pop(key, (capacity, now))
        tokens = min(capacity, tokens + (now - at) * refill_per_s)
        if cost <= tokens:
            taken = TokenTake(True, tokens - cost, 0.0)
        else:
            wait = math.inf if cost > capacity else (cost - tokens) / refill_per_s
            taken = TokenTake(False, tokens, wait)
        self._buckets[key] = (taken.tokens, now)
        if len(self._buckets) > self._max_entries:
            self._buckets.popitem(last=False)  # the least recently charged comes back full
        return taken

    async def index_put(self, index: str, entries: Sequence[IndexEntry]) -> list[bytes | None]:
        ranked = self._indexes.get(index) or RankedIndex()
        previous = ranked.put(entries)
        if ranked:
            self._indexes[index] = ranked
        return previous

    async def index_remove(self, index: str, members: Sequence[str]) -> None:
        ranked = self._indexes.get(index)
        if ranked is not None:
            ranked.remove(members)
            if not ranked:
                del self._indexes[index]

    async def index_range(
        self, index: str, limit: int, after: IndexPosition | None = None
    ) -> list[IndexEntry]:
        ranked = self._indexes.get(index)
        return [] if ranked is None else ranked.range(limit, after)

    async def publish(self, channel: str, message: bytes, *, strict: bool = False) -> None:
        if self._open:
            self._subscribers.deliver(channel, message)

    def subscribe(self, channel: str, handler: MessageHandler) -> None:
        self._subscribers.add(channel, handler)

    def on_missed(self, handler: MissedHandler) -> None:
        """Every message is delivered, in this process: ``handler`` is never called."""

    def clear(self) -> None:
        """Drop every value and claim (token buckets and ranked indexes stay): in-process
        copies that may all be out of date."""
        self._entries.clear()
        self._tags.clear()
        self._bytes = 0

    def health(self) -> BackendHealth:
        return BackendHealth(backend=self.name, ok=True, errors=0)

    def _claim(self, key: str, token: str, ttl_s: float) -> bool:
        """Hold ``key`` under ``token`` if it is free (SET NX); whether it was."""
        now = time.monotonic()
        if self._live(key, now) is not None:
            return False
        self._put(key, token.encode(), ttl_s, now)
        return True

    def _live(self, key: str, now: float) -> _Entry | None:
        """The unexpired entry for ``key``, dropping it if it has expired."""
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at <= now:
            self._remove(key)
            return None
        return entry

    def _put(self, key: str, value: bytes, ttl_s: float, now: float) -> None:
        """Store ``key`` as most recently used, evicting the least recently used past
        the bound. An overwritten key keeps its tags, as a Redis tag set would."""
        if ttl_s <= 0:
            return
        size = len(key) + len(value)
        if size > self._max_bytes:  # would evict everything and still not fit
            self._remove(key)
            return
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = _Entry(value, now + ttl_s)
            self._bytes += size
        else:
            self._bytes += len(value) - len(entry.value)
            entry.value, entry.expires_at = value, now + ttl_s
            self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            self._remove(next(iter(self._entries)))

    def _remove(self, key: str) -> _Entry | None:
        """Drop ``key`` and its place in the tag index."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(key) + len(entry.value)
            for tag in entry.tags:
                keys = self._tags.get(tag)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._tags[tag]
        return entry
