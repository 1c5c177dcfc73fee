"""The simulated vendor APIs, by name: each module has the API's ``SOURCE`` declaration
(which native sources' data it serves) and its ``webhook(dataset, source)`` delivery."""

from __future__ import annotations

from types import ModuleType

from sim.vendors import aftership

VENDOR_APIS: dict[str, ModuleType] = {"aftership": aftership}
VENDORS = {name: api.SOURCE.serves for name, api in VENDOR_APIS.items()}  # -> sources served
