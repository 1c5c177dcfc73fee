"""Cache-through batch reads: one cache read per batch, one source call for the
misses, one pipelined write back.

Each entry remembers when it was fetched, so one stored entry answers three
questions by its age:

- younger than ``ttl_s``: FRESH, served;
- up to ``stale_s`` older: STALE, served at once and refreshed in the background
  (stale-while-revalidate), once per key per process at a time, and after a failed
  refresh not again for ``refresh_backoff_s``;
- up to ``keep_s`` older: fetched again, but served STALE if the source fails
  (stale-if-error).

Concurrent misses on one key in one process share one upstream fetch; across
processes a short lease per key makes cold instances wait for the first one's fetch
instead of all asking the source, woken by the announcement of its release rather
than polling. Keys carry a version derived from the record's shape, so a changed
record type never reads old bytes, and the tenant scope for tenant-scoped data.

A fetch running when this process invalidates (or hears of the invalidation of) one
of its entries neither writes that entry back nor hands it to requests that joined
it: they fetch again (see :mod:`sources.cache.invalidations` for what stays open
across instances).
"""

from __future__ import annotations

import asyncio
import enum
import functools
import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from sources import telemetry
from sources.cache.backend import KeyValue, Locks
from sources.cache.invalidations import Invalidations
from sources.cache.releases import ReleaseWatch
from sources.failures import SOURCE_BAD_RESPONSE, SOURCE_TIMEOUT, SOURCE_UNAVAILABLE, SourceError
from sources.options import CachePolicy
from sources.resilience import deadline

log = logging.getLogger("ordergraph.cache")

T = TypeVar("T")


class SharedCache(KeyValue, Locks, Protocol):
    """What cache-through reads need of the shared backend: the entries, and leases
    that make cold instances wait for one fetch instead of all asking the source."""


class Freshness(enum.Enum):
    FRESH = "FRESH"
    STALE = "STALE"
    UNAVAILABLE = "UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class Cached(Generic[T]):
    """A value as the cache-through layer answers it: ``None`` means not found."""

    value: T | None
    status: Freshness
    fetched_at: float  # epoch seconds when the source answered


@dataclass(slots=True)
class SourceCounts:
    hits: int = 0
    misses: int = 0
    stale: int = 0


@dataclass(slots=True)
class CacheCounts:
    """Hits, misses and stale serves per source, for one request; and what a response
    built from its reads may be cached as: the tags of every entity read fresh, the
    epoch time the first of them stops being fresh, and whether anything was read
    stale, failed or came from where no tag can name it (``spoiled``)."""

    by_source: dict[str, SourceCounts] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)
    fresh_until: float = math.inf
    spoiled: bool = False

    def read(self, tags: Iterable[str], fresh_until: float) -> None:
        """Note a fresh read of the entities under ``tags``, fresh until then."""
        self.tags.update(tags)
        self.fresh_until = min(self.fresh_until, fresh_until)

    def spoil(self) -> None:
        """Note a read no response may be cached from (stale, failed or untagged)."""
        self.spoiled = True

    def add(self, source: str, batch: SourceCounts) -> None:
        counts = self.by_source.get(source)
        if counts is None:
            counts = self.by_source[source] = SourceCounts()
        counts.hits += batch.hits
        counts.misses += batch.misses
        counts.stale += batch.stale

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {
            source: {"hits": c.hits, "misses": c.misses, "stale": c.stale}
            for source, c in self.by_source.items()
        }


class _Entry(msgspec.Struct, Generic[T], array_like=True):
    fetched_at: float
    value: T | None


# A batch fetch: value per id, ``None`` where the source says it has none; ids left
# out of the mapping are a partial answer.
Fetch = Callable[[list[str]], Awaitable[Mapping[str, T | None]]]
Tagger = Callable[[str, T | None], list[str]]


@dataclass(frozen=True)
class _Flight(Generic[T]):
    """A fetch running in this process, which other requests may join."""

    future: asyncio.Future[Cached[T] | SourceError]
    since: int  # the invalidation epoch when it started


