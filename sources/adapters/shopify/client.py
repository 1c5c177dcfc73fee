"""The one call path of the Shopify adapters: ``POST admin/api/<version>/graphql.json``
through :class:`~sources.clients.http.SourceClient` (deadline, bulkhead, breaker,
retries of reads, telemetry), paced by Shopify's calculated query cost.

Every answer's ``extensions.cost`` is read (:mod:`.cost`). A query is held back until
the bucket holds what it is expected to cost (background work: that and half the
bucket besides, left to requests); a THROTTLED answer (HTTP 200, the error
code THROTTLED) is back-pressure like a 429: every call waits until the bucket holds
the refused cost again and the query is sent again within the request's deadline
(a mutation too: a throttled one did not run), never a breaker failure. A batch
that costs more than one query may (MAX_COST_EXCEEDED) is asked again in smaller
calls (:meth:`ShopifyClient.in_calls`), never a breaker failure either. Variables
Shopify's schema does not take (INVALID_VARIABLE) carry the caller's input: refused
as a 4xx is (:class:`SourceRejected`), never a breaker failure. Any other error of
the whole request (no ``path``: a query Shopify refused, ACCESS_DENIED,
INTERNAL_SERVER_ERROR) is a bad response, a failed call; errors of one place in
``data`` (with a ``path``) are a partial answer, for the caller.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

import aiohttp
import msgspec

from sources.adapters.shopify import wire
from sources.adapters.shopify.cost import CostBucket, throttled_wait_s
from sources.adapters.shopify.queries import DOCUMENTS, PING
from sources.clients.http import (
    MAX_THROTTLE_WAIT_S,
    SourceAnswered,
    SourceClient,
    SourceRejected,
)
from sources.failures import SOURCE_BAD_RESPONSE, SourceError
from sources.options import SourceConfig
from sources.resilience import deadline

log = logging.getLogger("ordergraph.sources")

T = TypeVar("T")
R = TypeVar("R")
K = TypeVar("K")
API_VERSION_OPTION = "api_version"  # OG_<SOURCE>_OPTIONS=api_version=2026-04
TOKEN_HEADER = "X-Shopify-Access-Token"
_VERSION = re.compile(r"[0-9]{4}-[0-9]{2}|unstable")


class Problem(wire.GraphQLError, frozen=True, kw_only=True):
    """A GraphQL error and where in ``data`` it struck (None: the whole request)."""

    path: list[str | int] | None = None


class Answer(wire.Wire, Generic[T], frozen=True, kw_only=True):
    """Every answer (:class:`~.wire.Envelope`, its errors read with their path)."""

    data: T | None = None
    errors: list[Problem] = []
    extensions: wire.Extensions | None = None

    @property
    def cost(self) -> wire.Cost | None:
        return None if self.extensions is None else self.extensions.cost


class TooCostly(SourceAnswered):
    """MAX_COST_EXCEEDED: the shop is healthy and said this query costs more than one
    query may (``refused`` says how much, when the shop says). Never a breaker failure
    or a retry: the same query would cost as much again."""

    def __init__(self, source: str, refused: wire.ErrorExtensions) -> None:
        message = "answered that the query costs more than one query may (MAX_COST_EXCEEDED)"
        SourceError.__init__(self, source, SOURCE_BAD_RESPONSE, message, retryable=False)
        self.status, self.body = 200, b""
        self.refused = refused


def refuses_variables(problem: wire.GraphQLError) -> bool:
    """Whether an error of the whole request is Shopify refusing a variable's value:
    INVALID_VARIABLE, or graphql-ruby's ``problems`` without a code."""
    found = problem.extensions
    return found is not None and (found.code == wire.INVALID_VARIABLE or bool(found.problems))


class Nodes(wire.Wire, frozen=True, kw_only=True):
    nodes: list[msgspec.Raw]  # one a gid asked, null for an unknown one: read one by one


NULL = msgspec.Raw(b"null")  # the node of a gid Shopify does not know


