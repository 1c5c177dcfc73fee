"""Failures of an upstream source, named by what a caller can do about them."""

from __future__ import annotations

SOURCE_TIMEOUT = "SOURCE_TIMEOUT"
SOURCE_UNAVAILABLE = "SOURCE_UNAVAILABLE"
SOURCE_BAD_RESPONSE = "SOURCE_BAD_RESPONSE"


class SourceError(Exception):
    """An upstream call that gave no usable answer.

    ``code`` is one of the module's constants and becomes the GraphQL error's
    ``extensions.code``; ``retryable`` says whether the same read may succeed later.
    """

    def __init__(self, source: str, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.code = code
        self.retryable = retryable
