"""A bad config file stops ``ordergraph serve`` before it binds, with the setting named."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("config", "error"),
    [
        (
            "[sources.carrier]\nbatch_size = 500\n",
            "invalid setting OG_CARRIER_BATCH_SIZE (sources.carrier.batch_size): "
            "Expected `int` <= 100",
        ),
        ('sources = "x"\n', "invalid settings in [sources]: expected a table, got str"),
        ("[sources]\noms = 3\n", "invalid settings in [sources.oms]: expected a table, got int"),
    ],
)
def test_the_gateway_refuses_to_start_on_a_bad_config(tmp_path, config, error):
    path = tmp_path / "og.toml"
    path.write_text(config)
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve"],
        env={**os.environ, "OG_CONFIG": str(path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"ordergraph: {error}"
