"""`schema.graphql` is exactly what the code builds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_schema_file_equals_export_schema():
    exported = subprocess.run(
        [sys.executable, "-m", "gateway", "export-schema"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert exported.startswith("type ") or "type Query" in exported
    assert (ROOT / "schema.graphql").read_text() == exported, (
        "schema.graphql is stale: run `ordergraph export-schema > schema.graphql`"
    )