def struck(problems: list[Problem], field: str) -> set[int]:
    """The positions in the list ``field`` of ``data`` that errors struck."""
    return {
        p.path[1]
        for p in problems
        if p.path and len(p.path) > 1 and p.path[0] == field and isinstance(p.path[1], int)
    }


class ShopifyClient(SourceClient):
    """One source (the OMS or inventory) served by one shop's Admin GraphQL API.

    ``credential`` is the app's Admin API access token (sent as
    ``X-Shopify-Access-Token``); the option ``api_version`` names the API version
    (default :data:`~.wire.API_VERSION`, the one the shapes were checked against)."""

    def __init__(self, config: SourceConfig) -> None:
        if not config.credential:
            raise ValueError(
                f"the shopify adapter needs an Admin API access token: "
                f"OG_{self.name.upper()}_CREDENTIAL"
            )
        version = config.options.get(API_VERSION_OPTION, wire.API_VERSION)
        if not _VERSION.fullmatch(version):
            raise ValueError(f"not a Shopify API version: {version!r} (e.g. {wire.API_VERSION})")
        super().__init__(config)
        self.batch_size = min(config.batch_size, wire.MAX_IDS)
        self.auth_headers = {TOKEN_HEADER: config.credential}
        self.path = f"admin/api/{version}/graphql.json"
        self._bucket = CostBucket()

    async def ping(self) -> bool:
        """Whether the shop answers a query for its name (Shopify has no health
        endpoint); a throttled answer is an answer."""
        body = msgspec.json.encode({"query": PING})
        headers = {**self.auth_headers, "Content-Type": "application/json"}
        try:
            async with self._session.post(self.path, data=body, headers=headers) as resp:
                return resp.status == 200
        except (TimeoutError, aiohttp.ClientError, OSError):
            return False

    async def graphql(
        self,
        operation: str,
        variables: Mapping[str, object],
        into: type[Answer[T]],
        *,
        keys: int = 1,
        write: bool = False,
    ) -> tuple[T, list[Problem]]:
        """Run ``operation`` (a name in :data:`~.queries.DOCUMENTS`) for ``keys`` keys
        and answer its ``data`` and the errors of places in it. Only reads are retried
        (``write``: a mutation, never retried, though a throttled one is sent again)."""
        background = deadline.in_background()
        wait_s = self._bucket.wait_s(operation, keys, background=background)
        if wait_s > 0 and background:  # it waits alone, leaving the rest to requests
            await asyncio.sleep(min(wait_s, MAX_THROTTLE_WAIT_S))
        elif wait_s > 0:  # not enough in the bucket yet: held, as after a 429
            self._pacer.hold(wait_s)
        body = {"query": DOCUMENTS[operation], "operationName": operation, "variables": variables}
        answer = await self.request_json(
            "POST", self.path, into, body=body, idempotent=not write, batch_size=keys
        )
        if answer.cost is not None:
            self._bucket.learn(operation, keys, answer.cost)
        if answer.data is None:
            raise self.bad_response("answered no data")
        return answer.data, answer.errors

    async def nodes(self, operation: str, gids: Mapping[K, str]) -> dict[K, msgspec.Raw]:
        """One ``nodes(ids:)`` call of ``operation`` for the ``gids``: each key's node
        as Shopify answered it (:data:`NULL` for one it does not know); a key whose node
        an error struck is left out (null, but not "not found")."""
        variables = {"ids": list(gids.values())}
        data, problems = await self.graphql(operation, variables, Answer[Nodes], keys=len(gids))
        if len(data.nodes) != len(gids):
            raise self.bad_response(f"answered {len(data.nodes)} nodes for {len(gids)} ids")
        failed = struck(problems, "nodes")
        answered = zip(gids, data.nodes, strict=True)
        return {key: raw for index, (key, raw) in enumerate(answered) if index not in failed}

    async def page_of(
        self,
        operation: str,
        first: int,
        variables: Callable[[int], Mapping[str, object]],
        into: type[Answer[T]],
    ) -> T:
        """One page of ``operation``, of ``first`` nodes or fewer: as many as the most
        one query may cost allows (a page the shop refuses as too costly is asked again,
        sized by what the shop said it would cost)."""
        first = self._bucket.keys_per_call(operation, first)
        while True:
            try:
                return (await self.graphql(operation, variables(first), into, keys=first))[0]
            except TooCostly as exc:
                if first == 1:
                    raise
                self._bucket.too_costly(operation, first, exc.refused)
                first = self._bucket.keys_per_call(operation, first)

    async def in_calls(
        self,
        operation: str,
        keys: list[K],
        read: Callable[[list[K]], Awaitable[dict[K, R]]],
    ) -> dict[K, R]:
        """``read`` the ``keys`` in as few concurrent calls of ``operation`` as the most
        one query may cost allows (:meth:`~.cost.CostBucket.keys_per_call`). A call the
        shop refuses as too costly is asked again in calls sized by what it said the
        call would cost; a key too costly on its own is left out (an error for that
        key alone)."""

        async def fitted(part: list[K]) -> dict[K, R]:
            try:
                return await read(part)
            except TooCostly as exc:
                self._bucket.too_costly(operation, len(part), exc.refused)
                if len(part) > 1:
                    return await self.in_calls(operation, part, read)
                log.warning("%s: one key costs more than one %s query may", self.name, operation)
                return {}

        size = self._bucket.keys_per_call(operation, len(keys))
        parts = [keys[start : start + size] for start in range(0, len(keys), size)]
        found: dict[K, R] = {}
        for answered in await asyncio.gather(*(fitted(part) for part in parts)):
            found.update(answered)
        return found

    async def find(
        self,
        operation: str,
        asked: list[str],
        query: Callable[[list[str]], str],
        into: type[Answer[T]],
        page: Callable[[T], tuple[list[msgspec.Raw], bool]],
        read: Callable[[msgspec.Raw], tuple[str, R] | None],
    ) -> dict[str, R | None]:
        """Search for the ``asked`` keys, a page of as many nodes a call (as many calls
        as the most one query may cost asks, :meth:`in_calls`): each key's record as
        ``read`` keys the nodes (the first of a key counts); None for a key the page
        does not hold, unless it may not hold every match (``page`` says there is more,
        or a node could not be read): such a key is left out, not called unknown."""

        async def search(keys: list[str]) -> dict[str, R | None]:
            variables = {"first": len(keys), "query": query(keys)}
            nodes, more = page((await self.graphql(operation, variables, into, keys=len(keys)))[0])
            found: dict[str, R] = {}
            complete = not more
            for node in nodes:
                keyed = read(node)
                if keyed is None:
                    complete = False
                else:
                    found.setdefault(*keyed)
            return {key: found.get(key) for key in keys if key in found or complete}

        return await self.in_calls(operation, asked, search) if asked else {}

    def throttled_s(self, answer: Any) -> float | None:
        """Read the cost of every answer; a THROTTLED one asks to wait until the bucket
        holds the refused cost again; refused variables are the caller's error; any
        other error of the whole request fails the call."""
        if not isinstance(answer, Answer):
            return None
        if answer.cost is not None:
            self._bucket.observe(answer.cost)
        wait_s = throttled_wait_s(answer.errors, answer.cost)
        whole = [p for p in answer.errors if not p.path]
        for problem in whole:
            if problem.extensions and problem.extensions.code == wire.MAX_COST_EXCEEDED:
                raise TooCostly(self.name, problem.extensions)
        if wait_s is None and any(refuses_variables(p) for p in whole):
            log.info("%s: Shopify refused the variables: %s", self.name, [p.message for p in whole])
            raise SourceRejected(self.name, 200, wire.INVALID_VARIABLE)
        if wait_s is None and whole:
            codes = sorted({(p.extensions and p.extensions.code) or "no code" for p in whole})
            log.warning("%s: Shopify answered %s", self.name, [p.message for p in whole])
            raise self.bad_response(f"answered GraphQL errors ({', '.join(codes)})")
        return wait_s
