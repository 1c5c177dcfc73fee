"""Changes a source is asked to make: sent once and never retried (a lost answer may
still have changed the data); a refusal is read as :class:`ChangeRefused`.

A change made under :func:`idempotency_key` carries that key as an
``Idempotency-Key`` header (Stripe's convention, which the simulated OMS and ticketing
follow): the source then makes the change once per key and replays its first answer
to every repeat; the same key with another request is refused (422,
``IDEMPOTENCY_KEY_REUSED``), and a repeat while the first still runs too (409,
``IDEMPOTENCY_IN_PROGRESS``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator
from contextvars import ContextVar
from typing import TypeVar

import msgspec

from sources.clients.http import SourceAnswered, SourceClient
from sources.failures import SOURCE_BAD_RESPONSE, SourceError
from sources.records import ErrorBody

T = TypeVar("T")
CONFLICT = 409
UNPROCESSABLE = 422  # the key was used for another request
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
IDEMPOTENCY_IN_PROGRESS = "IDEMPOTENCY_IN_PROGRESS"

_KEY: ContextVar[str | None] = ContextVar("idempotency_key", default=None)


@contextlib.contextmanager
def idempotency_key(key: str | None) -> Iterator[None]:
    """Within the block, every change sent carries ``key`` (``None``: none)."""
    token = _KEY.set(key)
    try:
        yield
    finally:
        _KEY.reset(token)


def idempotency_headers() -> dict[str, str] | None:
    """The header carrying the key :func:`idempotency_key` set, if any."""
    key = _KEY.get()
    return None if key is None else {IDEMPOTENCY_HEADER: key}


class ChangeRefused(SourceError):
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
    at a ``refusals`` status raises :class:`ChangeRefused`. Under
    :func:`idempotency_key` the key is sent, and a 422 is a refusal too."""
    headers = idempotency_headers()
    if headers is not None:
        refusals = (*refusals, UNPROCESSABLE)
    try:
        return await client.request_json(
            "POST",
            path,
            into,
            body=body,
            idempotent=False,
            accept_statuses=(*accepted, *refusals),
            headers=headers,
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
        raise ChangeRefused(client.name, error.code, error.message) from None
