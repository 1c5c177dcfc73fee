"""Whole answers of queries, kept until what they were built from changes.

An answer is kept under the document's hash, the operation's name, the variables and
everything that decides what its caller may see (tenant, scopes, and so PII, and the
key's class), so two callers who may see different things never share one. It is
tagged with the entities its reads named (orders, SKUs, tracking numbers, ticket
sets, and any list of orders: :class:`~sources.cache.through.CacheCounts`) and kept
no longer than the first of them stays fresh. The change events that drop those
entities from the entity cache drop the answer with them, in the shared cache and in
every instance's copies (the same tags, the same path:
:meth:`~sources.cache.upstreams.CachedUpstreams.apply_change`).

Only a query that read every entity fresh is kept: an answer with errors, with a
stale or failed read, or with a read no tag can name (the exception queue) is not.
An answer whose tags this process saw invalidated while it was built is not kept
either; one stored by another instance just before it heard of a change is deleted
again when it does, with the entities' own entries under the same tags
(:meth:`~sources.cache.upstreams.CachedUpstreams.listen`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson
from prometheus_client import Counter

from gateway.admission.gate import Admitted
from sources.cache.backend import KeyValue, PubSub
from sources.cache.invalidations import Invalidations
from sources.cache.through import CacheCounts
from sources.cache.upstreams import INVALIDATION_CHANNEL, ChangeNotice
from sources.clock import Clock

RESPONSES = Counter(
    "og_response_cache_total",
    "Query answers looked up in the response cache (hit, miss, or joined: the same "
    "answer being built here was waited for) and stored (store).",
    ["outcome"],
)
INVALIDATIONS = Counter(
    "og_response_cache_invalidations_total",
    "Change notices naming an entity an answer this instance stored (and that may "
    "still be kept) was built from.",
)
# The answer's place in extensions.cache on a hit: no source was read.
HIT_REPORT = {"response": {"hits": 1, "misses": 0, "stale": 0}}
PREFIX = "og:response:v1:"


class _Entry(msgspec.Struct, array_like=True):
    expires_at: float  # clock time when the first entity read stops being fresh
    actual_cost: int
    tags: list[str]
    data: msgspec.Raw


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_Entry)


@dataclass(frozen=True, slots=True)
class Kept:
    """A kept answer: its data as the JSON it was sent as, and what it was built from."""

    data: orjson.Fragment
    actual_cost: int
    tags: Sequence[str]
    ttl_s: float  # how long it stays kept from now


@dataclass(slots=True)
class Flight:
    """An answer being built: what was kept of it, once it is."""

    kept: Kept | None = None


class ResponseCache:
    """Answers of queries in a shared ``backend`` (with copies in ``local``, when it
    fronts a shared one), invalidated by tag with the entities they were built from."""

    def __init__(
        self,
        backend: KeyValue,
        pubsub: PubSub,
        invalidations: Invalidations,
        clock: Clock,
        *,
        local: KeyValue | None = None,
        local_ttl_s: float = 2.0,
        max_ttl_s: float = 10.0,
        cache_control: bool = False,
        tag_headers: bool = False,
    ) -> None:
        """``invalidations``: the process's record shared with the entity cache;
        ``cache_control`` and ``tag_headers``: the HTTP headers to send."""
        self._backend = backend
        self._local = local
        self._local_ttl_s = local_ttl_s
        self._max_ttl_s = max_ttl_s
        self._invalidations = invalidations
        self._clock = clock
        self._cache_control = cache_control
        self._tag_headers = tag_headers
        self._stored: OrderedDict[str, float] = OrderedDict()  # tag -> last stored (monotonic)
        self._flights: dict[str, asyncio.Future[Kept | None]] = {}  # answers being built here
        pubsub.subscribe(INVALIDATION_CHANNEL, self._on_notice)

    @property
    def epoch(self) -> int:
        """Taken before an answer is built, and handed to :meth:`put`."""
        return self._invalidations.epoch

    def key(self, admitted: Admitted) -> str:
        """Where ``admitted``'s answer is kept: what was asked and what its caller may see."""
        principal = admitted.principal
        asked = orjson.dumps(
            [
                admitted.analysis.document_hash,
                admitted.analysis.name,
                admitted.variables,
                principal.tenant,
                sorted(principal.scopes),
                principal.client_class,
            ],
            option=orjson.OPT_SORT_KEYS,
        )
        return PREFIX + hashlib.sha256(asked).hexdigest()

    async def lookup(self, key: str) -> Kept | None:
        """The kept answer, or the one being built here for the same key, once built
        (``None``: none, or it was not kept: the caller builds its own)."""
        kept = await self._get(key)
        outcome = "hit"
        if kept is None and (flight := self._flights.get(key)) is not None:
            kept = await asyncio.shield(flight)
            outcome = "joined"
        RESPONSES.labels(outcome if kept is not None else "miss").inc()
        return kept

    @contextlib.contextmanager
    def building(self, key: str) -> Iterator[Flight]:
        """Around building ``key``'s answer: requests for it meanwhile wait for it
        (the block sets ``Flight.kept``; an exception leaves it ``None``)."""
        flight = Flight()
        future: asyncio.Future[Kept | None] = asyncio.get_running_loop().create_future()
        own = self._flights.setdefault(key, future) is future
        try:
            yield flight
        finally:
            if own:
                del self._flights[key]
                future.set_result(flight.kept)

    async def _get(self, key: str) -> Kept | None:
        """The kept answer, read from the local copies first, else ``None``."""
        since = self._invalidations.epoch
        blob = None
        if self._local is not None:
            (blob,) = await self._local.get_many([key])
        if blob is None:
            (blob,) = await self._backend.get_many([key])
            if blob is not None and self._local is not None:
                entry = self._decode(blob)
                if entry is not None and not self._invalidations.changed_since(since, entry.tags):
                    ttl = min(self._local_ttl_s, entry.expires_at - self._clock.time())
                    await self._local.set_many([(key, blob, ttl)], _index(key, entry.tags))
        entry = self._decode(blob)
        if entry is None:
            return None
        return Kept(
            orjson.Fragment(bytes(entry.data)),
            entry.actual_cost,
            entry.tags,
            entry.expires_at - self._clock.time(),
        )

    async def put(
        self, key: str, body: dict[str, Any], counts: CacheCounts, since: int, actual_cost: int
    ) -> Kept | None:
        """Keep ``body`` (built after epoch ``since`` from the reads ``counts`` saw)
        if it may be kept: what is kept, or ``None``."""
        if counts.spoiled or "errors" in body or "data" not in body:
            return None
        now = self._clock.time()
        expires_at = min(counts.fresh_until, now + self._max_ttl_s)
        ttl = expires_at - now
        tags = sorted(counts.tags)
        if ttl <= 0 or self._invalidations.changed_since(since, tags):
            return None
        data = orjson.dumps(body["data"])
        blob = _encoder.encode(_Entry(expires_at, actual_cost, tags, msgspec.Raw(data)))
        index = _index(key, tags)
        await self._backend.set_many([(key, blob, ttl)], index)
        changed = [tag for tag in tags if self._invalidations.changed_since(since, (tag,))]
        if changed:  # invalidated while it was written: deleted again
            await self._backend.invalidate_tags(changed)
            return None
        if self._local is not None:
            await self._local.set_many([(key, blob, min(ttl, self._local_ttl_s))], index)
        self._note_stored(tags)
        RESPONSES.labels("store").inc()
        return Kept(orjson.Fragment(data), actual_cost, tags, ttl)

    def headers(self, kept: Kept | None) -> dict[str, str]:
        """The HTTP headers an answer goes with: ``Cache-Control`` (private: every
        answer is for its API key's eyes only) and its tags for a CDN's purges."""
        headers: dict[str, str] = {}
        if self._cache_control:
            headers["cache-control"] = (
                "no-store" if kept is None else f"private, max-age={max(0, int(kept.ttl_s))}"
            )
        if self._tag_headers and kept is not None and kept.tags:
            headers["cache-tag"] = ",".join(kept.tags)
            headers["surrogate-key"] = " ".join(kept.tags)
        return headers

    def _decode(self, blob: bytes | None) -> _Entry | None:
        if blob is None:
            return None
        try:
            return _decoder.decode(blob)
        except msgspec.DecodeError:
            return None  # a torn or foreign value is a miss

    def _note_stored(self, tags: Sequence[str]) -> None:
        now = time.monotonic()
        for tag in tags:
            self._stored.pop(tag, None)
            self._stored[tag] = now
        while self._stored and now - next(iter(self._stored.values())) > self._max_ttl_s:
            self._stored.popitem(last=False)

    async def _on_notice(self, message: bytes) -> None:
        """A change any instance applied: count the answers it drops here (the entity
        cache's listener deletes them, shared and local, with its own entries)."""
        try:
            notice = msgspec.json.decode(message, type=ChangeNotice)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return  # logged by the entity cache's own listener
        now = time.monotonic()
        if any(now - self._stored.get(tag, -math.inf) <= self._max_ttl_s for tag in notice.tags):
            INVALIDATIONS.inc()


def _index(key: str, tags: Sequence[str]) -> dict[str, list[str]]:
    return {tag: [key] for tag in tags}
