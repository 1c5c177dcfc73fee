"""Opaque Relay global ids, ``base64url("<Type>:<part>[:<part>…]")``, and cursors.

Child objects (a line, a shipment, a ticket) carry their order's id among their
parts, so ``node`` can resolve them through the batched order or ticket loaders.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import quote, unquote

from resolvers.errors import BAD_USER_INPUT, INVALID_ID, UserInputError


def to_global_id(type_name: str, *parts: str) -> str:
    raw = ":".join((type_name, *(quote(part, safe="") for part in parts)))
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def from_global_id(global_id: str) -> tuple[str, list[str]]:
    """Split a global id into its type name and parts, or raise ``INVALID_ID``."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise _invalid(global_id) from exc
    type_name, _, rest = raw.partition(":")
    if not type_name or not rest:
        raise _invalid(global_id)
    return type_name, [unquote(part) for part in rest.split(":")]


def expect_global_id(global_id: str, type_name: str, parts: int) -> list[str]:
    """The parts of a global id that must name a ``type_name``."""
    found, found_parts = from_global_id(global_id)
    if found != type_name or len(found_parts) != parts:
        raise UserInputError(
            f"{global_id!r} is not the id of a {type_name}", code=INVALID_ID, field="id"
        )
    return found_parts


def _invalid(global_id: str) -> UserInputError:
    return UserInputError(f"{global_id!r} is not a valid id", code=INVALID_ID, field="id")


def encode_cursor(raw: str, prefix: str) -> str:
    """An opaque cursor for ``raw``; ``prefix`` names the connection (and its version)."""
    return base64.urlsafe_b64encode((prefix + raw).encode()).decode()


def decode_cursor(cursor: str, prefix: str) -> str:
    """What ``encode_cursor(raw, prefix)`` was given, or a BAD_USER_INPUT error."""
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raw = ""
    if not raw.startswith(prefix):
        raise UserInputError(
            "after is not a cursor of this connection", code=BAD_USER_INPUT, field="after"
        )
    return raw.removeprefix(prefix)
