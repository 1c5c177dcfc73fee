"""SKUs as the ``query:`` of Shopify's ``inventoryItems`` (its search syntax: the
filter ``sku``, terms ORed), and back for the simulated Shopify API.

Each SKU is a double-quoted phrase, ``"`` and ``\\`` escaped with a backslash, so a SKU
with spaces, colons or parentheses stays one value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import msgspec

_PHRASE = r'"(?:[^"\\]|\\.)*"'
_QUERY = re.compile(rf"sku:{_PHRASE}(?: OR sku:{_PHRASE})*")
_TERM = re.compile(rf"sku:({_PHRASE})")


def sku_query(skus: Sequence[str]) -> str:
    """``sku:"A" OR sku:"B"``; ``ValueError`` for no SKU (that would list every item)."""
    if not skus:
        raise ValueError("no SKU to look for")
    return " OR ".join(f"sku:{msgspec.json.encode(sku).decode()}" for sku in skus)


def parse_sku_query(query: str) -> list[str]:
    """The SKUs of a query :func:`sku_query` wrote; ``ValueError`` for anything else."""
    if not _QUERY.fullmatch(query.strip()):
        raise ValueError(f'only sku:"…" terms joined by OR are understood: {query!r}')
    return [msgspec.json.decode(phrase.encode(), type=str) for phrase in _TERM.findall(query)]
