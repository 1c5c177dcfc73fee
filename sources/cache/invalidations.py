"""Which cache tags this process saw invalidated, and when, so that a fetch already
running when its data changed does not write the old value back.

Every invalidation this process applies or hears of bumps an epoch and stamps its
tags with it. A fetch takes the epoch before it asks the source; before writing an
entry back (and before another request accepts a fetch it joined), it checks
whether any of the entry's tags was invalidated since. Only this process's own
fetches are guarded: a fetch on another instance that finishes before that instance
hears the change (pub/sub, ~1 ms) can still write the old value into the shared
cache. So every instance deletes a change's shared entries again when it hears of it
(``CachedUpstreams``), after which its own write-backs are guarded; what stays open
is a write-back already sent on one Redis connection and overtaken by that delete on
another. When notices may have been lost (pub/sub reconnected), ``forget_all`` counts
every tag as invalidated.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

# Longer than any fetch runs (the slowest source timeout, a background refresh's
# included): a fetch older than this is assumed to have missed a change.
HORIZON_S = 60.0


class Invalidations:
    """The epoch (a counter of invalidations) and, for ``horizon_s``, the epoch at
    which each tag was last invalidated."""

    def __init__(
        self, horizon_s: float = HORIZON_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._horizon_s = horizon_s
        self._clock = clock
        self._epoch = 0
        self._tags: OrderedDict[str, tuple[int, float]] = OrderedDict()  # oldest first
        self._forgotten = 0  # the newest epoch whose tags are no longer kept

    @property
    def epoch(self) -> int:
        return self._epoch

    def record(self, tags: Iterable[str]) -> None:
        """Note that ``tags`` were invalidated now."""
        self._epoch += 1
        now = self._clock()
        for tag in tags:
            self._tags.pop(tag, None)
            self._tags[tag] = (self._epoch, now)
        while self._tags:
            tag, (epoch, at) = next(iter(self._tags.items()))
            if now - at < self._horizon_s:
                break
            del self._tags[tag]
            self._forgotten = epoch

    def forget_all(self) -> None:
        """Note that any tag may have been invalidated now (changes went unheard)."""
        self._epoch += 1
        self._forgotten = self._epoch
        self._tags.clear()

    def last(self, tag: str) -> int:
        """The epoch of ``tag``'s last invalidation, or a later one where that is no
        longer kept (0: never)."""
        return max(self._tags.get(tag, (0, 0.0))[0], self._forgotten)

    def changed_since(self, epoch: int, tags: Iterable[str]) -> bool:
        """Whether any of ``tags`` was invalidated after ``epoch`` (or may have been:
        an invalidation that recent is no longer kept)."""
        if self._forgotten > epoch:
            return True
        return any(self._tags.get(tag, (0, 0.0))[0] > epoch for tag in tags)
