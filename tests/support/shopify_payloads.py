"""Shared by the Shopify translation tests: a value sent through Shopify's JSON as an
adapter reads it."""

from __future__ import annotations

from typing import Any

import msgspec


def through_json(value: object, into: type[Any]) -> Any:
    """``value`` as the API's JSON text, read back: what an adapter decodes."""
    return msgspec.json.decode(msgspec.json.encode(value), type=into)
