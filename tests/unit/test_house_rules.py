"""The house rules, read from the source text (nothing is run): no package imports
upward (gateway → services → resolvers → domain → sources), only the CLI starts the
simulator, the domain is pure, "now" comes from the clock, and tests take their helpers
from tests/support."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from tests.support.imports import imported_modules, syntax_tree

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"gateway": 0, "services": 1, "resolvers": 2, "domain": 3, "sources": 4}


def imports_of(*packages: str) -> list[tuple[str, str]]:
    """(file, module) for every import in the given top-level packages."""
    return [
        (str(path.relative_to(ROOT)), name)
        for package in packages
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in imported_modules(path)
    ]


def test_dependencies_point_one_way():
    upward = [
        f"{path} imports {name}"
        for path, name in imports_of(*LAYERS)
        if LAYERS.get(name.split(".")[0], LAYERS[path.split("/")[0]]) < LAYERS[path.split("/")[0]]
    ]
    assert upward == []


def test_only_the_cli_starts_the_simulator():
    """sim/ is a test and demo double of the sources, not part of the gateway: only the
    CLI imports it, and it takes nothing from the gateway's upper layers."""
    into_sim = [
        f"{path} imports {name}"
        for path, name in imports_of(*LAYERS)
        if name.split(".")[0] == "sim" and path != "gateway/cli.py"
    ]
    sim_reaches_up = [
        f"{path} imports {name}"
        for path, name in imports_of("sim")
        if name.split(".")[0] in {"gateway", "services", "resolvers"}
    ]
    assert into_sim == []
    assert sim_reaches_up == []


def test_domain_imports_only_records_and_the_standard_library():
    """domain/ is pure: the source records and the standard library; no client, no
    cache, no third-party package."""
    foreign = [
        f"{path} imports {name}"
        for path, name in imports_of("domain")
        if name != "sources.records"
        and name.split(".")[0] != "domain"
        and name.split(".")[0] not in sys.stdlib_module_names
    ]
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
    "sources/resilience/throttle.py",  # a source's rate limit resets in real time
    "sim/vendors/access.py",  # and so does a simulated vendor's
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
    for package in [*LAYERS, "sim"]:
        for path in (ROOT / package).rglob("*.py"):
            relative = str(path.relative_to(ROOT))
            if relative in WALL_CLOCK_ALLOWED:
                continue
            for node in ast.walk(syntax_tree(path)):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and (node.func.value.id, node.func.attr) in WALL_CLOCK_CALLS
                ):
                    readers.append(f"{relative}:{node.lineno}")
    assert readers == []


def test_tests_take_their_helpers_from_tests_support():
    """Shared test code lives in tests/support: no test imports from a test module or a
    conftest, so moving or deleting a test never breaks another."""
    from_tests = [
        f"{path} imports {name}"
        for path, name in imports_of("tests")
        if name.split(".")[0] == "tests" and not name.startswith("tests.support")
    ]
    assert from_tests == []
