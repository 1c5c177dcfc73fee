"""ruff and mypy stay clean, and no package imports upward
(gateway → resolvers → domain → sources)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"gateway": 0, "resolvers": 1, "domain": 2, "sources": 3}


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
    ],
    ids=["ruff", "ruff-format", "mypy"],
)
def test_tool_is_clean(command):
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dependencies_point_one_way():
    upward = []
    for package, level in LAYERS.items():
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if LAYERS.get(top, level) < level:
                        upward.append(f"{path.relative_to(ROOT)} imports {name}")
    assert upward == []


# What domain/ may take from sources: the records and the pure modules beside them.
PURE_SOURCES = {"sources.records", "sources.progress"}


def test_domain_imports_only_records_and_the_standard_library():
    """domain/ (and sources/progress.py, which it re-exports) is pure: the source
    records and the standard library; no client, no cache, no third-party package."""
    foreign = []
    paths = [*(ROOT / "domain").rglob("*.py"), ROOT / "sources" / "progress.py"]
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                pure = name in PURE_SOURCES or top == "domain"
                if not pure and top not in sys.stdlib_module_names:
                    foreign.append(f"{path.relative_to(ROOT)} imports {name}")
    assert foreign == []


# Reading the wall clock directly is allowed only where real time is the point (see
# sources/clock.py): key lifetimes, the audit log and webhook signatures.
WALL_CLOCK_ALLOWED = {
    "sources/clock.py",
    "gateway/auth/cli.py",
    "gateway/auth/authenticate.py",
    "gateway/auth/keys.py",
    "gateway/audit.py",
    "sources/webhooks.py",
}
WALL_CLOCK_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("date", "today"),
    ("time", "time"),
}


def test_now_comes_from_the_clock():
    """Rules and services take "now" from the clock object, so tests and demos pin it."""
    readers = []
    for package in LAYERS:
        for path in (ROOT / package).rglob("*.py"):
            relative = str(path.relative_to(ROOT))
            if relative in WALL_CLOCK_ALLOWED:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and (node.func.value.id, node.func.attr) in WALL_CLOCK_CALLS
                ):
                    readers.append(f"{relative}:{node.lineno}")
    assert readers == []
