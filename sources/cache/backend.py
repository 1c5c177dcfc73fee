"""What the gateway keeps in shared state, one protocol per role, and the whole
backend (Redis, or in-process memory) that implements them all over one connection.

The roles: :class:`KeyValue` (cached entities, persisted queries, kept outcomes),
:class:`Locks` (claim a key once across instances, or lease keys while fetching),
:class:`TokenBuckets` (cost limits), :class:`RankedIndexes` (the exception queue's
views) and :class:`PubSub` (change notices). A caller is typed with the role it uses;
only the wiring that starts and closes the backend holds a whole :class:`CacheBackend`.

A backend that cannot answer behaves, for cached data, as an empty cache (every read
a miss, every write dropped), reports itself degraded and recovers by itself. What
correctness depends on never fails open: a claim the backend cannot record raises
:class:`CacheUnavailable`, and so does a ``strict`` write (made where a dropped write
would be acknowledged as done: a change event's invalidation and announcement, an
idempotent outcome). Values are opaque bytes; what they hold, and how keys are built,
is the callers' business.

Ranked indexes are named sets of members, each with a rank and a payload, read
highest rank first a page at a time. Unlike cached values they never expire and are
never evicted; their owners remove what they put.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sources.cache.releases import ReleaseWatch


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
MissedHandler = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Claim:
    """Keys held under one token until released or expired."""

    token: str
    keys: tuple[str, ...]


class KeyValue(Protocol):
    """Values with a TTL, indexed under tags for invalidation."""

    async def get_many(self, keys: Sequence[str], *, strict: bool = False) -> list[bytes | None]:
        """Values of ``keys`` in order, ``None`` for a miss: one round trip (MGET). A
        failing backend answers misses unless ``strict``: then it raises
        :class:`CacheUnavailable`."""
        ...

    async def set_many(
        self,
        entries: Sequence[tuple[str, bytes, float]],
        tags: Mapping[str, Sequence[str]],
        *,
        strict: bool = False,
    ) -> None:
        """Store ``(key, value, ttl_seconds)`` entries and index keys under tags
        (tag -> keys), in one round trip. A failing backend drops them unless
        ``strict``: then it raises :class:`CacheUnavailable`."""
        ...

    async def invalidate_tags(self, tags: Sequence[str], *, strict: bool = False) -> int:
        """Delete every key indexed under ``tags`` (and the tag indexes); the count."""
        ...


class Locks(Protocol):
    """Keys held by one caller across every instance (SET NX), in the keyspace of
    :class:`KeyValue`: a value written to a claimed key replaces the claim."""

    async def claim_once(self, key: str, ttl_s: float) -> Claim | None:
        """Claim ``key`` for ``ttl_s`` unless someone holds it: the claim, or ``None``
        while another does. Never assumed: when the backend cannot record it (Redis
        down, hung, restarting; asked even while marked down) it raises
        :class:`CacheUnavailable`, so at most one caller ever holds a key."""
        ...

    async def lease_many(self, keys: Sequence[str], ttl_s: float) -> tuple[Claim, list[bool]]:
        """Advisory claims, one round trip for many keys: the claim on those taken,
        and for each key whether another holds it (so the caller may wait for its
        work). Only a hint to spare duplicate work: a failing backend records none
        and reports none held, and the caller does the work itself."""
        ...

    async def renew_claim(self, claim: Claim, ttl_s: float) -> bool:
        """Hold ``claim``'s keys ``ttl_s`` from now unless another holds one of them:
        whether it could. A key that expired meanwhile and that no one took is taken
        again (no one else held it in between); one taken over is not. Raises
        :class:`CacheUnavailable` when the backend cannot answer: the caller then
        cannot count on the claim."""
        ...

    async def release_claim(self, claim: Claim) -> None:
        """Give up those of ``claim``'s keys it still holds, so another may claim them
        at once, and announce the release of a lease someone waits for (see
        :meth:`watch_releases`). Best effort, asked even while the backend is marked
        down: a release that fails is logged, and the keys stay held until they
        expire."""
        ...

    def watch_releases(self, keys: Sequence[str]) -> ReleaseWatch:
        """Hear of the releases of ``keys`` from now until the watch is closed: opened
        before leasing them, so a caller whose lease was refused can wait for the
        holder's release (on any instance; the memory backend: in this process)
        instead of polling. Best effort: a release that is not heard (a holder that
        crashed, pub/sub down) leaves the waiter to its own time limit."""
        ...


class TokenBuckets(Protocol):
    async def take_tokens(
        self, key: str, cost: float, capacity: float, refill_per_s: float
    ) -> TokenTake | None:
        """Charge ``cost`` to the token bucket ``key`` (full when new, refilled at
        ``refill_per_s`` up to ``capacity``) atomically, whole or not at all; ``None``
        when the backend cannot answer."""
        ...


class RankedIndexes(Protocol):
    """Indexes are a store, not a cache: nothing is assumed when the backend cannot
    answer, every call then raises :class:`CacheUnavailable`."""

    async def index_put(self, index: str, entries: Sequence[IndexEntry]) -> list[bytes | None]:
        """Add or replace ``entries`` (members unique) in ``index``, atomically; the
        payload each one replaced (``None``: it is new)."""
        ...

    async def index_remove(self, index: str, members: Sequence[str]) -> None:
        """Remove ``members`` (those present) from ``index``."""
        ...

    async def index_range(
        self, index: str, limit: int, after: IndexPosition | None = None
    ) -> list[IndexEntry]:
        """Up to ``limit`` entries of ``index``, highest first, starting below ``after``
        (from the top without it)."""
        ...


class PubSub(Protocol):
    async def publish(self, channel: str, message: bytes, *, strict: bool = False) -> None:
        """Send ``message`` to every subscriber of ``channel``; a failing backend drops
        it unless ``strict``."""
        ...

    def subscribe(self, channel: str, handler: MessageHandler) -> None:
        """Call ``handler`` for every message published on ``channel`` by any process
        (the memory backend: by this process), from ``start()`` until ``close()``,
        reconnecting by itself after failures."""
        ...

    def on_missed(self, handler: MissedHandler) -> None:
        """Await ``handler`` each time the subscriptions are live again after a failure,
        during which messages may have been published and lost (Redis: the pub/sub
        connection dropped); before any message published later is delivered. The
        memory backend loses none."""
        ...


class CacheBackend(KeyValue, Locks, TokenBuckets, RankedIndexes, PubSub, Protocol):
    """Every role over one connection, with its lifecycle and health: what the wiring
    opens (:func:`sources.cache.open_backend`), starts and closes."""

    name: str

    async def start(self) -> None:
        """Connect and start background work (pub/sub listener, health probe)."""

    async def close(self) -> None: ...

    def health(self) -> BackendHealth: ...
