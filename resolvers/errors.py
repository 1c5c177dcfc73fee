"""Errors a client caused, with the stable ``extensions.code`` it can act on."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

BAD_USER_INPUT = "BAD_USER_INPUT"
INVALID_ID = "INVALID_ID"


class UserInputError(GraphQLError):
    """Bad arguments: the client must change its request, retrying will not help."""

    def __init__(self, message: str, *, code: str = BAD_USER_INPUT, field: str | None = None):
        extensions: dict[str, Any] = {"code": code}
        if field is not None:
            extensions["field"] = field
        super().__init__(message, extensions=extensions)
