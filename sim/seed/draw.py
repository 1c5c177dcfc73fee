"""The one seeded random sequence every part of the generator draws from, in turn.

The data set is byte-identical for a seed and ``now`` only while the parts draw in the
same order: :func:`sim.seed.generate` fixes that order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass
class Draw:
    """The seeded sequence, the data set's ``now`` and the ids already handed out."""

    seed: int
    now: datetime
    r: random.Random = field(init=False)
    used_ids: set[str] = field(default_factory=set)
    used_numbers: set[str] = field(default_factory=set)  # tracking numbers

    def __post_init__(self) -> None:
        self.r = random.Random(self.seed)

    def id(self, prefix: str, digits: int) -> str:
        """A new ``<prefix>_<digits>`` id, never one handed out before."""
        while True:
            value = f"{prefix}_{self.r.randrange(10 ** (digits - 1), 10**digits)}"
            if value not in self.used_ids:
                self.used_ids.add(value)
                return value

    def ago(self, hours: float) -> datetime:
        return (self.now - timedelta(hours=hours)).replace(microsecond=0)

    def pick(self, weighted: dict[str, int]) -> str:
        return self.r.choices(list(weighted), weights=list(weighted.values()))[0]
