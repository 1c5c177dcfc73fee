"""Shopify's global ids, ``gid://shopify/<Type>/<legacy id>`` ("Global IDs in Shopify
APIs", shopify.dev/docs/api/usage/gids), and ours.

Ids arrive from callers, so anything that is not one is refused with ``ValueError``.
Legacy ids are numeric at Shopify, but a gid's tail may be any URL-safe token (a Job's
is a UUID), so :func:`gid` and :func:`parse_gid` accept one; a bare legacy id must be
digits. A query string (an InventoryLevel's ``?inventory_item_id=…``) is dropped.

Ids are ours as ``<prefix>_<legacy id>`` (:data:`ID_PREFIXES`, the seed's prefixes):
``gid://shopify/Order/1001`` is ``ord_1001`` and back, so the simulated API serves the
numeric legacy ids Shopify's ``UnsignedInt64`` promises; the seed names its locations
(``loc_us_east``), whose gids then end in a name (``gid://shopify/Location/us_east``).
"""

from __future__ import annotations

import hashlib
import re

PREFIX = "gid://shopify/"
_PATH = r"(?P<type>[A-Z][A-Za-z0-9]*)/(?P<tail>[A-Za-z0-9][A-Za-z0-9_.-]*)"
_PARTS = re.compile(_PATH)
_GID = re.compile(rf"gid://shopify/{_PATH}(?:\?[^\s#/]*)?")
_LEGACY = re.compile(r"[0-9]+")
ID_PREFIXES: dict[str, str] = {
    "Order": "ord",
    "Customer": "cus",
    "LineItem": "li",
    "FulfillmentOrder": "fo",
    "Fulfillment": "shp",
    "Location": "loc",
}


def gid(type_: str, legacy_id: str) -> str:
    """``gid("Order", "123")`` is ``gid://shopify/Order/123``."""
    path = f"{type_}/{legacy_id}"
    if not _PARTS.fullmatch(path):
        raise ValueError(f"not a Shopify type and legacy id: {type_!r}, {legacy_id!r}")
    return PREFIX + path


def parse_gid(value: str) -> tuple[str, str]:
    """The (type, legacy id) of the gid ``value``."""
    match = _GID.fullmatch(value)
    if match is None:
        raise ValueError(f"not a Shopify global id: {value!r}")
    return match["type"], match["tail"]


def to_gid(type_: str, value: str) -> str:
    """The gid of a ``type_`` object given as its gid or as its numeric legacy id."""
    if _LEGACY.fullmatch(value):
        return gid(type_, value)
    found, legacy_id = parse_gid(value)
    if found != type_:
        raise ValueError(f"{value!r} is a {found}, not a {type_}")
    return gid(type_, legacy_id)


def our_id(value: str) -> str:
    """Our id of the Shopify object ``value`` names: ``gid://shopify/Order/1001`` is
    ``ord_1001``; ``ValueError`` for no gid, or one of a type we do not keep."""
    type_, legacy_id = parse_gid(value)
    if type_ not in ID_PREFIXES:
        raise ValueError(f"no record of ours is a Shopify {type_}")
    return f"{ID_PREFIXES[type_]}_{legacy_id}"


def shopify_gid(type_: str, value: str) -> str:
    """The gid of a ``type_`` object a caller names by our id (``ord_1001``), its gid or
    its numeric legacy id; ``ValueError`` for anything else."""
    prefix = f"{ID_PREFIXES[type_]}_"
    if value.startswith(prefix):
        return gid(type_, value.removeprefix(prefix))
    return to_gid(type_, value)


def item_gid(sku: str) -> str:
    """The simulated API's inventory item gid of ``sku``: a stable number drawn from it
    (our items are known by SKU alone; Shopify's by a numeric id)."""
    digest = hashlib.blake2b(sku.encode(), digest_size=6).digest()
    return gid("InventoryItem", str(int.from_bytes(digest, "big")))
