"""The Dockerfile without a Docker daemon: its instructions are read statically and
its health check command is run against a real gateway, on the port OG_PORT names."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import sys

from tests.conftest import RunningGateway
from tests.ports import refusing_url
from tests.processes import ROOT


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.strip().partition(" ") for line in joined.splitlines())
        if word
    ]


INSTRUCTIONS = _instructions()


def _last(name: str) -> str:
    return [arguments for instruction, arguments in INSTRUCTIONS if instruction == name][-1]


def _healthcheck() -> list[str]:
    """The HEALTHCHECK's command, in exec form."""
    options, _, command = _last("HEALTHCHECK").partition("CMD ")
    assert "--timeout=" in options
    argv: list[str] = json.loads(command)
    return argv


def test_slim_base_image():
    assert re.fullmatch(r"python:3\.1[1-9]-slim", _last("FROM"))


def test_runs_as_a_non_root_user_after_installing():
    names = [instruction for instruction, _ in INSTRUCTIONS]
    user = _last("USER")
    assert user not in ("root", "0") and not user.startswith(("root:", "0:"))
    assert names.index("USER") > max(i for i, name in enumerate(names) if name == "RUN")


def test_the_container_runs_ordergraph_serve():
    assert json.loads(_last("CMD")) == ["ordergraph", "serve"]
    env = dict(re.findall(r"(\w+)=(\S+)", _last("ENV")))
    assert env["OG_HOST"] == "0.0.0.0" and env["OG_PORT"] == "8000"


async def _health(port: str) -> int:
    """The health check's exit status in a container whose OG_PORT is ``port``."""
    argv = _healthcheck()
    assert argv[0] == "python"
    environ = {**os.environ, "OG_PORT": port}
    process = await asyncio.create_subprocess_exec(sys.executable, *argv[1:], env=environ)
    return await asyncio.wait_for(process.wait(), timeout=30)


async def test_the_healthcheck_asks_healthz_on_og_port(gateway: RunningGateway):
    assert "/healthz" in shlex.join(_healthcheck())
    port = gateway.url.rsplit(":", 1)[1]
    assert await _health(port) == 0
    closed, sock = refusing_url()
    with sock:
        assert await _health(closed.rsplit(":", 1)[1]) != 0
    # Without OG_PORT it falls back to 8000, the image's default (ENV OG_PORT=8000).
    assert "'8000'" in _healthcheck()[2]
