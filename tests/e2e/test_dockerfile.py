"""The Dockerfile without a Docker daemon: its instructions are read statically and
its health check command is run against a real gateway, on the port OG_PORT names."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib

from tests.support.gateways import RunningGateway
from tests.support.imports import imported_modules
from tests.support.ports import refusing_url
from tests.support.processes import ROOT


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


def test_a_pinned_slim_base_image():
    """An exact Python release on a named Debian release: a rebuild gets the same base."""
    assert re.fullmatch(r"python:3\.1[1-9]\.\d+-slim-bookworm", _last("FROM"))


def _index(instruction: str, containing: str) -> int:
    (index,) = [
        i
        for i, (name, arguments) in enumerate(INSTRUCTIONS)
        if name == instruction and containing in arguments
    ]
    return index


def _runtime_dependencies_command() -> str:
    """The RUN step's command that lists pyproject's runtime dependencies."""
    run = INSTRUCTIONS[_index("RUN", "-r /tmp/runtime.txt")][1]
    listing, _, _ = run.partition(" > /tmp/runtime.txt")
    return listing


def test_the_dependencies_are_a_layer_of_their_own_from_the_lock():
    """Only pyproject.toml and the lock before the dependencies are installed, so a
    change of code does not install them again."""
    copy_manifests = _index("COPY", "requirements.lock")
    assert INSTRUCTIONS[copy_manifests][1] == "pyproject.toml requirements.lock ./"
    install_dependencies = _index("RUN", "-r /tmp/runtime.txt")
    assert (
        "pip install -c requirements.lock -r /tmp/runtime.txt"
        in (INSTRUCTIONS[install_dependencies][1])
    )
    copy_code = _index("COPY", "gateway")
    install_code = _index("RUN", "--no-deps")
    assert copy_manifests < install_dependencies < copy_code < install_code
    assert "pip install --no-deps -c requirements.lock ." in INSTRUCTIONS[install_code][1]
    names = [name for name, _ in INSTRUCTIONS[:install_dependencies]]
    assert names.count("COPY") == 1


def test_copies_every_package_the_command_imports():
    """The image's ``ordergraph`` command finds every first-party package it imports,
    at start or when one of its commands runs (a new top-level package must be copied
    too)."""
    first_party = {path.name for path in ROOT.iterdir() if (path / "__init__.py").is_file()}
    # All gateway/cli.py imports, its commands' too: they import what they need as they run.
    cli_imports = sorted(set(imported_modules(ROOT / "gateway" / "cli.py")))
    script = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    imported = subprocess.run(
        [sys.executable, "-c", script + "print(*sys.modules, sep='\\n')", *cli_imports],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    needed = {name.split(".")[0] for name in imported} & first_party
    copied = {arguments.split()[0] for name, arguments in INSTRUCTIONS if name == "COPY"}
    assert needed - copied == set()
    assert {"gateway", "services", "resolvers", "domain", "sources", "sim"} <= needed


def test_the_listed_dependencies_are_pyprojects_runtime_dependencies():
    listing = shlex.split(_runtime_dependencies_command())
    assert listing[:2] == ["python", "-c"]
    printed = subprocess.run(
        [sys.executable, "-c", listing[2]], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert printed == project["dependencies"]


def test_stops_with_sigterm_and_keeps_its_keys_on_a_volume():
    assert _last("STOPSIGNAL") == "SIGTERM"
    env = dict(re.findall(r"(\w+)=(\S+)", _last("ENV")))
    store = env["OG_KEYS_URL"].removeprefix("file:")
    assert store.startswith(_last("VOLUME") + "/")
    # the non-root user may write there
    assert f"chown ordergraph {_last('VOLUME')}" in INSTRUCTIONS[_index("RUN", "useradd")][1]


def test_secrets_stay_out_of_the_image():
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {".env", ".ordergraph", ".git"} <= set(ignored)


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


async def test_the_healthcheck_asks_healthz_on_og_port(served: RunningGateway):
    assert "/healthz" in shlex.join(_healthcheck())
    port = served.url.rsplit(":", 1)[1]
    assert await _health(port) == 0
    closed, sock = refusing_url()
    with sock:
        assert await _health(closed.rsplit(":", 1)[1]) != 0
    # Without OG_PORT it falls back to 8000, the image's default (ENV OG_PORT=8000).
    assert "'8000'" in _healthcheck()[2]
