"""Releases of leased keys, as heard by this process: what a cold instance waits on
while another instance fetches what it needs, instead of polling the cache.

A waiter opens a :class:`ReleaseWatch` on the lock keys *before* it tries to lease
them, so a release that lands right after its lease was refused is not missed. The
backend that hears of a release (the memory backend at once; Redis over pub/sub)
hands the keys to :meth:`Releases.heard`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Sequence


class ReleaseWatch:
    """Releases of some keys heard since the watch was opened, until it is closed."""

    def __init__(self, registry: Releases, keys: Sequence[str]) -> None:
        self._registry = registry
        self._keys = tuple(keys)
        self._heard: set[str] = set()
        self._event = asyncio.Event()

    def hear(self, key: str) -> None:
        self._heard.add(key)
        self._event.set()

    async def wait(self, keys: Collection[str], timeout_s: float) -> set[str]:
        """Those of ``keys`` heard released and not yet answered, waiting up to
        ``timeout_s`` for one; an empty set when none was by then."""
        wanted = set(keys)
        try:
            async with asyncio.timeout(max(0.0, timeout_s)):
                while not self._heard & wanted:
                    self._event.clear()
                    await self._event.wait()
        except TimeoutError:
            pass
        heard = self._heard & wanted
        self._heard -= heard
        return heard

    def close(self) -> None:
        self._registry.forget(self)

    @property
    def keys(self) -> tuple[str, ...]:
        return self._keys

    def __enter__(self) -> ReleaseWatch:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.close()


class Releases:
    """The watches open in this process, by key."""

    def __init__(self) -> None:
        self._watches: dict[str, set[ReleaseWatch]] = {}

    def watch(self, keys: Sequence[str]) -> ReleaseWatch:
        watch = ReleaseWatch(self, keys)
        for key in watch.keys:
            self._watches.setdefault(key, set()).add(watch)
        return watch

    def forget(self, watch: ReleaseWatch) -> None:
        for key in watch.keys:
            watches = self._watches.get(key)
            if watches is not None:
                watches.discard(watch)
                if not watches:
                    del self._watches[key]

    def heard(self, keys: Iterable[str]) -> None:
        """``keys`` were released (by any holder): wake whoever watches them."""
        for key in keys:
            for watch in self._watches.get(key, ()):
                watch.hear(key)
