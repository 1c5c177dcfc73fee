"""A two-way table between one of our enums and a vendor's words for it."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Generic, TypeVar

E = TypeVar("E", bound=enum.Enum)


@dataclass(frozen=True)
class Vocabulary(Generic[E]):
    """``ours`` pairs each of our values with the vendor's (both ways); ``aliases`` are
    more vendor values read as one of ours. Anything else, None included, reads as
    ``fallback``: vendors add values between versions, and one we do not know yet must
    not break a read."""

    ours: Mapping[E, str]
    fallback: E
    aliases: Mapping[str | int, E] = field(default_factory=dict)

    def read(self, value: str | int | None) -> E:
        """Ours for the vendor's ``value``."""
        return self._theirs.get(value, self.fallback)

    def write(self, value: E) -> str:
        """The vendor's word for our ``value``."""
        return self.ours[value]

    @cached_property
    def _theirs(self) -> Mapping[str | int | None, E]:
        theirs: dict[str | int | None, E] = {word: ours for ours, word in self.ours.items()}
        theirs.update(self.aliases.items())
        return theirs


def by_name(ours: type[E], spell: Callable[[str], str] = str) -> dict[E, str]:
    """Each of our values with the vendor's word that is its name, as ``spell`` writes it."""
    return {member: spell(member.name) for member in ours}
