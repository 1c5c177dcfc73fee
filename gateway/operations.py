"""Running admitted operations: once (queries, mutations) or as a stream of results
(subscriptions), with the caller's tenant and scopes in a fresh context."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from gateway.admission.cost import CostModel
from gateway.admission.gate import Admitted
from gateway.audit import audit
from gateway.auth.principal import INTERNAL_DEV, Principal
from gateway.error_format import format_error, in_answer_order
from gateway.observability import record_operation
from gateway.response_cache import HIT_REPORT, ResponseCache
from resolvers.compiled import compile_events, execute_compiled
from resolvers.context import RequestContext
from resolvers.live import LiveFeeds
from resolvers.relay import Cursors
from resolvers.schema import PREPARED
from services.exception_queue.store import QueueStore
from sources.cache.through import CacheCounts
from sources.cache.upstreams import CachedUpstreams
from sources.resilience import caller, deadline

log = logging.getLogger("ordergraph.operations")


class Operations:
    def __init__(
        self,
        schema: strawberry.Schema,
        cached: CachedUpstreams,
        live: LiveFeeds,
        deadline_s: float,
        cost_model: CostModel,
        *,
        compiled: bool = False,
        responses: ResponseCache | None = None,
        order_cursors: Cursors,
    ) -> None:
        """``responses``: where queries' answers are kept (None: nowhere);
        ``order_cursors``: the order list's, sealed with the deployment's key."""
        self._schema = schema
        self._responses = responses
        self._compiled = compiled  # queries and subscription events run by compiled plans
        self._cost_model = cost_model
        self._cached = cached
        self._queue = QueueStore(cached.backend)  # the queue as every request reads it
        self._live = live
        self._deadline_s = deadline_s
        self._order_cursors = order_cursors

    def _context(self, admitted: Admitted) -> RequestContext:
        """The operation's context; this task's upstream calls from here on run under
        the request deadline and for its caller (a subscription's first event; each
        later one starts its own, ``RequestContext.begin_event``)."""
        # The document admission parsed and validated: execution does not redo it.
        PREPARED.set(admitted.analysis.prepared)
        deadline.start(self._deadline_s)
        who = _caller_of(admitted.principal)
        caller.start(who)
        return RequestContext.create(
            self._cached,
            queue=self._queue,
            access=admitted.access,
            live=self._live,
            deadline_s=self._deadline_s,
            caller=who,  # every later event of a subscription is made for it too
            order_cursors=self._order_cursors,
        )

    async def execute(
        self,
        admitted: Admitted,
        *,
        queries_only: bool = False,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Run a query or mutation under the request deadline (or answer a query from
        the response cache): the response body. ``headers`` gets the HTTP headers
        the answer goes with."""
        analysis = admitted.analysis
        responses = self._responses if analysis.kind == "query" else None
        if responses is None:
            return (await self._run(admitted, queries_only))[0]
        started = time.perf_counter()
        key, since = responses.key(admitted), responses.epoch
        kept = await responses.lookup(key)
        if kept is None:
            with responses.building(key) as flight:
                body, counts = await self._run(admitted, queries_only)
                actual = body["extensions"]["cost"]["actualQueryCost"]
                flight.kept = await responses.put(key, body, counts, since, actual)
            if headers is not None:
                headers.update(responses.headers(flight.kept))
            return body
        elapsed = time.perf_counter() - started
        record_operation(analysis.name, "query", "ok", elapsed, trusted_id=admitted.trusted_id)
        if headers is not None:
            headers.update(responses.headers(kept))
        cost = {**admitted.cost, "actualQueryCost": kept.actual_cost}
        return {"data": kept.data, "extensions": {"cache": HIT_REPORT, "cost": cost}}

    async def _run(
        self, admitted: Admitted, queries_only: bool
    ) -> tuple[dict[str, Any], CacheCounts]:
        """Execute the operation: its body, and what its reads were."""
        analysis = admitted.analysis
        context = self._context(admitted)
        allowed = {OperationType.QUERY} if queries_only else None
        started = time.perf_counter()
        outcome = "error"
        try:
            result = None
            if self._compiled:
                result = await execute_compiled(
                    self._schema, analysis.prepared, admitted.variables, context, analysis.name
                )
            if result is None:
                result = await self._schema.execute(
                    admitted.query,
                    variable_values=admitted.variables,
                    context_value=context,
                    operation_name=analysis.name,
                    allowed_operation_types=allowed,
                )
            outcome = _outcome(result)
        finally:
            record_operation(
                analysis.name,
                analysis.kind,
                outcome,
                time.perf_counter() - started,
                trusted_id=admitted.trusted_id,
            )
        body = result_body(result, suggestions=admitted.suggestions)
        if analysis.kind == "mutation":
            principal = admitted.principal
            audit(
                outcome="executed" if "errors" not in body else "failed",
                key_id=principal.key_id,
                tenant=principal.tenant,
                operation=analysis.name,
                document_hash=analysis.document_hash,
            )
        actual = self._cost_model.actual_cost(analysis, body.get("data"))
        cost = {**admitted.cost, "actualQueryCost": actual}
        body.setdefault("extensions", {})["cost"] = cost
        return body, context.counts

    async def stream(self, admitted: Admitted) -> AsyncGenerator[dict[str, Any], None]:
        """A subscription's results, one body per event, until it ends or the consumer
        stops iterating; raises :class:`SubscriptionNotStarted` if it fails before its
        first event."""
        analysis = admitted.analysis
        context = self._context(admitted)
        if self._compiled:
            context.complete_event = compile_events(
                self._schema, analysis.prepared, admitted.variables, analysis.name
            )
        started = time.perf_counter()
        outcome = "ok"
        results = await self._schema.subscribe(
            admitted.query,
            variable_values=admitted.variables,
            context_value=context,
            operation_name=analysis.name,
        )
        try:
            async for result in results:
                if isinstance(result, PreExecutionError):
                    outcome = "error"
                    raise SubscriptionNotStarted(
                        result_body(result, suggestions=admitted.suggestions)
                    )
                if result.errors:
                    outcome = _outcome(result)
                yield result_body(result, suggestions=admitted.suggestions)
        finally:
            await results.aclose()
            record_operation(
                analysis.name,
                "subscription",
                outcome,
                time.perf_counter() - started,
                trusted_id=admitted.trusted_id,
            )


