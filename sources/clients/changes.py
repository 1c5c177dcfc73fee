"""Changes a source is asked to make: sent once and never retried (a lost answer may
still have changed the data); a refusal is read as :class:`SourceRefused`."""

from __future__ import annotations

from collections.abc import Collection
from typing import TypeVar

import msgspec

from sources.clients.http import SourceAnswered, SourceClient
from sources.errors import SOURCE_BAD_RESPONSE, SourceError
from sources.records import ErrorBody

T = TypeVar("T")
CONFLICT = 409


class SourceRefused(SourceError):
    """A source refused a change: ``code`` is its ErrorBody code (ALREADY_SHIPPED,
    TICKET_CLOSED, ...), a user error rather than an outage."""

    def __init__(self, source: str, code: str, message: str) -> None:
        super().__init__(source, code, message, retryable=False)
        self.message = message


async def send_change(
    client: SourceClient,
    path: str,
    body: msgspec.Struct,
    into: type[T],
    *,
    accepted: Collection[int] = (),
    refusals: Collection[int] = (CONFLICT,),
) -> T:
    """``POST path`` once; 200 and ``accepted`` answers decode into ``into``, an ErrorBody
    at a ``refusals`` status raises :class:`SourceRefused`."""
    try:
        return await client.request_json(
            "POST",
            path,
            into,
            body=body,
            idempotent=False,
            accept_statuses=(*accepted, *refusals),
        )
    except SourceAnswered as answer:
        try:
            error = msgspec.json.decode(answer.body, type=ErrorBody)
        except msgspec.DecodeError:
            raise SourceError(
                client.name,
                SOURCE_BAD_RESPONSE,
                f"unreadable {answer.status} answer",
                retryable=False,
            ) from answer
        raise SourceRefused(client.name, error.code, error.message) from None
