"""The adapters that can serve each source, by name: ``native`` and those a package
registers in the ``ordergraph.adapters`` entry point group (named
``<source>.<adapter>``). Reading names imports no adapter, so settings can check
them without the stack."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

ENTRY_POINT_GROUP = "ordergraph.adapters"
NATIVE = "native"


def adapter_names(source: str) -> list[str]:
    """The adapters that can serve ``source``: native first, then the registered ones."""
    prefix = f"{source}."
    found = {e.name.removeprefix(prefix) for e in registered() if e.name.startswith(prefix)}
    return [NATIVE, *sorted(found - {NATIVE})]


def registered() -> list[EntryPoint]:
    return list(entry_points(group=ENTRY_POINT_GROUP))