@functools.cache
def _decoder(value_type: Any) -> msgspec.json.Decoder[Any]:
    """The decoder of ``value_type``'s entries, made once a process (3 ms for an order)."""
    return msgspec.json.Decoder(_Entry[value_type])


@functools.cache
def _shape(value_type: Any) -> str:
    """A digest of ``value_type``'s JSON schema: entries of another shape (an older
    release's) have other keys, so they are never read as this one's."""
    shape = msgspec.json.encode(msgspec.json.schema(value_type))
    return hashlib.sha256(shape).hexdigest()[:10]


class CachedSource(Generic[T]):
    """Cache-through reads of one kind of record from one source."""

    def __init__(
        self,
        *,
        kind: str,
        source: str,
        value_type: Any,
        fetch: Fetch[T],
        tags: Tagger[T],
        policy: CachePolicy,
        backend: SharedCache,
        scoped: bool,
        local: KeyValue | None = None,
        local_ttl_s: float = 2.0,
        invalidations: Invalidations | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``local``, when given, keeps short-lived in-process copies in front of a
        shared ``backend``; whoever announces changes drops them by tag and records
        them in ``invalidations`` (shared by a process's sources)."""
        self.kind = kind
        self.source = source
        self.policy = policy
        self._fetch = fetch
        self._tags = tags
        self._backend = backend
        self._local = local
        self._local_ttl_s = local_ttl_s
        self._invalidations = invalidations or Invalidations()
        self._scoped = scoped
        self._clock = clock
        # JSON, like the sources: msgpack would turn every datetime into UTC, so a
        # cached answer would print times differently from a fresh one.
        self._encoder = msgspec.json.Encoder()
        self._decoder = _decoder(value_type)
        self._prefix = f"og:{_shape(value_type)}:{kind}:"
        self._inflight: dict[str, _Flight[T]] = {}
        self._refreshing: set[str] = set()  # keys a background refresh is fetching
        # Keys whose refresh failed, and until when they are not retried (in that order).
        self._backoff: OrderedDict[str, float] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def key(self, scope: str, ident: str) -> str:
        return f"{self._prefix}{scope if self._scoped else '-'}:{ident}"

    async def load_many(
        self, idents: Sequence[str], *, scope: str, counts: CacheCounts
    ) -> list[Cached[T] | SourceError]:
        """Values for ``idents`` in order; a ``SourceError`` where neither the cache
        nor the source could answer."""
        keys = [self.key(scope, ident) for ident in idents]
        # A policy that keeps nothing has written nothing to read (another instance
        # with the same settings neither): no backend round trip.
        entries = (
            [None] * len(keys) if self.policy.keeps_nothing else await self._read(keys, idents)
        )
        now = self._clock()
        tally = SourceCounts()
        results: dict[str, Cached[T] | SourceError] = {}
        refetch: dict[str, str] = {}  # key -> ident
        fallback: dict[str, Cached[T]] = {}  # entries kept for stale-if-error
        refresh: dict[str, str] = {}
        for ident, key, entry in zip(idents, keys, entries, strict=True):
            age = now - entry.fetched_at if entry is not None else None
            if entry is None or age is None:
                refetch[key] = ident
                tally.misses += 1
                continue
            fresh_for = self.policy.ttl_s if entry.value is not None else self.policy.negative_ttl_s
            if age < fresh_for:
                results[key] = Cached(entry.value, Freshness.FRESH, entry.fetched_at)
                tally.hits += 1
            elif age < fresh_for + self.policy.stale_s:
                results[key] = Cached(entry.value, Freshness.STALE, entry.fetched_at)
                refresh[key] = ident
                tally.stale += 1
            else:
                fallback[key] = Cached(entry.value, Freshness.STALE, entry.fetched_at)
                refetch[key] = ident
                tally.misses += 1
        if refresh:
            self._refresh_later(refresh)
        if refetch:
            fetched = await self._fetch_shared(refetch)
            for key, outcome in fetched.items():
                if isinstance(outcome, SourceError) and key in fallback:
                    tally.misses -= 1  # not a miss after all: served stale
                    tally.stale += 1
                    outcome = fallback[key]
                results[key] = outcome
        counts.add(self.source, tally)
        self._note_reads(counts, idents, keys, results)
        telemetry.count_cache(self.source, tally.hits, tally.misses, tally.stale)
        return [results[key] for key in keys]

    def _note_reads(
        self,
        counts: CacheCounts,
        idents: Sequence[str],
        keys: list[str],
        results: Mapping[str, Cached[T] | SourceError],
    ) -> None:
        """Tell ``counts`` what was read, for the response cache."""
        if counts.spoiled:
            return
        for ident, key in zip(idents, keys, strict=True):
            result = results[key]
            if not isinstance(result, Cached) or result.status is not Freshness.FRESH:
                counts.spoil()
                return
            value = result.value
            ttl = self.policy.ttl_s if value is not None else self.policy.negative_ttl_s
            counts.read(self._tags(ident, value), result.fetched_at + ttl)

    async def store(self, records: Mapping[str, T], *, scope: str, since: int) -> None:
        """Write records fetched another way (e.g. a list page) as fresh entries;
        ``since``: the invalidation epoch (``invalidations.epoch``) taken before
        fetching them."""
        now = self._clock()
        await self._write({self.key(scope, i): (i, v) for i, v in records.items()}, now, since)

    async def _read(self, keys: list[str], idents: Sequence[str]) -> list[_Entry[T] | None]:
        """One read of the local copies, then one of the shared backend for the rest;
        each blob read is decoded once."""
        if self._local is None:
            return [self._decode(blob) for blob in await self._backend.get_many(keys)]
        blobs = await self._local.get_many(keys)
        entries = [self._decode(blob) for blob in blobs]
        missing = [i for i, blob in enumerate(blobs) if blob is None]
        if not missing:
            return entries
        since = self._invalidations.epoch
        shared = await self._backend.get_many([keys[i] for i in missing])
        copies: dict[str, tuple[str, bytes, T | None]] = {}
        for i, blob in zip(missing, shared, strict=True):
            entry = entries[i] = self._decode(blob)
            changed = entry is not None and self._changed(since, idents[i], entry.value)
            if blob is not None and entry is not None and not changed:
                copies[keys[i]] = (idents[i], blob, entry.value)
        if copies:
            await self._local.set_many(*self._rows(copies, self._local_ttl_s))
        return entries

    def _rows(
        self, entries: Mapping[str, tuple[str, bytes, T | None]], max_ttl_s: float | None = None
    ) -> tuple[list[tuple[str, bytes, float]], dict[str, list[str]]]:
        """Backend rows ``(key, blob, ttl)`` and the tag index of ``entries``."""
        rows: list[tuple[str, bytes, float]] = []
        tags: dict[str, list[str]] = {}
        for key, (ident, blob, value) in entries.items():
            ttl = self.policy.kept_s(value is not None)
            rows.append((key, blob, ttl if max_ttl_s is None else min(ttl, max_ttl_s)))
            for tag in self._tags(ident, value):
                tags.setdefault(tag, []).append(key)
        return rows, tags

    def _decode(self, blob: bytes | None) -> _Entry[T] | None:
        if blob is None:
            return None
        try:
            return self._decoder.decode(blob)
        except msgspec.DecodeError:
            return None  # a torn or foreign value is a miss, never an error

    def _changed(self, since: int, ident: str, value: T | None) -> bool:
        """Whether the entry ``(ident, value)`` was invalidated here after ``since``."""
        return self._invalidations.changed_since(since, self._tags(ident, value))

    async def _fetch_shared(
        self, wanted: dict[str, str], *, retry: bool = True
    ) -> dict[str, Cached[T] | SourceError]:
        """Fetch ``wanted`` (key -> ident), joining fetches already running here. A
        joined fetch whose entry was invalidated after it started, or that was
        abandoned (its owner cancelled or crashed), is not taken: those keys are
        fetched again, once (joining whatever runs for them by then)."""
        loop = asyncio.get_running_loop()
        since = self._invalidations.epoch
        joined = {key: flight for key in wanted if (flight := self._inflight.get(key)) is not None}
        own = {key: ident for key, ident in wanted.items() if key not in joined}
        flights = {key: _Flight[T](loop.create_future(), since) for key in own}
        self._inflight.update(flights)
        results: dict[str, Cached[T] | SourceError] = {}
        try:
            if own:
                results = await self._fetch_own(own, since)
        finally:
            for key, flight in flights.items():
                if self._inflight.get(key) is flight:
                    del self._inflight[key]
                if key in results:
                    flight.future.set_result(results[key])
                else:  # the fetch was cancelled or crashed: joiners fetch on their own
                    flight.future.cancel()
        again: dict[str, str] = {}
        for key, flight in joined.items():
            result = await self._join(flight)
            outdated = isinstance(result, Cached) and self._changed(
                flight.since, wanted[key], result.value
            )
            if retry and (result is None or outdated):
                again[key] = wanted[key]
            elif result is None:  # abandoned again: no third try
                results[key] = SourceError(
                    self.source, SOURCE_UNAVAILABLE, "shared fetch was abandoned", retryable=True
                )
            else:
                results[key] = result
        if again:
            results.update(await self._fetch_shared(again, retry=False))
        return results

    async def _join(self, flight: _Flight[T]) -> Cached[T] | SourceError | None:
        """Another request's (or a background refresh's) fetch: waited for only as
        long as this request's own deadline allows; ``None`` if it was abandoned."""
        try:
            return await asyncio.wait_for(
                asyncio.shield(flight.future), timeout=deadline.bounded(self.policy.join_s)
            )
        except TimeoutError:
            return SourceError(
                self.source,
                SOURCE_TIMEOUT,
                "a shared fetch outlasted the deadline",
                retryable=True,
            )
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not flight.future.cancelled() or (task is not None and task.cancelling()):
                raise  # this caller itself is being cancelled
            return None

    async def _fetch_own(
        self, wanted: dict[str, str], since: int
    ) -> dict[str, Cached[T] | SourceError]:
        """Fetch from the source, letting another instance's running fetch finish first
        (unless the policy keeps nothing: then no instance would find what another
        fetched, and the lease is not taken)."""
        if self.policy.keeps_nothing:
            return await self._fetch_and_write(wanted, since)
        locks = [_lock(key) for key in wanted]
        with self._backend.watch_releases(locks) as releases:  # before leasing: no gap
            leases, busy = await self._backend.lease_many(locks, self.policy.lock_ms / 1000)
            results: dict[str, Cached[T] | SourceError] = {}
            waiting = [key for key, other in zip(wanted, busy, strict=True) if other]
            try:
                if waiting:
                    results.update(await self._wait_for_others(waiting, releases))
                to_fetch = {key: wanted[key] for key in wanted if key not in results}
                if to_fetch:
                    results.update(await self._fetch_and_write(to_fetch, since))
            finally:
                await self._backend.release_claim(leases)
        return results

    async def _wait_for_others(
        self, keys: list[str], releases: ReleaseWatch
    ) -> dict[str, Cached[T] | SourceError]:
        """While other instances hold the keys' leases: each key is read again once its
        lease's release is heard (its holder wrote the entry, or gave up), and at the
        latest when the lease would expire; whatever is not fresh in the cache then is
        left to this caller to fetch."""
        found: dict[str, Cached[T] | SourceError] = {}
        until = time.monotonic() + deadline.bounded(self.policy.lock_ms / 1000)
        pending = {_lock(key): key for key in keys}
        while pending:
            left = until - time.monotonic()
            released = await releases.wait(pending, left) if left > 0 else set(pending)
            ready = [pending.pop(lock) for lock in released]
            blobs = await self._backend.get_many(ready)
            now = self._clock()
            for key, blob in zip(ready, blobs, strict=True):
                entry = self._decode(blob)
                if entry is not None and now - entry.fetched_at < self.policy.ttl_s:
                    found[key] = Cached(entry.value, Freshness.FRESH, entry.fetched_at)
        return found

    async def _fetch_and_write(
        self, wanted: dict[str, str], since: int
    ) -> dict[str, Cached[T] | SourceError]:
        idents = list(dict.fromkeys(wanted.values()))
        try:
            found = await self._fetch(idents)
        except SourceError as exc:
            return dict.fromkeys(wanted, exc)
        now = self._clock()
        # An id the answer neither holds nor calls not-found is a partial answer:
        # an error for that entity alone, and nothing cached for it.
        entries = {key: (ident, found[ident]) for key, ident in wanted.items() if ident in found}
        await self._write(entries, now, since)
        results: dict[str, Cached[T] | SourceError] = {
            key: Cached(value, Freshness.FRESH, now) for key, (_, value) in entries.items()
        }
        for key, ident in wanted.items():
            if key not in results:
                results[key] = SourceError(
                    self.source,
                    SOURCE_BAD_RESPONSE,
                    f"the answer left out {ident!r}",
                    retryable=True,
                )
        return results

    async def _write(
        self, entries: Mapping[str, tuple[str, T | None]], now: float, since: int
    ) -> None:
        """Write back what was fetched after invalidation epoch ``since``, leaving out
        entries invalidated since; one invalidated while the write was under way is
        deleted again. Entries the policy keeps for no time at all (which the backends
        would drop) are not encoded."""
        encoded = {
            key: (ident, self._encoder.encode(_Entry(now, value)), value)
            for key, (ident, value) in entries.items()
            if self.policy.kept_s(value is not None) > 0 and not self._changed(since, ident, value)
        }
        if not encoded:
            return
        await self._backend.set_many(*self._rows(encoded))
        late = {key: row for key, row in encoded.items() if self._changed(since, row[0], row[2])}
        if late:
            tags = sorted(
                {tag for ident, _, value in late.values() for tag in self._tags(ident, value)}
            )
            await self._backend.invalidate_tags(tags)
            encoded = {key: row for key, row in encoded.items() if key not in late}
        if self._local is not None and encoded:
            await self._local.set_many(*self._rows(encoded, self._local_ttl_s))

    def _refresh_later(self, wanted: dict[str, str]) -> None:
        """Refresh stale keys in the background: once per key at a time, and not again
        until ``refresh_backoff_s`` after a failed refresh (stale requests meanwhile
        are just served)."""
        now = time.monotonic()
        while self._backoff and next(iter(self._backoff.values())) <= now:
            self._backoff.popitem(last=False)
        todo = {
            key: ident
            for key, ident in wanted.items()
            if key not in self._refreshing and key not in self._backoff
        }
        if not todo:
            return
        self._refreshing.update(todo)

        async def refresh() -> None:
            failed = set(todo)  # unless it says otherwise (cancelled: back off too)
            try:
                outcome = await self._fetch_shared(todo)
                failed = {key for key, o in outcome.items() if isinstance(o, SourceError)}
                if failed:
                    log.info("background refresh of %d %s entries failed", len(failed), self.kind)
            finally:
                self._refreshing.difference_update(todo)
                retry_at = time.monotonic() + self.policy.refresh_backoff_s
                for key in failed:
                    self._backoff.pop(key, None)  # re-added last: the order stays by time
                    self._backoff[key] = retry_at

        # not bound by the request that saw it stale, nor waited on by it
        task = deadline.detached(refresh(), background=True)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _lock(key: str) -> str:
    return f"{key}:lock"
