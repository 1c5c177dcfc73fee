"""A request answered without executing, and its line in the audit trail."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from gateway.audit import audit

log = logging.getLogger("ordergraph.http")

# nginx's status for a request whose client went away before it was whole.
CLIENT_CLOSED_REQUEST = 499

if TYPE_CHECKING:
    from gateway.admission.documents import Analysis
    from gateway.auth.principal import Principal


class RequestRefused(Exception):
    """A request answered without executing: an HTTP status and a coded error. For the
    audit trail it carries what is known of the request: the analysed operation and
    the coordinates out of scope once the gate has them, and the id and tenant of a
    key that was refused (never the key)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        key_id: str | None = None,
        tenant: str | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})  # beside ``code``, e.g. ``cost``
        self.key_id = key_id
        self.tenant = tenant
        self.analysis: Analysis | None = None
        self.denied: frozenset[str] = frozenset()

    def body(self) -> dict[str, Any]:
        return {"errors": [self.error()]}

    def error(self) -> dict[str, Any]:
        return {"message": self.message, "extensions": {"code": self.code, **self.extensions}}


def audit_refusal(refusal: RequestRefused, principal: Principal | None) -> None:
    """One audit line for a refused request: who (the principal, else the refused
    key's id), what, and why. APQ's PersistedQueryNotFound (a 200, a step of its
    protocol) is no denial."""
    if refusal.status < 400:
        return
    analysis = refusal.analysis
    audit(
        outcome="denied",
        code=refusal.code,
        key_id=principal.key_id if principal is not None else refusal.key_id,
        tenant=principal.tenant if principal is not None else refusal.tenant,
        operation=None if analysis is None else analysis.name,
        document_hash=None if analysis is None else analysis.document_hash,
        denied=refusal.denied,
    )


def client_aborted() -> Response:
    """The answer to a request whose client disconnected mid-body: its abort, not an
    error of ours. Nothing reaches the client; the status is for the metrics."""
    log.info("client disconnected before its request body was complete")
    return Response(status_code=CLIENT_CLOSED_REQUEST)
