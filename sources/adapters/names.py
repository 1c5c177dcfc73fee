"""The adapters that can serve each source, by name: ``native`` and those a package
registers in the ``ordergraph.adapters`` entry point group (named
``<source>.<adapter>``). Reading names imports no adapter, so settings can check
them without the stack."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

ENTRY_POINT_GROUP = "ordergraph.adapters"
NATIVE = "native"
# The four sources the graph reads, in the order of their default ports (from
# FIRST_SOURCE_PORT on, as the simulated sources serve them).
SOURCE_NAMES = ("oms", "inventory", "carrier", "ticketing")
FIRST_SOURCE_PORT = 8101


def adapter_names(source: str) -> list[str]:
    """The adapters that can serve ``source``: native first, then the registered ones."""
    return adapters_by_source().get(source, [NATIVE])


def adapters_by_source() -> dict[str, list[str]]:
    """:func:`adapter_names` of every source a package registers an adapter for, from
    one scan of the installed packages (a scan takes about 2 ms)."""
    found: dict[str, set[str]] = {}
    for entry in registered():
        source, _, name = entry.name.partition(".")
        found.setdefault(source, set()).add(name)
    return {source: [NATIVE, *sorted(names - {NATIVE})] for source, names in found.items()}


def registered() -> list[EntryPoint]:
    return list(entry_points(group=ENTRY_POINT_GROUP))
