"""The seeded data set is the same in every process, whatever the hash seed."""

from __future__ import annotations

import subprocess
import sys

from tests.support.gateways import FIXED_NOW
from tests.support.processes import ROOT


def test_identical_across_processes() -> None:
    """Hash randomisation must not change the data set or the documents."""
    code = (
        "import hashlib, datetime as d; from sim.seed import generate; "
        f"print(hashlib.sha256(generate(now=d.datetime.fromisoformat({FIXED_NOW.isoformat()!r}))"
        ".encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1