def _caller_of(principal: Principal) -> str | None:
    """Whom upstream calls are made for: this key (breakers bound its share); dev
    mode's one anonymous console is no caller to tell apart."""
    return None if principal is INTERNAL_DEV else principal.key_id


class SubscriptionNotStarted(Exception):
    """A subscription that executed and failed before its first event (e.g. NOT_FOUND):
    ``body`` is that result. A request refused before execution is a
    :class:`~gateway.refusal.RequestRefused`."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__("the subscription failed before its first event")
        self.body = body


def result_body(result: ExecutionResult, *, suggestions: bool) -> dict[str, Any]:
    """An execution result as sent. A request error (the document did not validate,
    the operation was refused at its root) has no data at all; a field error that
    nulled the whole answer still has ``data: null``. ``suggestions``: keep
    validation's "Did you mean …?"."""
    body: dict[str, Any] = {}
    request_error = result.data is None and all(e.path is None for e in result.errors or ())
    if not request_error:
        body["data"] = result.data
    if result.errors:
        errors = in_answer_order(result.errors, result.data)
        body["errors"] = [format_error(e, suggestions=suggestions) for e in errors]
    if result.extensions:
        body["extensions"] = dict(result.extensions)
    return body


def _outcome(result: ExecutionResult) -> str:
    if not result.errors:
        return "ok"
    return "partial" if result.data is not None else "error"
