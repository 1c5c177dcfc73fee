"""Failures of an upstream source, named by what a caller can do about them."""

from __future__ import annotations

SOURCE_TIMEOUT = "SOURCE_TIMEOUT"
SOURCE_UNAVAILABLE = "SOURCE_UNAVAILABLE"
SOURCE_BAD_RESPONSE = "SOURCE_BAD_RESPONSE"
CIRCUIT_OPEN = "CIRCUIT_OPEN"
# A source's refusals of the caller's input, under the codes the gateway answers them
# with (resolvers/client_errors.py takes them from here): never failures of the source.
BAD_USER_INPUT = "BAD_USER_INPUT"
NOT_FOUND = "NOT_FOUND"


class SourceError(Exception):
    """An upstream call that gave no usable answer.

    ``code`` is one of the module's constants and becomes the GraphQL error's
    ``extensions.code``; ``retryable`` tells the caller whether the same read may
    succeed later; ``transient`` marks the failures the gateway itself retries at once
    (connection errors, 429, 502, 503, 504), never timeouts.
    """

    def __init__(
        self, source: str, code: str, message: str, *, retryable: bool, transient: bool = False
    ) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.code = code
        self.retryable = retryable
        self.transient = transient
