"""Opaque Relay global ids, ``base64url("<Type>:<part>[:<part>…]")``, connection
cursors, the page cap, and the checks of the arguments that name or bound what the
sources are asked for.

Child objects (a line, a shipment, a ticket) carry their order's id among their
parts, so ``node`` can resolve them through the batched order or ticket loaders.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from resolvers.client_errors import BAD_USER_INPUT, INVALID_ID, UserInputError
from sources.records import MAX_BATCH

# The sources' id grammar (the simulated seed's "ord_123456", "li_1234567", ticket
# "52001"): what the gateway forwards must match it, so a comma, a blank or a 100 KB
# literal never reaches a source (where "a,b,…" would even be read as a batch).
ID_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
ORDER_NUMBER = re.compile(r"[0-9]{1,20}")
MAX_GLOBAL_ID_CHARS = 400  # well above the longest real id (type + three parts of 64)
MAX_CURSOR_CHARS = 400  # a source's opaque cursor, sealed (Shopify's are about 100)
MAX_PAGE = MAX_BATCH  # `first` on every connection, and ids per `nodes`: a page is one batch


# Global ids made lately, by type and parts: a repeated id costs a lookup instead of
# quoting and base64 (about 0.1 against 1.7 µs); full, the cache holds about 1.5 MB.
GLOBAL_ID_CACHE_SIZE = 8192


@functools.lru_cache(maxsize=GLOBAL_ID_CACHE_SIZE)
def to_global_id(type_name: str, *parts: str) -> str:
    return _spelled(type_name, parts)


def _spelled(type_name: str, parts: Iterable[str]) -> str:
    """The one spelling of a global id: unpadded base64url, each part percent-encoded."""
    raw = ":".join((type_name, *(quote(part, safe="") for part in parts)))
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def from_global_id(global_id: str) -> tuple[str, list[str]]:
    """Split a global id into its type name and parts, or raise ``INVALID_ID``; every
    part matches the sources' id grammar (``ID_PART``), and the id is spelled exactly as
    ``to_global_id`` spells it: padding, stray characters or a percent-encoded part
    would give one object many ids, and the gateway compares ids as text."""
    if len(global_id) > MAX_GLOBAL_ID_CHARS:
        raise _invalid(global_id[:40] + "…")
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise _invalid(global_id) from exc
    type_name, _, rest = raw.partition(":")
    if not type_name or not rest:
        raise _invalid(global_id)
    parts = [unquote(part) for part in rest.split(":")]
    if not all(ID_PART.fullmatch(part) for part in parts) or (
        _spelled(type_name, parts) != global_id
    ):
        raise _invalid(global_id)
    return type_name, parts


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


class Cursors:
    """The cursors of one connection: base64url (padded) of ``prefix + raw``. The
    prefix names the connection and its format's version, so a cursor of another
    connection is refused; the timeline's have none (its first cursors, bare event keys,
    predate prefixes: it versions its own text).

    With a ``key``, each cursor also carries an HMAC of ``prefix + raw``: for a
    connection whose raw cursor is a source's, opaque to the gateway (Shopify's are
    its own), which the gateway forwards. Only a cursor the gateway made decodes, so
    a forged one is the caller's BAD_USER_INPUT and never reaches the source."""

    def __init__(self, prefix: str, key: bytes | None = None) -> None:
        self.prefix = prefix
        self._key = key

    def encode(self, raw: str) -> str:
        text = self.prefix + raw
        if self._key is not None:
            text += _SEAL + _seal(self._key, text)
        return base64.urlsafe_b64encode(text.encode()).decode()

    def decode(self, cursor: str) -> str:
        """What ``encode`` was given, or a BAD_USER_INPUT error."""
        if len(cursor) > MAX_CURSOR_CHARS:
            raise bad_cursor()
        try:
            text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
        except (binascii.Error, UnicodeError, ValueError):
            raise bad_cursor() from None
        if self._key is not None:
            text, _, seal = text.rpartition(_SEAL)
            if not hmac.compare_digest(seal, _seal(self._key, text)):
                raise bad_cursor()
        if not text.startswith(self.prefix):
            raise bad_cursor()
        return text.removeprefix(self.prefix)


_SEAL = "."
_SEAL_BYTES = 12  # 96 bits: a forger's chance per try is 2**-96


def _seal(key: bytes, text: str) -> str:
    digest = hmac.digest(key, text.encode(), "sha256")[:_SEAL_BYTES]
    return base64.urlsafe_b64encode(digest).decode()


ORDER_CURSOR_PREFIX = "og2:"  # og1: unsealed, the native OMS's cursors only
_DEV_SEED = b"ordergraph dev mode: no key pepper"


def order_cursors(secret: str | None) -> Cursors:
    """The order list's cursors, sealed with a key derived from ``secret``: the key
    pepper, which every instance of a deployment shares, so any of them takes a cursor
    another made. Without one (dev mode only: outside it every request is refused) the
    seed is public, so a dev mode's workers share it too; the seal then stops mistakes,
    not forgers, and dev mode lets anyone in anyway."""
    seed = secret.encode() if secret else _DEV_SEED
    return Cursors(ORDER_CURSOR_PREFIX, hmac.digest(seed, b"ordergraph order cursors", "sha256"))


def check_first(first: int) -> None:
    """Refuse a page size outside 1 to ``MAX_PAGE`` (BAD_USER_INPUT)."""
    if not 1 <= first <= MAX_PAGE:
        raise UserInputError(f"first must be between 1 and {MAX_PAGE}, not {first}", field="first")


def check_order_number(number: str, field: str = "number") -> str:
    """An order number as the OMS spells it (digits, an optional leading "#" and
    blanks removed), or a BAD_USER_INPUT error."""
    cleaned = number.strip().removeprefix("#")
    if not cleaned:
        raise UserInputError(f"{field} must not be empty", field=field)
    if not ORDER_NUMBER.fullmatch(cleaned):
        raise UserInputError(
            f"{_shown(cleaned)!r} is not an order number: up to 20 digits", field=field
        )
    return cleaned


def check_id(value: str, field: str) -> str:
    """A source's own id (``ID_PART``), as given, or an INVALID_ID error."""
    if not ID_PART.fullmatch(value):
        raise UserInputError(f"{_shown(value)!r} is not a valid id", code=INVALID_ID, field=field)
    return value


def in_utc(moment: datetime | None, field: str) -> datetime | None:
    """``moment`` in UTC (without an offset, it is UTC already), or a BAD_USER_INPUT
    error when UTC cannot hold it (an offset past year 1 or 9999): the sources and the
    vendor adapters compare and write times in UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise UserInputError(
            f"{field} {moment.isoformat()} is outside the years 1 to 9999 in UTC", field=field
        ) from None


def _shown(text: str) -> str:
    """``text`` cut short for an error message: a 100 KB literal is not echoed back."""
    return text if len(text) <= 40 else text[:40] + "…"


def bad_cursor() -> UserInputError:
    return UserInputError(
        "after is not a cursor of this connection", code=BAD_USER_INPUT, field="after"
    )
