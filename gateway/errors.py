"""How errors leave the gateway: every error has a stable ``extensions.code``;
unexpected ones are masked to a message and a correlation id (details in the log)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError

from sources.errors import SourceError

log = logging.getLogger("ordergraph.errors")

INTERNAL_ERROR = "INTERNAL_SERVER_ERROR"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


def format_error(error: GraphQLError) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
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
        if error.path is not None:
            code = INTERNAL_ERROR  # an execution error without a code of its own
        formatted["extensions"] = {**(error.extensions or {}), "code": code}
    return formatted
