"""Shared state: the role protocols (:mod:`sources.cache.backend`), their two backends
(Redis, in-process LRU) and ``open_backend`` to pick one by URL."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sources.cache.backend import CacheBackend, CacheUnavailable
from sources.cache.memory_backend import MemoryBackend
from sources.cache.redis_backend import RedisBackend
from sources.options import REDIS_SCHEMES
from sources.resilience.loop_lag import LoopLag

__all__ = ["CacheUnavailable", "MemoryBackend", "RedisBackend", "open_backend"]


def open_backend(
    url: str, loop_lag: LoopLag | None = None, *, timeout_s: float = 0.1
) -> CacheBackend:
    """``redis://``, ``rediss://`` or ``unix://`` → Redis, each call cut off after
    ``timeout_s``; ``memory://`` (optionally ``memory://?max_entries=N&max_bytes=N``) →
    in-process LRU. ``loop_lag``: the process's lag monitor, so Redis is not blamed for
    the loop's lateness."""
    parts = urlsplit(url)
    if parts.scheme in REDIS_SCHEMES:
        return RedisBackend(url, timeout_s=timeout_s, loop_lag=loop_lag)
    if parts.scheme == "memory":
        query = parse_qs(parts.query)
        if set(query) - {"max_entries", "max_bytes"}:
            raise ValueError(
                f"cache URL {url!r}: memory:// takes only ?max_entries=N and &max_bytes=N"
            )
        try:
            bounds = {name: int(values[-1]) for name, values in query.items()}
            return MemoryBackend(**bounds)
        except ValueError as exc:
            raise ValueError(f"cache URL {url!r}: {exc}") from exc
    schemes = ", ".join(f"{scheme}://" for scheme in sorted(REDIS_SCHEMES))
    raise ValueError(
        f"cache URL {url!r}: unknown scheme {parts.scheme!r}; use {schemes} or memory://"
    )
