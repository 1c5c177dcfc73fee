"""The simulated vendor APIs, by name: each module has the API's ``SOURCE`` declaration
(which native sources' data it serves), its ``webhook(dataset, source)`` delivery, its
vendor's rate limit (``account()``), and the ``CREDENTIAL`` and ``OPTIONS`` a gateway's
adapter reads it with."""

from __future__ import annotations

from types import ModuleType

from sim.vendors import aftership, shopify, zendesk

VENDOR_APIS: dict[str, ModuleType] = {
    "aftership": aftership,
    "zendesk": zendesk,
    "shopify": shopify,
}
VENDORS = {name: api.SOURCE.serves for name, api in VENDOR_APIS.items()}  # -> sources served
