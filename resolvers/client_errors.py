"""Errors a client caused, with the stable ``extensions.code`` it can act on."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from sources.failures import BAD_USER_INPUT, NOT_FOUND  # a source's refusals say them too

__all__ = ["BAD_USER_INPUT", "INVALID_ID", "NOT_FOUND", "UNAUTHORIZED_FIELD", "UserInputError"]

INVALID_ID = "INVALID_ID"
UNAUTHORIZED_FIELD = "UNAUTHORIZED_FIELD"


class UserInputError(GraphQLError):
    """A request the graph will not answer as asked (bad arguments, an object that is
    not there, a field out of the caller's scopes): retrying will not help."""

    def __init__(self, message: str, *, code: str = BAD_USER_INPUT, field: str | None = None):
        extensions: dict[str, Any] = {"code": code}
        if field is not None:
            extensions["field"] = field
        super().__init__(message, extensions=extensions)
