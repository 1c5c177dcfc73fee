"""What a source file holds and imports, read from its text (nothing is run)."""

from __future__ import annotations

import ast
import functools
from pathlib import Path


@functools.cache
def syntax_tree(path: Path) -> ast.Module:
    """The file parsed, once a process: the house-rule tests each walk every file."""
    return ast.parse(path.read_text())


def imported_modules(path: Path) -> list[str]:
    """The absolute modules one file imports."""
    names = []
    for node in ast.walk(syntax_tree(path)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names
