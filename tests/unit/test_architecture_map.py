"""docs/architecture.md and DEVELOPERS.md stay true maps: every file or folder they
name exists (in prose, in backticks or in a picture), and every top-level package of
the code has its place in the architecture page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAPS = ("docs/architecture.md", "DEVELOPERS.md")
# A path from the root: a package's name, a slash, then the rest (not part of a longer
# path or a URL); a full stop that ends a sentence is not part of it.
PATH = re.compile(r"(?<![\w/.-])((?:gateway|services|resolvers|domain|sources|sim|tests)/[\w/.]*)")


@pytest.mark.parametrize("page", MAPS)
def test_every_path_the_map_names_exists(page):
    named = {path.rstrip(".") for path in PATH.findall((ROOT / page).read_text())}
    assert named, f"{page} names no path"
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert missing == []


def test_every_package_is_on_the_map():
    page = (ROOT / MAPS[0]).read_text()
    packages = {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in {"tests", "bench"}
    }
    unmapped = sorted(package for package in packages if f"{package}/" not in page)
    assert unmapped == []
