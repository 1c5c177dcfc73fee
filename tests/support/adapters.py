"""A third-party adapter package, installed for real: a module and its
``.dist-info`` (``entry_points.txt`` in the ``ordergraph.adapters`` group) in a folder
put on ``sys.path``, which ``importlib.metadata`` finds as it finds any installed
distribution."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MODULE = "og_test_adapters"

_SOURCE = '''
"""Adapters of a package that is not OrderGraph: a carrier adapter that speaks the
native contract and counts its batch reads, and one that is no adapter at all."""

from sources.clients.carrier import CarrierClient


class CountingCarrier(CarrierClient):
    reads = 0

    async def trackings(self, numbers):
        CountingCarrier.reads += 1
        return await super().trackings(numbers)


def not_an_adapter(config):
    return object()
'''

ENTRY_POINTS = {
    "carrier.counting": f"{MODULE}:CountingCarrier",
    "oms.broken": f"{MODULE}:not_an_adapter",
}


@contextmanager
def installed_adapters(folder: Path) -> Iterator[None]:
    """The package installed under ``folder`` until the block ends."""
    (folder / f"{MODULE}.py").write_text(_SOURCE)
    info = folder / f"{MODULE}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {MODULE}\nVersion: 1.0\n")
    lines = [f"{name} = {target}" for name, target in ENTRY_POINTS.items()]
    (info / "entry_points.txt").write_text("[ordergraph.adapters]\n" + "\n".join(lines) + "\n")
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop(MODULE, None)
