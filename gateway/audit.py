"""The audit trail: one log line per mutation and per denial, on the
``ordergraph.audit`` logger.

It says who (key id, tenant), what (operation name, document hash, denied field
coordinates), the outcome and the correlation (request) id; never variable values
or keys. The fields are attributes of the log record, so the JSON log format writes
them at the top level of the line's one object; the text format shows the message,
a summary.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from gateway.observability import request_id

log = logging.getLogger("ordergraph.audit")


def audit(
    *,
    outcome: str,
    key_id: str | None,
    tenant: str | None,
    operation: str | None = None,
    document_hash: str | None = None,
    denied: Iterable[str] = (),
    code: str | None = None,
) -> None:
    """Record one audited event (``outcome``: "denied", "executed" or "failed")."""
    entry = {
        "time": datetime.now(UTC).isoformat(),
        "outcome": outcome,
        "code": code,
        "keyId": key_id,
        "tenant": tenant,
        "operation": operation,
        "documentHash": document_hash,
        "denied": sorted(denied),
        "correlationId": request_id.get(),
    }
    log.info(
        "audit: %s %s (key %s, tenant %s)", outcome, code or operation, key_id, tenant, extra=entry
    )
