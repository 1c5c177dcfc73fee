"""The unit tier is pure: a test here that opens a socket, starts a process or asks for a
temporary folder to write in fails."""

from __future__ import annotations

import socket
import subprocess
from typing import Any, NoReturn

import pytest


def _refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise AssertionError("a unit test does no I/O: move it to tests/integration or tests/e2e")


@pytest.fixture(autouse=True)
def no_network_or_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket.socket, "bind", _refuse)
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse)


@pytest.fixture
def tmp_path() -> NoReturn:
    """Files are I/O too: a test that writes one belongs in tests/integration."""
    _refuse()


@pytest.fixture
def tmp_path_factory() -> NoReturn:
    _refuse()
