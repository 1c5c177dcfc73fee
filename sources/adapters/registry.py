"""Which adapter serves each source: the native REST clients, or one a package
registers in the ``ordergraph.adapters`` entry point group.

An entry point is named ``<source>.<adapter>`` (``oms.shopify``, ``carrier.mine``)
and loads a factory: ``factory(config: SourceConfig) -> adapter``, called inside the
running event loop, once per process. The adapter must satisfy its source's protocol
(:mod:`sources.adapters.protocols`); one that does not is refused at start-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sources.adapters.names import NATIVE, adapter_names, registered
from sources.adapters.protocols import (
    InventoryAdapter,
    OrdersAdapter,
    SourceAdapter,
    TicketsAdapter,
    TrackingAdapter,
)
from sources.clients.carrier import CarrierClient
from sources.clients.inventory import InventoryClient
from sources.clients.oms import OmsClient
from sources.clients.ticketing import TicketingClient
from sources.options import SourceConfig

# Protocol classes (runtime-checkable), which mypy does not take as type[SourceAdapter].
PROTOCOLS: dict[str, Any] = {
    "oms": OrdersAdapter,
    "inventory": InventoryAdapter,
    "carrier": TrackingAdapter,
    "ticketing": TicketsAdapter,
}
Factory = Callable[[SourceConfig], Any]
_NATIVE: dict[str, Factory] = {
    "oms": OmsClient,
    "inventory": InventoryClient,
    "carrier": CarrierClient,
    "ticketing": TicketingClient,
}


class AdapterError(ValueError):
    """An adapter that is not registered, or does not do what its source must."""


def open_adapter(source: str, name: str, config: SourceConfig) -> Any:
    """The adapter ``name`` for ``source``, opened with ``config``; call from inside the
    running event loop."""
    protocol = PROTOCOLS.get(source)
    if protocol is None:
        raise AdapterError(f"no source is called {source!r}")
    if name == NATIVE:
        return _NATIVE[source](config)
    entry = next((e for e in registered() if e.name == f"{source}.{name}"), None)
    if entry is None:
        known = ", ".join(adapter_names(source))
        raise AdapterError(f"no {source} adapter is called {name!r} (known: {known})")
    adapter = entry.load()(config)
    if not isinstance(adapter, protocol):
        raise AdapterError(
            f"the {source} adapter {name!r} ({entry.value}) is not a {protocol.__name__}: "
            f"see docs/adapters.md"
        )
    return adapter


@dataclass(frozen=True, slots=True)
class Upstreams:
    """One adapter, and so one session, per source for the whole process."""

    oms: OrdersAdapter
    inventory: InventoryAdapter
    carrier: TrackingAdapter
    ticketing: TicketsAdapter

    @classmethod
    def open(
        cls,
        oms: SourceConfig,
        inventory: SourceConfig,
        carrier: SourceConfig,
        ticketing: SourceConfig,
        *,
        adapters: Mapping[str, str] | None = None,
    ) -> Upstreams:
        """Open the four adapters (``adapters``: source -> adapter name, native where
        not named); call from inside the running event loop."""
        configs = {"oms": oms, "inventory": inventory, "carrier": carrier, "ticketing": ticketing}
        chosen = adapters or {}
        opened: dict[str, Any] = {}
        try:
            for source, config in configs.items():
                opened[source] = open_adapter(source, chosen.get(source, NATIVE), config)
        except BaseException:
            for adapter in opened.values():
                _close_later(adapter)
            raise
        return cls(**opened)

    def of(self, source: str) -> SourceAdapter | None:
        """The adapter of the source named ``source``; None for no such source."""
        adapter: SourceAdapter | None = getattr(self, source, None) if source in PROTOCOLS else None
        return adapter

    def all(self) -> tuple[SourceAdapter, ...]:
        return (self.oms, self.inventory, self.carrier, self.ticketing)

    async def close(self) -> None:
        for adapter in self.all():
            await adapter.close()


_closing: set[asyncio.Task[None]] = set()  # held until done: the loop keeps weak references


def _close_later(adapter: SourceAdapter) -> None:
    """Close an adapter opened before a later one failed (its session would leak)."""
    task = asyncio.get_running_loop().create_task(adapter.close())
    _closing.add(task)
    task.add_done_callback(_closing.discard)
