"""docs/architecture.md stays a true map: every file or folder it names exists, and
every top-level package of the code has its place in it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "architecture.md").read_text()


def test_every_path_the_map_names_exists():
    named = set(
        re.findall(r"`((?:gateway|services|resolvers|domain|sources|sim|tests)/[\w/.]*)`", PAGE)
    )
    assert named, "the map names no path"
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert missing == []


def test_every_package_is_on_the_map():
    packages = {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in {"tests", "bench"}
    }
    unmapped = sorted(package for package in packages if f"{package}/" not in PAGE)
    assert unmapped == []
