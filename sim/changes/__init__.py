"""Live changes to the simulated data set, one module per source: :mod:`.oms` (customer
and staff cancels, address changes and their warehouse requests, touch),
:mod:`.inventory` (stock levels), :mod:`.carrier` (tracking milestones) and
:mod:`.ticketing` (new tickets, comments, updates).

Records are frozen, so every change builds a new record with
``msgspec.structs.replace``, stores it back into the :class:`Dataset` and returns it
with the :class:`ChangeEvent` that announces it. Request bodies are camelCase structs
that refuse unknown fields, so a typo answers 400 instead of being ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

import msgspec

from sim.seed import Dataset
from sources.events import ChangeEvent
from sources.records import Record

BodyT = TypeVar("BodyT", bound=msgspec.Struct)
Change = tuple[Record, ChangeEvent]
#: A change applied to the record named by a route's path (``""`` when it creates one):
#: the record and its event, or no event when the change was only recorded for later
#: (answered 202 Accepted).
Apply = Callable[[Dataset, str, BodyT, datetime], tuple[Record, ChangeEvent | None]]

NOT_FOUND = "NOT_FOUND"


class ChangeError(Exception):
    """A change that cannot be applied: answered with ``status`` and an ErrorBody."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class Body(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of admin request bodies."""


class NoBody(Body, frozen=True, kw_only=True):
    """Endpoints without parameters accept an empty body or ``{}``."""


def after(previous: datetime, now: datetime) -> datetime:
    """``now``, but strictly after ``previous``: a data set may be generated ahead of the
    wall clock, and a change must still move its record's time forward."""
    return max(now, previous + timedelta(microseconds=1))
