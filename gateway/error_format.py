"""How errors leave the gateway: every error has a stable ``extensions.code``;
unexpected ones are masked to a message and a correlation id (details in the log)."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError, ValueNode

from sources.failures import BAD_USER_INPUT, SourceError

log = logging.getLogger("ordergraph.errors")

INTERNAL_ERROR = "INTERNAL_SERVER_ERROR"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
_SUGGESTION = re.compile(r" Did you mean [^?]*\?")  # graphql-core's did_you_mean()


def format_error(error: GraphQLError, *, suggestions: bool) -> dict[str, Any]:
    """The error as sent; without ``suggestions`` a validation message loses its
    "Did you mean …?" (it names fields, arguments, types and enum values: the schema
    introspection would show). Stripped here, on the way out, never on the error
    itself: validation results are cached and shared by every caller."""
    formatted: dict[str, Any] = dict(error.formatted)
    if not suggestions and " Did you mean " in error.message:
        formatted["message"] = _SUGGESTION.sub("", error.message)
    original = error.original_error
    if isinstance(original, SourceError):
        formatted["extensions"] = {
            "code": original.code,
            "source": original.source,
            "retryable": original.retryable,
        }
    elif original is not None and not isinstance(original, GraphQLError):
        correlation_id = uuid.uuid4().hex
        log.error(
            "unexpected error at %s [%s]",
            error.path,
            correlation_id,
            exc_info=(type(original), original, original.__traceback__),
        )
        formatted["message"] = "Internal error."
        formatted["extensions"] = {"code": INTERNAL_ERROR, "correlationId": correlation_id}
    elif not (error.extensions or {}).get("code"):
        code = PARSE_FAILED if isinstance(error, GraphQLSyntaxError) else VALIDATION_FAILED
        if error.path is not None:  # an execution error without a code of its own: a
            # bug, unless graphql-core refused an argument's value as it ran (it points
            # at the value: a null variable in a non-null place, where a default stood)
            code = BAD_USER_INPUT if _at_values(error) else INTERNAL_ERROR
        formatted["extensions"] = {**(error.extensions or {}), "code": code}
    return formatted


def _at_values(error: GraphQLError) -> bool:
    return bool(error.nodes) and all(isinstance(node, ValueNode) for node in error.nodes or ())


def in_answer_order(errors: Sequence[GraphQLError], data: Any) -> list[GraphQLError]:
    """``errors`` in the order of the positions they point at in ``data`` (errors
    without a path first; a position's own error before those under it; ties keep
    their order). An answer then lists its errors the same way whichever source
    answered first and whichever executor built it."""
    if len(errors) < 2:
        return list(errors)
    indexes: dict[int, dict[str, int]] = {}  # per answer object: key -> its position

    def position(error: GraphQLError) -> tuple[int, ...]:
        found: list[int] = []
        node = data
        for key in error.path or ():
            if isinstance(key, int):
                found.append(key)
                node = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
            elif isinstance(node, dict):
                index = indexes.get(id(node))
                if index is None:
                    index = indexes[id(node)] = {k: i for i, k in enumerate(node)}
                found.append(index.get(key, len(index)))
                node = node.get(key)
            else:
                break  # under a position nulled by this error, or another's
        return tuple(found)

    return sorted(errors, key=position)
