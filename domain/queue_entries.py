"""What the exception queue holds for an order, and what it announces when an order
gains exceptions: plain records, built from the exception rules' findings.

An entry ranks an order by its worst severity, then its newest detection
(:meth:`QueueEntry.rank`); its public version leaves out internal exceptions such as
FRAUD_REVIEW (:meth:`QueueEntry.public`).
"""

from __future__ import annotations

import re
from datetime import datetime

from domain.exception_rules import (
    SEVERITY_RANK,
    ExceptionCode,
    OrderException,
    Severity,
    SubjectKind,
)
from sources.records import Record

# What QueueEntry.rank writes: a severity rank, then detectedAt in 15-digit milliseconds.
RANK = re.compile(r"\d:\d{15}")


class ExceptionFact(Record, frozen=True, kw_only=True):
    """One exception of a queued order; ``subject_id`` is the record's own id (the
    order's, a line's, a fulfillment order's or a shipment's), not a global id."""

    code: ExceptionCode
    severity: Severity
    detected_at: datetime
    internal: bool
    subject_kind: SubjectKind
    subject_id: str

    @classmethod
    def of(cls, found: OrderException) -> ExceptionFact:
        return cls(
            code=found.code,
            severity=found.severity,
            detected_at=found.detected_at,
            internal=found.internal,
            subject_kind=found.subject.kind,
            subject_id=found.subject.id,
        )

    @property
    def identity(self) -> tuple[ExceptionCode, str, str]:
        """What makes it the same exception in a later evaluation: code and subject."""
        return (self.code, self.subject_kind, self.subject_id)


class QueueEntry(Record, frozen=True, kw_only=True):
    """An order in the queue: its worst severity and newest detection among
    ``exceptions`` (most severe, then newest first)."""

    order_id: str
    account_id: str
    severity: Severity
    detected_at: datetime
    exceptions: list[ExceptionFact]
    evaluated_at: datetime

    @classmethod
    def of(
        cls, order_id: str, account_id: str, facts: list[ExceptionFact], evaluated_at: datetime
    ) -> QueueEntry | None:
        """The entry for ``facts`` (in the rules' order), ``None`` without any."""
        if not facts:
            return None
        return cls(
            order_id=order_id,
            account_id=account_id,
            severity=max((f.severity for f in facts), key=SEVERITY_RANK.__getitem__),
            detected_at=max(f.detected_at for f in facts),
            exceptions=facts,
            evaluated_at=evaluated_at,
        )

    def rank(self) -> str:
        """Sorts as text like (severity, detectedAt): most severe, then newest, highest
        (:data:`RANK`)."""
        millis = max(0, round(self.detected_at.timestamp() * 1000))
        return f"{SEVERITY_RANK[self.severity]}:{millis:015d}"

    def public(self) -> QueueEntry | None:
        """The entry a non-internal caller may see: without internal exceptions."""
        shown = [f for f in self.exceptions if not f.internal]
        return QueueEntry.of(self.order_id, self.account_id, shown, self.evaluated_at)


class RaisedExceptions(Record, frozen=True, kw_only=True):
    """Announced when an evaluation finds exceptions (by code and subject) that the
    order did not have at its previous evaluation. ``exceptions`` are only the new
    ones; internal ones are flagged and are for consoles only."""

    order_id: str
    account_id: str
    exceptions: list[ExceptionFact]
    raised_at: datetime
