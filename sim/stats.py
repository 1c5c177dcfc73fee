"""What a simulated source counts of the data it serves, for measurement from outside
(``GET /__stats``, reset by ``DELETE /__stats``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sources.records import Record


class StatsBody(Record, frozen=True, kw_only=True):
    """Data requests since the source started or was last reset: the total, the count
    per route (its path template, e.g. /orders/{id}/cancel) and, per batch route, the
    number of distinct ids of every accepted call in call order; of the requests, those
    a simulated vendor API refused for its rate limit (429). /healthz, /openapi.json,
    /__stats, /__faults and /admin/... are not counted."""

    requests: int
    paths: dict[str, int]
    batch_sizes: dict[str, list[int]]
    throttled: int = 0


@dataclass
class Stats:
    """Data requests per route and the distinct-id count of every accepted batch call."""

    requests: int = 0
    paths: dict[str, int] = field(default_factory=dict)
    batch_sizes: dict[str, list[int]] = field(default_factory=dict)
    throttled: int = 0

    def count(self, path: str) -> None:
        self.requests += 1
        self.paths[path] = self.paths.get(path, 0) + 1

    def record_batch(self, path: str, size: int) -> None:
        self.batch_sizes.setdefault(path, []).append(size)

    def reset(self) -> None:
        self.requests = self.throttled = 0
        self.paths.clear()
        self.batch_sizes.clear()

    def snapshot(self) -> StatsBody:
        """A copy of the counts now, as ``GET /__stats`` answers them."""
        return StatsBody(
            requests=self.requests,
            paths=dict(self.paths),
            batch_sizes={path: list(sizes) for path, sizes in self.batch_sizes.items()},
            throttled=self.throttled,
        )
