"""Descriptions for enums whose Python classes live outside the graph (the sources'
records, the domain rules), so their values are described where they are exposed."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeVar

import strawberry

E = TypeVar("E", bound=enum.Enum)


def described_enum(
    cls: type[E], values: Mapping[str, str], *, name: str | None = None, description: str
) -> type[E]:
    """Register ``cls`` as a GraphQL enum with a description for it and every value.

    ``values`` must name exactly the enum's members, so a member added without a
    description fails at import.
    """
    members = [member.name for member in cls]
    if sorted(values) != sorted(members):
        raise ValueError(
            f"{cls.__name__}: descriptions for {sorted(values)}, members {sorted(members)}"
        )
    strawberry.enum(cls, name=name, description=description)
    for value in cls.__strawberry_definition__.values:  # type: ignore[attr-defined]
        value.description = values[value.name]
    return cls
