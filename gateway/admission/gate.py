"""Admission of one operation, whatever carries it (HTTP, SSE or a WebSocket): how
deep its variables and extensions nest, the persisted-operation rules, document
limits, what the transport can run, static cost, scopes and the caller's cost bucket,
in that order. An operation refused here never executes; an APQ document is
remembered only once admitted (and valid). One that execution will refuse before it
runs (invalid, or its variables do not coerce) is admitted, to be answered there, but
charged ``REFUSED_CHARGE``, not its cost.

Refusals are audited by whoever answers them (``gateway.refusal.audit_refusal``),
once per request or batched operation. A query with fields out of scope still runs
(they come back null): it is audited here, UNAUTHORIZED_FIELD, once admitted; refused
later on (the cost bucket), its one line is that refusal's, naming those fields.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLSchema
from graphql.execution.values import get_variable_values

from gateway.admission.bucket import BucketState, CostBucket
from gateway.admission.cost import CostModel, check_cost
from gateway.admission.documents import (
    COST_LIMIT_EXCEEDED,
    AdmissionError,
    Analysis,
    DocumentAnalyser,
)
from gateway.audit import audit
from gateway.auth.principal import INTERNAL_DEV, TIERS, Principal
from gateway.persisted import PersistedQueries, PersistedQueryError
from gateway.refusal import RequestRefused
from resolvers.access import Access, ScopeMap

# Analysing a document the gateway has not seen is charged to the caller's cost
# bucket before it is parsed: a point, and one more per this many characters. A key
# whose bucket cannot pay is throttled (429) without the document being read, so a
# caller cannot spend the event loop's time on documents refused anyway.
ANALYSIS_CHARS_PER_POINT = 2000


# Lists and objects nest at most this deep in a request's variables and extensions
# (the variables object itself is the first level). The graph's deepest input
# (orderCancel's lines) nests 3; orjson, which keys the response cache, reads 1,024
# levels but writes at most 254: deeper variables could not even be keyed.
MAX_VALUE_NESTING = 32


# A request refused before it runs (its document fails validation, or its variables do
# not coerce) is charged this, not its cost: enough that a flood of refusals spends
# the bucket, not so much that one client bug spends it on nothing.
REFUSED_CHARGE = 1


def analysis_charge(query: str) -> int:
    return 1 + len(query) // ANALYSIS_CHARS_PER_POINT


def nests_deeper(value: Any, limit: int) -> bool:
    """Whether lists and objects in ``value`` nest more than ``limit`` levels deep:
    without recursion, and stopping at the first that does."""
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


@dataclass(frozen=True, slots=True)
class Admitted:
    """An operation cleared to run, and what it runs with."""

    query: str
    variables: dict[str, Any]
    analysis: Analysis
    principal: Principal
    access: Access
    cost: dict[str, Any]  # extensions.cost, without the actual cost yet
    suggestions: bool  # "Did you mean …?" in validation errors (introspection allowed)
    trusted_id: str | None = None  # the trusted document's id in the manifest, if it is one


# Refuses what a transport cannot run (a mutation over GET, a subscription over a
# plain request): called once the document is analysed, before scopes and cost.
Screen = Callable[[Analysis], None]


class Gate:
    def __init__(
        self,
        *,
        scope_map: ScopeMap,
        analyser: DocumentAnalyser,
        cost_model: CostModel,
        persisted: PersistedQueries,
        bucket: CostBucket,
        dev_mode: bool,
    ) -> None:
        self._scope_map = scope_map
        self._analyser = analyser
        self._cost_model = cost_model
        self._persisted = persisted
        self._bucket = bucket
        self._dev_mode = dev_mode

    async def admit(
        self, payload: Any, principal: Principal, *, invalid: int, screen: Screen | None = None
    ) -> Admitted:
        """Admit one operation (a GraphQL-over-HTTP request object) or raise
        :class:`RequestRefused`; ``invalid`` is the status of a document that breaks a limit."""
        if not isinstance(payload, dict):
            raise RequestRefused(400, "BAD_REQUEST", "an operation is a JSON object")
        for name in ("variables", "extensions"):  # before anything reads or charges
            if nests_deeper(payload.get(name), MAX_VALUE_NESTING):
                raise RequestRefused(
                    400,
                    "BAD_REQUEST",
                    f"{name} may nest lists and objects at most {MAX_VALUE_NESTING} levels deep",
                )
        persisted = self._persisted
        try:
            resolved = await persisted.resolve(
                payload, trusted_only=principal.client_class == "partner"
            )
        except PersistedQueryError as exc:
            raise RequestRefused(exc.status, exc.code, exc.message) from None
        query = resolved.query
        if not isinstance(query, str) or not query.strip():
            raise RequestRefused(400, "BAD_REQUEST", "no GraphQL query in the request")
        variables = payload.get("variables")
        if variables is None:  # absent or null; never ``or {}``: 0, false, [] are refused
            variables = {}
        operation_name = payload.get("operationName")
        if not isinstance(variables, dict) or not isinstance(operation_name, str | None):
            raise RequestRefused(
                400, "BAD_REQUEST", "variables must be an object, operationName a string"
            )
        analyser = self._analyser
        # A document over the size limit is refused unread: nothing to charge for.
        if len(query) <= analyser.limits.max_document_chars and not analyser.is_cached(
            query, operation_name
        ):
            await self._charge_analysis(principal, query)
        try:
            analysis = self._analyser.analyse(query, operation_name)
        except AdmissionError as exc:
            raise RequestRefused(invalid, exc.code, exc.message) from None
        # Validated here, once per cached document, within the limits checked above;
        # execution takes the errors from there (resolvers.schema.PreparedDocuments).
        errors = analysis.prepared.validate(self._analyser.schema)
        try:
            admitted = await self._admit(
                query, variables, analysis, principal, invalid, screen, valid=not errors
            )
        except RequestRefused as refusal:
            refusal.analysis = analysis
            raise
        if resolved.apq_hash is not None and not errors:
            await persisted.register(resolved.apq_hash, query, principal.key_id)
        if resolved.trusted_id is not None:
            admitted = dataclasses.replace(admitted, trusted_id=resolved.trusted_id)
        return admitted

    async def _admit(
        self,
        query: str,
        variables: dict[str, Any],
        analysis: Analysis,
        principal: Principal,
        invalid: int,
        screen: Screen | None,
        *,
        valid: bool,
    ) -> Admitted:
        """``valid``: whether the document passed validation. Execution runs it only if
        its variables coerce too, else it only refuses it: charged ``REFUSED_CHARGE``.
        They are coerced last, once the request is known to be affordable, so that a
        request refused for its cost (a list of 20,000 ids) is not coerced first."""
        if screen is not None:
            screen(analysis)
        try:
            cost = self._cost_model.requested_cost(analysis, variables)
            check_cost(cost, self._analyser.limits)
        except AdmissionError as exc:
            raise RequestRefused(invalid, exc.code, exc.message) from None
        access = self._scope_map.access(
            principal.tenant, principal.scopes, internal=principal.client_class == "console"
        )
        introspection = self._dev_mode or principal.has("introspection")
        refused = self._authorise(analysis, access.denied, introspection)
        self._check_affordable(principal, cost, invalid)
        runs = valid and _coerce(self._analyser.schema, analysis, variables)
        state = await self._charge(principal, cost if runs else REFUSED_CHARGE)
        report = _cost_report(cost, state)
        if not state.allowed:
            # The charge fits the bucket (checked above), so the wait is finite.
            throttled = _throttled(
                cost, state, "the cost budget of this API key is spent; retry once it has refilled"
            )
            throttled.denied = refused
            raise throttled
        if refused:  # a query runs: those fields come back null with UNAUTHORIZED_FIELD
            audit(
                outcome="denied",
                code="UNAUTHORIZED_FIELD",
                key_id=principal.key_id,
                tenant=principal.tenant,
                operation=analysis.name,
                document_hash=analysis.document_hash,
                denied=refused,
            )
        return Admitted(query, variables, analysis, principal, access, report, introspection)

    def _authorise(
        self, analysis: Analysis, denied: frozenset[str], introspection: bool
    ) -> frozenset[str]:
        """The coordinates out of scope of a query (it still runs); any other
        operation touching one is refused."""
        if analysis.uses_introspection and not introspection:
            raise RequestRefused(
                403, "INTROSPECTION_DISABLED", "introspection needs the introspection scope"
            )
        refused = analysis.coordinates & denied
        if refused and analysis.kind != "query":
            refusal = RequestRefused(
                403, "FORBIDDEN", f"this API key may not run this {analysis.kind}"
            )
            refusal.denied = refused
            raise refusal
        return refused

    @staticmethod
    def _check_affordable(principal: Principal, cost: int, invalid: int) -> None:
        """A query costing more than the key's bucket can ever hold is refused for
        good (COST_LIMIT_EXCEEDED, with the limit and the cost), never throttled with a
        ``Retry-After`` that could not come true."""
        capacity = TIERS[principal.tier].capacity
        if principal is INTERNAL_DEV or cost <= capacity:
            return
        raise RequestRefused(
            invalid,
            COST_LIMIT_EXCEEDED,
            f"The operation's requested cost is {cost}; this API key may spend at most "
            f"{capacity:g} on one operation. Ask for fewer items (a smaller first:) or "
            "fewer fields.",
            extensions={"cost": {"requestedQueryCost": cost, "maximumAvailable": capacity}},
        )

    async def _charge_analysis(self, principal: Principal, query: str) -> None:
        """Charge the analysis of a new document, or throttle the key (429)."""
        capacity = TIERS[principal.tier].capacity
        charge = min(analysis_charge(query), int(capacity))
        state = await self._charge(principal, charge)
        if not state.allowed:
            raise _throttled(
                charge,
                state,
                "the cost budget of this API key is spent (analysing a new document costs "
                "it too); retry once it has refilled",
            )

    async def _charge(self, principal: Principal, cost: int) -> BucketState:
        tier = TIERS[principal.tier]
        if principal is INTERNAL_DEV:  # anonymous in dev mode: nothing to charge it to
            return BucketState(True, tier.capacity, tier.capacity, tier.refill_per_s, 0.0)
        return await self._bucket.take(principal.key_id, cost, tier.capacity, tier.refill_per_s)


def _throttled(cost: int, state: BucketState, message: str) -> RequestRefused:
    """429 THROTTLED, with the bucket (``extensions.cost``) and the real wait."""
    return RequestRefused(
        429,
        "THROTTLED",
        message,
        {"Retry-After": str(math.ceil(state.retry_after_s) or 1)},
        extensions={"cost": _cost_report(cost, state)},
    )


def _cost_report(cost: int, state: BucketState) -> dict[str, Any]:
    """``extensions.cost`` as Shopify shapes it: the requested cost and the bucket."""
    return {
        "requestedQueryCost": cost,
        "throttleStatus": {
            "maximumAvailable": state.capacity,
            "currentlyAvailable": round(state.available, 1),
            "restoreRate": state.refill_per_s,
        },
    }


def _coerce(schema: GraphQLSchema, analysis: Analysis, variables: dict[str, Any]) -> bool:
    """Whether ``variables`` coerce to the operation's definitions, as execution will
    coerce them before anything runs."""
    definitions = analysis.operation.variable_definitions or ()
    if not definitions:
        return True
    return not isinstance(get_variable_values(schema, definitions, variables), list)
