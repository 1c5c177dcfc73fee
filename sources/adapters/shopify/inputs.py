"""Our shipping address as Shopify's ``MailingAddressInput`` (GraphQL Admin API), and
back (for the simulated Shopify API).

Shopify takes a recipient's name as ``firstName`` and ``lastName`` and shows them
joined as ``MailingAddress.name``; ours is one ``name``, split at its last space (a
name without one is all ``lastName``), so that joining gives it back.
"""

from __future__ import annotations

from sources import records
from sources.adapters.shopify import wire


class MailingAddressInput(wire.Wire, frozen=True, kw_only=True):
    """The input fields the adapter sets; a null clears the field, as an address is
    replaced whole."""

    first_name: str | None = None
    last_name: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province_code: str | None = None
    zip: str | None = None
    country_code: str | None = None  # CountryCode, ISO 3166-1 alpha-2
    phone: str | None = None


# Our address's fields as the input's (the name goes apart: module docstring), and
# those of ours that may be empty.
_FIELDS = {
    "line1": "address1",
    "line2": "address2",
    "city": "city",
    "region": "province_code",
    "postal_code": "zip",
    "country_code": "country_code",
    "phone": "phone",
}
_OPTIONAL = frozenset({"line2", "region", "phone"})


def address_input(address: records.MailingAddress) -> MailingAddressInput:
    first, _, last = address.name.rpartition(" ")
    fields = {theirs: getattr(address, ours) for ours, theirs in _FIELDS.items()}
    return MailingAddressInput(first_name=first or None, last_name=last, **fields)


def address_from_input(value: MailingAddressInput) -> records.MailingAddress:
    """Our address of Shopify's input; a field it leaves out is empty."""
    fields = {ours: getattr(value, theirs) for ours, theirs in _FIELDS.items()}
    for required in _FIELDS.keys() - _OPTIONAL:
        fields[required] = fields[required] or ""
    name = " ".join(part for part in (value.first_name, value.last_name) if part)
    return records.MailingAddress(name=name, **fields)
