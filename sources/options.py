"""How the gateway calls each source and caches its answers: plain option values.

Free of aiohttp and redis: the settings, and so the CLI, import it at start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sources.records import MAX_BATCH


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """Where a source lives, how long the gateway waits for it and how it protects
    itself from it."""

    base_url: str
    connect_timeout_s: float = 0.5
    read_timeout_s: float = 2.0
    total_timeout_s: float = 3.0
    max_connections: int = 64
    max_concurrency: int = 48  # bulkhead: calls in flight; more wait (within the deadline)
    batch_size: int = MAX_BATCH  # the most ids the source takes in one batch call
    retry_attempts: int = 3  # attempts per idempotent read, the first included
    retry_backoff_s: float = 0.025  # full jitter: sleep U(0, min(cap, base * 2^n))
    retry_backoff_cap_s: float = 0.2
    # Wide enough that a source failing a third of its calls is not mistaken for a
    # dead one (a window of 20 opened on chance streaks of a 30% error rate).
    breaker_window: int = 100
    breaker_min_calls: int = 20
    breaker_failure_ratio: float = 0.5
    # One API key's failures count for at most this share of those needed to open the
    # breaker: a caller alone, whatever it sends, cannot open it for every tenant.
    breaker_caller_share: float = 0.5
    breaker_open_s: float = 5.0
    breaker_probes: int = 3
    # The adapter's own settings (docs/adapters.md): its credential (an API key or
    # token), its options (an API version, a field id …) and the secrets its change
    # events are signed with. Secrets are left out of the repr, and so of logs.
    credential: str | None = field(default=None, repr=False)
    options: Mapping[str, str] = field(default_factory=dict)
    webhook_secrets: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class CachePolicy:
    ttl_s: float  # fresh for this long
    stale_s: float  # then served stale while a background refresh runs
    keep_s: float  # then still kept, to serve if the source fails
    negative_ttl_s: float = 5.0  # "not found" answers are remembered this long
    lock_ms: int = 500  # how long another instance's fetch is waited for
    join_s: float = 3.0  # how long a fetch already running here is waited for, at most
    refresh_backoff_s: float = 1.0  # after a failed background refresh, wait this long

    def kept_s(self, found: bool) -> float:
        """How long an entry stays in the cache: a record (``found``) or a "not found"."""
        return self.ttl_s + max(self.stale_s, self.keep_s) if found else self.negative_ttl_s

    @property
    def keeps_nothing(self) -> bool:
        """Every window is zero: no entry is ever written."""
        return self.kept_s(True) <= 0 and self.kept_s(False) <= 0


# How long each source's data stays fresh: stock moves fastest, tracking slowest; the
# stale window equals the TTL and entries are kept ten minutes longer to serve if the
# source fails.
DEFAULT_TTL_S = {"oms": 30.0, "inventory": 10.0, "carrier": 60.0, "ticketing": 30.0}


def default_policy(source: str) -> CachePolicy:
    ttl = DEFAULT_TTL_S[source]
    return CachePolicy(ttl_s=ttl, stale_s=ttl, keep_s=600.0)


# The schemes a Redis URL may have (TCP, TLS, a unix socket), whatever the Redis is for:
# the cache (sources.cache.open_backend) and the key store (gateway.settings) alike.
REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})
