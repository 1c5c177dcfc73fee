"""How pytest-xdist spreads the suite over its workers.

A module that defines a module-scoped fixture (sources of its own, a demo process, the
production walkthrough's stack) runs on one worker: spread over several, each worker
would start its own copy. Every other test is scheduled on its own, for balance.

(pytest-xdist's own ``--dist loadgroup`` would do this from ``xdist_group`` marks, but
under pytest 9 its worker-side renaming of node ids has no effect, so the groups are
lost; a scheduler that splits the scopes itself does not depend on it.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling


def defines_module_fixture(path: Path) -> bool:
    """Whether the module at ``path`` declares a fixture with ``scope="module"``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and any(
            keyword.arg == "scope"
            and isinstance(keyword.value, ast.Constant)
            and keyword.value.value == "module"
            for keyword in node.keywords
        ):
            return True
    return False


class ModuleGroups(LoadScopeScheduling):
    """Load scheduling where a module with module-scoped fixtures is one scope."""

    def __init__(self, config: pytest.Config, log: object = None) -> None:
        super().__init__(config, log)  # type: ignore[arg-type]
        root = config.rootpath
        self.grouped = {
            path.relative_to(root).as_posix()
            for path in (root / "tests").rglob("test_*.py")
            if defines_module_fixture(path)
        }

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        return module if module in self.grouped else nodeid
