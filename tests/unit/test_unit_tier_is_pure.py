"""The unit tier's guard (tests/unit/conftest.py) holds: no socket, no process, no file."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest


def test_a_unit_test_cannot_connect_or_listen() -> None:
    with socket.socket() as sock:
        with pytest.raises(AssertionError, match="does no I/O"):
            sock.connect(("127.0.0.1", 9))
        with pytest.raises(AssertionError, match="does no I/O"):
            sock.bind(("127.0.0.1", 0))


def test_a_unit_test_cannot_start_a_process() -> None:
    with pytest.raises(AssertionError, match="does no I/O"):
        subprocess.run([sys.executable, "-c", "pass"], check=False)


@pytest.mark.parametrize("folder", ["tmp_path", "tmp_path_factory"])
def test_a_unit_test_gets_no_folder_to_write_in(request: pytest.FixtureRequest, folder) -> None:
    with pytest.raises(AssertionError, match="does no I/O"):
        request.getfixturevalue(folder)
