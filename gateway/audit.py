"""The audit trail: one JSON line per mutation and per denial.

It says who (key id, tenant), what (operation name, document hash, denied field
coordinates), the outcome and the correlation (request) id; never variable values
or keys.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

import orjson

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
    """Record one audited event (``outcome``: e.g. "denied", "throttled", "executed")."""
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
    log.info(orjson.dumps(entry).decode())
