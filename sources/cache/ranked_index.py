"""One ranked index in process memory: the in-memory backend's ``index_*`` operations."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from sources.cache.backend import IndexEntry, IndexPosition


def check_entry(member: str, rank: str) -> None:
    """Refuse what the Redis layout (``rank NUL member``) could not order exactly."""
    if "\0" in member or "\0" in rank:
        raise ValueError("index members and ranks may not contain NUL")


class RankedIndex:
    """Members with a rank and a payload, kept in (rank, member) order."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[str, bytes]] = {}  # member -> (rank, payload)
        self._order: list[IndexPosition] = []  # ascending; read from the end

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, entries: Sequence[IndexEntry]) -> list[bytes | None]:
        previous: list[bytes | None] = []
        for entry in entries:
            check_entry(entry.member, entry.rank)
            old = self._entries.get(entry.member)
            if old is not None:
                self._order.pop(bisect.bisect_left(self._order, (old[0], entry.member)))
            bisect.insort(self._order, entry.position)
            self._entries[entry.member] = (entry.rank, entry.payload)
            previous.append(None if old is None else old[1])
        return previous

    def remove(self, members: Sequence[str]) -> None:
        for member in members:
            old = self._entries.pop(member, None)
            if old is not None:
                self._order.pop(bisect.bisect_left(self._order, (old[0], member)))

    def range(self, limit: int, after: IndexPosition | None) -> list[IndexEntry]:
        end = len(self._order) if after is None else bisect.bisect_left(self._order, after)
        page = self._order[max(0, end - limit) : end]
        return [
            IndexEntry(member, rank, self._entries[member][1]) for rank, member in reversed(page)
        ]
