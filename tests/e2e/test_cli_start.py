"""``ordergraph`` starts without the gateway's stack: printing a secret or the help, and
refusing a bad setting or flag, import no GraphQL, Redis, HTTP client, tracing or
simulator (a command imports those when it runs); ``serve`` refuses what its start-up
checks refuse before it imports GraphQL. Guards the start-up time without timing
anything."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.support.processes import ROOT

STACK = {"strawberry", "graphql", "redis", "aiohttp", "opentelemetry", "sim"}

# Runs in a fresh interpreter: each call as `ordergraph …` would, with a bad setting.
COMMANDS = """
import contextlib, io, os, sys
from gateway.cli import main

os.environ["OG_OMS_URL"] = "ftp://x"
outcomes = []
for argv in (
    ["keys", "pepper"],
    ["webhooks", "secret"],
    ["serve"],
    ["demo"],
    ["sim"],
    ["--help"],
    ["serve", "--help"],
    ["keys", "create", "--help"],
    ["serve", "--port", "x"],
    ["demo", "--now", "yesterday"],
):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            outcomes.append(main(argv))
        except SystemExit as exit:
            outcomes.append(exit.code)
print(outcomes)
print(*sys.modules)
"""


def test_printing_a_secret_help_or_a_refusal_imports_none_of_the_stack():
    printed = subprocess.run(
        [sys.executable, "-c", COMMANDS], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert ast.literal_eval(printed[0]) == [0, 0, 2, 2, 2, 0, 0, 0, 2, 2]
    assert {name.split(".")[0] for name in printed[1].split()} & STACK == set()


# serve's start-up refusals: no pepper outside dev mode; workers over the memory cache.
REFUSALS = """
import contextlib, io, os, sys
from gateway.cli import main

outcomes = []
for env in ({"OG_KEY_PEPPER": ""}, {"OG_DEV_MODE": "1", "OG_WORKERS": "2"}):
    os.environ.update(env)
    with contextlib.redirect_stderr(io.StringIO()) as stderr:
        outcomes.append((main(["serve"]), stderr.getvalue().split(":")[1].strip()))
print(outcomes)
print(*sys.modules)
"""


def test_serve_refuses_a_start_up_check_before_it_imports_graphql():
    printed = subprocess.run(
        [sys.executable, "-c", REFUSALS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "OG_CACHE_URL": "memory://"},
    ).stdout.splitlines()
    assert ast.literal_eval(printed[0]) == [(2, "OG_KEY_PEPPER"), (2, "OG_WORKERS=2 (--workers)")]
    imported = set(printed[1].split())
    assert {name.split(".")[0] for name in imported} & {"strawberry", "graphql", "sim"} == set()
    assert {"gateway.app", "gateway.server", "resolvers.schema"} & imported == set()


def test_importing_the_command_and_its_settings_imports_none_of_the_stack():
    imported = subprocess.run(
        [sys.executable, "-c", "import sys, gateway.cli, gateway.settings; print(*sys.modules)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert {name.split(".")[0] for name in imported} & STACK == set()
