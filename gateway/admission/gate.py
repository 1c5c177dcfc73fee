"""Admission of one operation, whatever carries it (HTTP, SSE or a WebSocket): the
persisted-operation rules, document limits, static cost, scopes and the caller's
cost bucket. An operation refused here never executes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.admission.bucket import BucketState, CostBucket
from gateway.admission.cost import CostModel, check_cost
from gateway.admission.documents import AdmissionError, Analysis, DocumentAnalyser
from gateway.audit import audit
from gateway.auth.principal import INTERNAL_DEV, TIERS, Principal
from gateway.persisted import PersistedQueries, PersistedQueryError
from resolvers.access import Access, ScopeMap


class Refusal(Exception):
    """A request answered without executing: an HTTP status and a coded error."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"errors": [self.error()]}

    def error(self) -> dict[str, Any]:
        return {"message": self.message, "extensions": {"code": self.code}}


@dataclass(frozen=True, slots=True)
class Admitted:
    """An operation cleared to run, and what it runs with."""

    query: str
    variables: dict[str, Any]
    analysis: Analysis
    principal: Principal
    access: Access
    cost: dict[str, Any]  # extensions.cost, without the actual cost yet


class Gate:
    def __init__(
        self,
        *,
        scope_map: ScopeMap,
        analyser: DocumentAnalyser,
        cost_model: CostModel,
        persisted: Callable[[], PersistedQueries],
        bucket: Callable[[], CostBucket],
        dev_mode: bool,
    ) -> None:
        self._scope_map = scope_map
        self._analyser = analyser
        self._cost_model = cost_model
        self._persisted = persisted
        self._bucket = bucket
        self._dev_mode = dev_mode

    async def admit(self, payload: Any, principal: Principal, *, invalid: int) -> Admitted:
        """Admit one operation (a GraphQL-over-HTTP request object) or raise
        :class:`Refusal`; ``invalid`` is the status of a document that breaks a limit."""
        if not isinstance(payload, dict):
            raise Refusal(400, "BAD_REQUEST", "an operation is a JSON object")
        try:
            query, _trusted = await self._persisted().resolve(
                payload, trusted_only=principal.client_class == "partner"
            )
        except PersistedQueryError as exc:
            if exc.status == 403:
                audit_denial(principal, exc.code)
            raise Refusal(exc.status, exc.code, exc.message) from None
        if not isinstance(query, str) or not query.strip():
            raise Refusal(400, "BAD_REQUEST", "no GraphQL query in the request")
        variables = payload.get("variables") or {}
        operation_name = payload.get("operationName")
        if not isinstance(variables, dict) or not isinstance(operation_name, str | None):
            raise Refusal(400, "BAD_REQUEST", "variables must be an object, operationName a string")

        try:
            analysis = self._analyser.analyse(query, operation_name)
            cost = self._cost_model.requested_cost(analysis, variables)
            check_cost(cost, self._analyser.limits)
        except AdmissionError as exc:
            raise Refusal(invalid, exc.code, exc.message) from None
        access = self._scope_map.access(
            principal.tenant, principal.scopes, internal=principal.client_class == "console"
        )
        self._authorise(analysis, principal, access.denied)
        state = await self._charge(principal, cost)
        report = {
            "requestedQueryCost": cost,
            "throttleStatus": {
                "maximumAvailable": state.capacity,
                "currentlyAvailable": round(state.available, 1),
                "restoreRate": state.refill_per_s,
            },
        }
        if not state.allowed:
            audit_denial(principal, "THROTTLED", analysis)
            retry = (
                "1" if state.retry_after_s == float("inf") else str(int(state.retry_after_s) + 1)
            )
            raise Refusal(
                429, "THROTTLED", "the cost budget of this API key is spent", {"Retry-After": retry}
            )
        return Admitted(query, variables, analysis, principal, access, report)

    def _authorise(self, analysis: Analysis, principal: Principal, denied: frozenset[str]) -> None:
        if analysis.uses_introspection and not (self._dev_mode or principal.has("introspection")):
            audit_denial(principal, "INTROSPECTION_DISABLED", analysis)
            raise Refusal(
                403, "INTROSPECTION_DISABLED", "introspection needs the introspection scope"
            )
        refused = analysis.coordinates & denied
        if not refused:
            return
        if analysis.kind == "query":
            # Queries still run: those fields come back null with UNAUTHORIZED_FIELD.
            audit_denial(principal, "UNAUTHORIZED_FIELD", analysis, refused)
            return
        audit_denial(principal, "FORBIDDEN", analysis, refused)
        raise Refusal(403, "FORBIDDEN", f"this API key may not run this {analysis.kind}")

    async def _charge(self, principal: Principal, cost: int) -> BucketState:
        tier = TIERS[principal.tier]
        if principal is INTERNAL_DEV:  # anonymous in dev mode: nothing to charge it to
            return BucketState(True, tier.capacity, tier.capacity, tier.refill_per_s, 0.0)
        return await self._bucket().take(principal.key_id, cost, tier.capacity, tier.refill_per_s)


def audit_denial(
    principal: Principal,
    code: str,
    analysis: Analysis | None = None,
    denied: frozenset[str] = frozenset(),
) -> None:
    audit(
        outcome="denied",
        code=code,
        key_id=principal.key_id,
        tenant=principal.tenant,
        operation=None if analysis is None else analysis.name,
        document_hash=None if analysis is None else analysis.document_hash,
        denied=denied,
    )
