"""What the exception queue stores and announces, and where it keeps it.

An order with open exceptions has one ``QueueEntry`` per *view* it belongs to: every
account's view and its own account's, each in an internal version (all exceptions)
and a public one (without internal exceptions such as FRAUD_REVIEW; the order is in
it only if a public exception is left). A caller reads exactly one view, so tenant
and internal filtering cost nothing at read time and ranks never count what the
caller may not see.
"""

from __future__ import annotations

from datetime import datetime

from domain.exception_rules import ExceptionCode, OrderException, Severity, SubjectKind
from resolvers.access import EVERY_ACCOUNT
from sources.records import Record

KEY_PREFIX = "og:exq:v1"  # bump when QueueEntry changes shape
RAISED_CHANNEL = "og:exceptions-raised"
SEVERITY_RANK = {severity: rank for rank, severity in enumerate(Severity)}  # INFO lowest


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
        """Sorts as text like (severity, detectedAt): most severe, then newest, highest."""
        millis = max(0, round(self.detected_at.timestamp() * 1000))
        return f"{SEVERITY_RANK[self.severity]}:{millis:015d}"

    def public(self) -> QueueEntry | None:
        """The entry a non-internal caller may see: without internal exceptions."""
        shown = [f for f in self.exceptions if not f.internal]
        return QueueEntry.of(self.order_id, self.account_id, shown, self.evaluated_at)


class RaisedExceptions(Record, frozen=True, kw_only=True):
    """Published on ``RAISED_CHANNEL`` when an evaluation finds exceptions (by code and
    subject) that the order did not have at its previous evaluation. ``exceptions``
    are only the new ones; internal ones are flagged and are for consoles only."""

    order_id: str
    account_id: str
    exceptions: list[ExceptionFact]
    raised_at: datetime


def view(scope: str, *, internal: bool) -> str:
    """The index of one view: ``scope`` is an account id or ``*`` (every account)."""
    return f"{KEY_PREFIX}:queue:{'internal' if internal else 'public'}:{scope}"


def views_of(account_id: str) -> list[tuple[str, bool]]:
    """(index, internal) of every view an order of ``account_id`` may be in."""
    return [
        (view(scope, internal=internal), internal)
        for scope in (EVERY_ACCOUNT, account_id)
        for internal in (True, False)
    ]
