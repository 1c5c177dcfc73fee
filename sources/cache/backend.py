"""The one interface both cache backends (Redis, in-memory LRU) implement.

Callers never see a backend error: a backend that cannot answer behaves as an empty
cache (every read a miss, every write dropped), reports itself degraded, and
recovers by itself. The exception is a ``strict`` call, made where a dropped write
would be acknowledged as done (a change event's claim, invalidation and
announcement): it raises :class:`CacheUnavailable` instead. Values are opaque bytes;
what they hold, and how keys are built, is the cache-through layer's business.

Besides cached values, a backend keeps *ranked indexes*: named sets of members, each
with a rank and a payload, read highest rank first a page at a time. Unlike cached
values they never expire and are never evicted; their owners remove what they put.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


class CacheUnavailable(Exception):
    """A ``strict`` call the backend could not carry out (Redis down, slow or refusing)."""


@dataclass(frozen=True, slots=True)
class BackendHealth:
    backend: str  # "redis" or "memory"
    ok: bool  # False while the backend is failing (reads are misses meanwhile)
    errors: int  # errors since start
    detail: str = ""  # the last error, when not ok


@dataclass(frozen=True, slots=True)
class TokenTake:
    """A charge on a token bucket: whether it was taken, the tokens left after it (or
    unchanged when refused) and how long until it would fit (``inf``: never)."""

    allowed: bool
    tokens: float
    retry_after_s: float


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """A member of a ranked index. Entries are read by ``rank`` then ``member``,
    highest first; both compare as text (code point order) and may not contain NUL."""

    member: str
    rank: str
    payload: bytes = b""

    @property
    def position(self) -> IndexPosition:
        return (self.rank, self.member)


IndexPosition = tuple[str, str]  # (rank, member): where a page of an index ends

MessageHandler = Callable[[bytes], Awaitable[None]]


class CacheBackend(Protocol):
    name: str

    async def start(self) -> None:
        """Connect and start background work (pub/sub listener, health probe)."""

    async def close(self) -> None: ...

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Values of ``keys`` in order, ``None`` for a miss: one round trip (MGET)."""
        ...

    async def set_many(
        self,
        entries: Sequence[tuple[str, bytes, float]],
        tags: Mapping[str, Sequence[str]],
        *,
        strict: bool = False,
    ) -> None:
        """Store ``(key, value, ttl_seconds)`` entries and index keys under tags
        (tag -> keys), in one round trip (a pipeline). A failing backend drops them
        unless ``strict``."""
        ...

    async def invalidate_tags(self, tags: Sequence[str], *, strict: bool = False) -> int:
        """Delete every key indexed under ``tags`` (and the tag indexes); the count."""
        ...

    async def acquire_locks(
        self, keys: Sequence[str], ttl_ms: int, *, strict: bool = False
    ) -> tuple[str, list[bool]]:
        """Try to take every lock in ``keys`` (SET NX PX each) under one new token, in
        one round trip; the token and which locks were taken. A failing backend
        grants them all (callers then just fetch) unless ``strict``: then it raises
        :class:`CacheUnavailable`, and a lock is only ever reported taken when the
        backend really recorded it (an idempotency claim depends on that)."""
        ...

    async def release_locks(self, keys: Sequence[str], token: str, *, strict: bool = False) -> None:
        """Release those of ``keys`` that ``token`` still holds."""
        ...

    async def first_time(self, key: str, ttl_s: float) -> bool:
        """True the first time ``key`` is seen within ``ttl_s`` (SET NX EX), else False.
        A failing backend answers True."""
        ...

    async def take_tokens(
        self, key: str, cost: float, capacity: float, refill_per_s: float
    ) -> TokenTake | None:
        """Charge ``cost`` to the token bucket ``key`` (full when new, refilled at
        ``refill_per_s`` up to ``capacity``) atomically, whole or not at all; ``None``
        when the backend cannot answer."""
        ...

    async def index_put(self, index: str, entries: Sequence[IndexEntry]) -> list[bytes | None]:
        """Add or replace ``entries`` (members unique) in ``index``, atomically; the
        payload each one replaced (``None``: it is new). A failing backend drops the
        write and answers ``None`` for each."""
        ...

    async def index_remove(self, index: str, members: Sequence[str]) -> None:
        """Remove ``members`` (those present) from ``index``."""
        ...

    async def index_range(
        self, index: str, limit: int, after: IndexPosition | None = None
    ) -> list[IndexEntry]:
        """Up to ``limit`` entries of ``index``, highest first, starting below ``after``
        (from the top without it). A failing backend answers an empty page."""
        ...

    async def publish(self, channel: str, message: bytes, *, strict: bool = False) -> None: ...

    def subscribe(self, channel: str, handler: MessageHandler) -> None:
        """Call ``handler`` for every message published on ``channel`` by any process
        (the memory backend: by this process), from ``start()`` until ``close()``,
        reconnecting by itself after failures."""
        ...

    def health(self) -> BackendHealth: ...
