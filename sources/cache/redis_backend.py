"""Redis cache backend (redis-py asyncio with hiredis): every role over one
:class:`~sources.cache.redis_connection.RedisConnection`.

Redis trouble is a cache miss, never a failure: reads answer ``None``, writes are
dropped, leases are not recorded; only claims and ``strict`` calls raise
:class:`CacheUnavailable` (the connection's policy says when Redis is asked at all).

Needs Redis >= 7.0 (``PEXPIRE ... NX|GT``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from redis.asyncio.client import PubSub

from sources.cache.backend import (
    BackendHealth,
    CacheUnavailable,
    Claim,
    IndexEntry,
    IndexPosition,
    MessageHandler,
    MissedHandler,
    TokenTake,
)
from sources.cache.memory_backend import Subscribers
from sources.cache.ranked_index import check_entry
from sources.cache.redis_connection import TROUBLE, RedisConnection
from sources.cache.releases import Releases, ReleaseWatch
from sources.resilience.loop_lag import LoopLag

log = logging.getLogger("ordergraph.cache")

TAG_PREFIX = "og:tag:"
LISTEN_POLL_S = 0.5  # how soon the listener notices channels subscribed after start()
RECONNECT_MIN_S = 0.1
RECONNECT_MAX_S = 2.0
# How long close() waits for the cancelled listener. redis-py shields a pub/sub's
# teardown from cancellation, and after Redis went away and came back that teardown was
# seen to wait for good, holding up the gateway's shutdown.
LISTENER_STOP_S = 1.0

# KEYS: tag index keys. DEL in chunks: Lua's unpack() fails past ~8000 values.
_INVALIDATE_TAGS = """
local deleted = 0
for _, tag_key in ipairs(KEYS) do
  local members = redis.call('SMEMBERS', tag_key)
  for i = 1, #members, 4096 do
    deleted = deleted + redis.call('DEL', unpack(members, i, math.min(i + 4095, #members)))
  end
  redis.call('DEL', tag_key)
end
return deleted
"""

# KEYS: n entry keys, then tag index keys. ARGV: n, n values, n TTLs (ms), then per
# tag index: how many entries it gets, and their positions in KEYS. One script call
# costs a fraction of the CPU a pipeline of SETs costs redis-py.
_SET_MANY = """
local n = tonumber(ARGV[1])
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[1 + i], 'PX', ARGV[1 + n + i])
end
local pos = 2 + 2 * n
for t = n + 1, #KEYS do
  local count = tonumber(ARGV[pos])
  local longest = 0
  for j = 1, count do
    local index = tonumber(ARGV[pos + j])
    redis.call('SADD', KEYS[t], KEYS[index])
    longest = math.max(longest, tonumber(ARGV[1 + n + index]))
  end
  pos = pos + count + 1
  -- The index must outlive every key in it: only ever lengthen its TTL.
  if redis.call('PTTL', KEYS[t]) < longest then
    redis.call('PEXPIRE', KEYS[t], longest)
  end
end
return n
"""

# KEYS[1]: a token bucket (a hash: tokens, at = Redis TIME in ms). ARGV: cost,
# capacity, refill per second. Returns {allowed, tokens after (a string: Lua numbers
# would be truncated to integers), retry after in ms or -1 for never}. The key
# expires when the bucket would be full again: a missing bucket is a full one.
_TAKE_TOKENS = """
local cost = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate / 1000)
local allowed = 0
local retry_ms = 0
if cost <= tokens then
  tokens = tokens - cost
  allowed = 1
elseif cost > capacity then
  retry_ms = -1
else
  retry_ms = (cost - tokens) * 1000 / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) * 1000 / rate) + 1000)
return {allowed, string.format('%.17g', tokens), string.format('%.17g', retry_ms)}
"""

# KEYS: lock keys; ARGV[1]: the token; ARGV[2]: TTL (ms). 1 for each lock taken. A
# lock another holds is marked as waited for, so that its release is announced.
_LEASE = """
local taken = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then
    taken[i] = 1
  else
    taken[i] = 0
    redis.call('SET', key .. ':waited', 1, 'PX', ARGV[2])
  end
end
return taken
"""

# KEYS: lock keys; ARGV[1]: the holder's token; ARGV[2]: the channel on which the
# release of locks someone waits for is announced (a JSON array of their keys).
_RENEW_LOCKS = """
for _, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder and holder ~= ARGV[1] then
    return 0
  end
end
for _, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
end
return 1
"""
_RELEASE_LOCKS = """
local released = 0
local waited = {}
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    released = released + redis.call('DEL', key)
    if redis.call('DEL', key .. ':waited') == 1 then
      waited[#waited + 1] = key
    end
  end
end
if #waited > 0 then
  redis.call('PUBLISH', ARGV[2], cjson.encode(waited))
end
return released
"""

RELEASED_CHANNEL = "og:released"
_RELEASED = msgspec.json.Decoder(list[str])


# A ranked index is two keys: ``<index>:order``, a sorted set of ``rank NUL member``
# (all scores 0, so Redis orders them as bytes, exactly as the memory backend orders
# (rank, member)), and ``<index>:entries``, a hash of member -> ``rank NUL payload``.

# KEYS: order, entries. ARGV: member, rank, payload triplets. Each one's old payload.
_INDEX_PUT = """
local previous = {}
for i = 1, #ARGV, 3 do
  local member, rank = ARGV[i], ARGV[i + 1]
  local old = redis.call('HGET', KEYS[2], member)
  local before = false
  if old then
    local cut = string.find(old, '\\0', 1, true)
    redis.call('ZREM', KEYS[1], string.sub(old, 1, cut - 1) .. '\\0' .. member)
    before = string.sub(old, cut + 1)
  end
  redis.call('ZADD', KEYS[1], 0, rank .. '\\0' .. member)
  redis.call('HSET', KEYS[2], member, rank .. '\\0' .. ARGV[i + 2])
  previous[#previous + 1] = before
end
return previous
"""

# KEYS: order, entries. ARGV: members.
_INDEX_REMOVE = """
for _, member in ipairs(ARGV) do
  local old = redis.call('HGET', KEYS[2], member)
  if old then
    local cut = string.find(old, '\\0', 1, true)
    redis.call('ZREM', KEYS[1], string.sub(old, 1, cut - 1) .. '\\0' .. member)
    redis.call('HDEL', KEYS[2], member)
  end
end
return 0
"""

# KEYS: order, entries. ARGV: the exclusive upper bound ("+": the top), the limit.
# Returns order member, entry pairs.
_INDEX_RANGE = """
local found = {}
local page = redis.call('ZRANGE', KEYS[1], ARGV[1], '-', 'BYLEX', 'REV', 'LIMIT', 0, ARGV[2])
for _, key in ipairs(page) do
  local cut = string.find(key, '\\0', 1, true)
  found[#found + 1] = key
  found[#found + 1] = redis.call('HGET', KEYS[2], string.sub(key, cut + 1)) or ''
end
return found
"""


def _index_keys(index: str) -> list[str]:
    return [f"{index}:order", f"{index}:entries"]


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisBackend:
    """``CacheBackend`` shared by every gateway process through one Redis."""

    name: str = "redis"

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 0.1,
        max_connections: int = 64,
        cooldown_s: float = 1.0,
        log_interval_s: float = 10.0,
        loop_lag: LoopLag | None = None,
    ) -> None:
        self._redis = RedisConnection(
            url,
            timeout_s=timeout_s,
            max_connections=max_connections,
            cooldown_s=cooldown_s,
            log_interval_s=log_interval_s,
            loop_lag=loop_lag,
        )
        client = self._redis.client
        self._invalidate_script = client.register_script(_INVALIDATE_TAGS)
        self._set_many_script = client.register_script(_SET_MANY)
        self._lease_script = client.register_script(_LEASE)
        self._renew_script = client.register_script(_RENEW_LOCKS)
        self._release_script = client.register_script(_RELEASE_LOCKS)
        self._take_script = client.register_script(_TAKE_TOKENS)
        self._index_put_script = client.register_script(_INDEX_PUT)
        self._index_remove_script = client.register_script(_INDEX_REMOVE)
        self._index_range_script = client.register_script(_INDEX_RANGE)
        self._subscribers = Subscribers()
        self._releases = Releases()
        self._subscribers.add(RELEASED_CHANNEL, self._on_released)
        self._channels_added = asyncio.Event()
        self._listening = asyncio.Event()  # set once every channel is subscribed
        self._listener: asyncio.Task[None] | None = None
        self._missed_handlers: list[MissedHandler] = []
        self._missed = False  # the listener failed: messages may have been lost since

    async def start(self) -> None:
        """Probe Redis once and start the pub/sub listener; waits (briefly) until the
        channels subscribed so far are live, so a message published next is seen."""
        await self._redis.run(self._redis.client.ping, None)
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="redis-cache-listener")
        if self._subscribers.channels:
            try:
                async with asyncio.timeout(self._redis.deadline_s):
                    await self._listening.wait()
            except TimeoutError:
                pass  # Redis is slow or away: the listener keeps trying by itself

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            _, stuck = await asyncio.wait({self._listener}, timeout=LISTENER_STOP_S)
            if stuck:
                log.warning("redis cache listener still closing after %.1f s", LISTENER_STOP_S)
            self._listener = None
        await self._subscribers.close()
        await self._redis.close()

    async def get_many(self, keys: Sequence[str], *, strict: bool = False) -> list[bytes | None]:
        misses: list[bytes | None] = [None] * len(keys)
        if not keys:
            return misses
        return await self._redis.run(lambda: self._redis.client.mget(keys), misses, strict=strict)

    async def set_many(
        self,
        entries: Sequence[tuple[str, bytes, float]],
        tags: Mapping[str, Sequence[str]],
        *,
        strict: bool = False,
    ) -> None:
        kept = [(key, value, _ms(ttl_s)) for key, value, ttl_s in entries if ttl_s > 0]
        if not kept:
            return
        position = {key: i for i, (key, _, _) in enumerate(kept, start=1)}
        keys: list[str] = [key for key, _, _ in kept]
        args: list[Any] = [len(kept), *(value for _, value, _ in kept)]
        args += [ttl for _, _, ttl in kept]
        for tag, members in tags.items():
            indexes = [position[key] for key in members if key in position]
            if indexes:
                keys.append(TAG_PREFIX + tag)
                args += [len(indexes), *indexes]
        await self._redis.run(
            lambda: self._set_many_script(keys=keys, args=args), None, strict=strict
        )

    async def invalidate_tags(self, tags: Sequence[str], *, strict: bool = False) -> int:
        if not tags:
            return 0
        tag_keys = [TAG_PREFIX + tag for tag in tags]
        deleted = await self._redis.run(
            lambda: self._invalidate_script(keys=tag_keys), 0, strict=strict
        )
        return int(deleted)

    async def claim_once(self, key: str, ttl_s: float) -> Claim | None:
        token = secrets.token_hex(16)
        # PX rather than EX: EX takes whole seconds only.
        taken = await self._redis.run(
            lambda: self._redis.client.set(key, token, nx=True, px=_ms(ttl_s)), False, strict=True
        )
        return Claim(token, (key,)) if taken else None

    async def lease_many(self, keys: Sequence[str], ttl_s: float) -> tuple[Claim, list[bool]]:
        token = secrets.token_hex(16)
        taken: list[int] | None = None
        if keys:
            taken = await self._redis.run(
                lambda: self._lease_script(keys=list(keys), args=[token, _ms(ttl_s)]), None
            )
        if taken is None:  # nothing recorded, and no one known to hold any of them
            return Claim(token, ()), [False] * len(keys)
        held = tuple(key for key, flag in zip(keys, taken, strict=True) if flag)
        return Claim(token, held), [not flag for flag in taken]

    async def renew_claim(self, claim: Claim, ttl_s: float) -> bool:
        if not claim.keys:
            return False
        renewed = await self._redis.run(
            lambda: self._renew_script(keys=list(claim.keys), args=[claim.token, _ms(ttl_s)]),
            0,
            strict=True,
        )
        return bool(renewed)

    async def release_claim(self, claim: Claim) -> None:
        if not claim.keys:
            return
        try:
            await self._redis.run(
                lambda: self._release_script(
                    keys=list(claim.keys), args=[claim.token, RELEASED_CHANNEL]
                ),
                None,
                strict=True,
            )
        except CacheUnavailable as exc:
            log.warning("could not release %s, it expires by itself: %s", claim.keys, exc)

    def watch_releases(self, keys: Sequence[str]) -> ReleaseWatch:
        return self._releases.watch(keys)

    async def _on_released(self, message: bytes) -> None:
        self._releases.heard(_RELEASED.decode(message))

    async def take_tokens(
        self, key: str, cost: float, capacity: float, refill_per_s: float
    ) -> TokenTake | None:
        unanswered: list[Any] | None = None
        answer = await self._redis.run(
            lambda: self._take_script(keys=[key], args=[cost, capacity, refill_per_s]), unanswered
        )
        if answer is None:
            return None
        allowed, tokens, retry_ms = answer
        wait = float(retry_ms)
        return TokenTake(bool(allowed), float(tokens), math.inf if wait < 0 else wait / 1000)

    async def index_put(self, index: str, entries: Sequence[IndexEntry]) -> list[bytes | None]:
        unknown: list[bytes | None] = [None] * len(entries)
        if not entries:
            return unknown
        args: list[Any] = []
        for entry in entries:
            check_entry(entry.member, entry.rank)
            args += [entry.member, entry.rank, entry.payload]
        keys = _index_keys(index)
        previous = await self._redis.run(
            lambda: self._index_put_script(keys=keys, args=args), unknown, strict=True
        )
        return list(previous)

    async def index_remove(self, index: str, members: Sequence[str]) -> None:
        if members:
            keys = _index_keys(index)
            await self._redis.run(
                lambda: self._index_remove_script(keys=keys, args=list(members)), None, strict=True
            )

    async def index_range(
        self, index: str, limit: int, after: IndexPosition | None = None
    ) -> list[IndexEntry]:
        bound = "+" if after is None else "(" + "\0".join(after)
        keys, nothing = _index_keys(index), list[bytes]()
        found = await self._redis.run(
            lambda: self._index_range_script(keys=keys, args=[bound, limit]), nothing, strict=True
        )
        page = []
        for key, entry in zip(found[::2], found[1::2], strict=True):
            rank, _, member = key.partition(b"\0")
            if entry:  # its hash entry is gone (evicted under a maxmemory policy): skip it
                page.append(IndexEntry(member.decode(), rank.decode(), entry.partition(b"\0")[2]))
        return page

    async def publish(self, channel: str, message: bytes, *, strict: bool = False) -> None:
        await self._redis.run(
            lambda: self._redis.client.publish(channel, message), None, strict=strict
        )

    def subscribe(self, channel: str, handler: MessageHandler) -> None:
        self._subscribers.add(channel, handler)
        self._channels_added.set()

    def on_missed(self, handler: MissedHandler) -> None:
        self._missed_handlers.append(handler)

    def health(self) -> BackendHealth:
        return self._redis.health()

    async def _listen(self) -> None:
        """Relay pub/sub messages to handlers until cancelled; after a failure,
        reconnect and resubscribe with capped exponential backoff (what was published
        meanwhile is lost: ``on_missed``)."""
        delay = RECONNECT_MIN_S
        while True:
            self._listening.clear()
            try:
                async with self._redis.client.pubsub() as pubsub:
                    await self._relay(pubsub)
            except TROUBLE as exc:
                self._redis.failed(exc)
            except Exception:  # a bug here must not end pub/sub for the process's life
                log.exception("redis cache listener failed; restarting it")
            self._missed = True
            delay = RECONNECT_MIN_S if self._listening.is_set() else min(delay * 2, RECONNECT_MAX_S)
            await asyncio.sleep(delay)

    async def _relay(self, pubsub: PubSub) -> None:
        subscribed: set[str] = set()
        while True:
            new = self._subscribers.channels - subscribed
            if new:
                await pubsub.subscribe(*new)
                subscribed |= new
            if not subscribed:
                await self._channels_added.wait()
                self._channels_added.clear()
                continue
            message = await pubsub.get_message(timeout=LISTEN_POLL_S)
            if message is None:
                continue
            if message["type"] == "message":
                self._subscribers.deliver(message["channel"].decode(), message["data"])
            elif message["type"] == "subscribe":
                if message["data"] == 1 and self._listening.is_set():
                    self._missed = True  # a new connection: redis-py reconnected by itself
                if message["data"] != len(subscribed):
                    continue
                self._listening.set()
                self._redis.succeeded()
                if self._missed:
                    self._missed = False
                    await self._report_missed()

    async def _report_missed(self) -> None:
        log.warning("redis pub/sub is back: messages published while it was away may be lost")
        for handler in self._missed_handlers:
            try:
                await handler()
            except Exception:  # one handler's bug must not stop the others, nor delivery
                log.exception("a handler of missed pub/sub messages failed")
