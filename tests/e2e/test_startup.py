"""``ordergraph serve`` run as a user runs it refuses, before it binds its port, what
cannot work: exit status 2 and one line on stderr naming the setting."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis
from standardwebhooks import Webhook

from gateway.auth.pepper import pepper_problem
from sim.cluster import SimCluster
from sources.webhooks import generate_secret, secret_problem
from tests.support.ports import free_port_block, free_socket
from tests.support.processes import QUIET, ordergraph
from tests.support.redis_server import RedisServer
from tests.support.serving import wait_ready

ROOT = Path(__file__).resolve().parents[2]
PEPPER = "a-test-pepper-of-forty-bytes-or-so-12345"
SECRET = generate_secret()
REDIS_PASSWORD = "hunter2-of-the-redis-user"
MARGIN_S = 8.0  # an interpreter starting and importing the gateway on a busy machine


@dataclass
class Exited:
    returncode: int
    stdout: str
    stderr: str
    elapsed_s: float


def _environ(tmp_path: Path, **values: str | None) -> dict[str, str]:
    """The process environment without any OG_* of the caller's, a usable pepper, a
    key file under ``tmp_path``, one worker and a free port, then ``values`` (None:
    unset)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("OG_")}
    port = free_port_block(1)  # not an ephemeral port another connection may take
    env |= {
        "OG_PORT": str(port),
        "OG_KEY_PEPPER": PEPPER,
        "OG_KEYS_URL": f"file:{tmp_path}/keys.json",
        "OG_EXCEPTION_QUEUE": "false",
        "OG_SHUTDOWN_DRAIN_MS": "0",
        "OG_WORKERS": "1",  # over Redis the default is one a core: tests/e2e/test_workers.py
        **QUIET,
        "PYTHONUNBUFFERED": "1",
    }
    for name, value in values.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


async def _start(*args: str, env: Mapping[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "gateway", *args),
        cwd=ROOT,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _run(*args: str, env: Mapping[str, str], timeout_s: float = 60.0) -> Exited:
    started = time.monotonic()
    process = await _start(*args, env=env)
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"ordergraph {' '.join(args)} still ran after {timeout_s} s") from None
    assert process.returncode is not None
    return Exited(process.returncode, stdout.decode(), stderr.decode(), time.monotonic() - started)


def _refused(result: Exited, variable: str) -> str:
    """The one line ``result`` printed on stderr, having exited 2 naming ``variable``."""
    assert result.returncode == 2, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ordergraph: ") and variable in lines[0], lines[0]
    return lines[0]


@contextlib.asynccontextmanager
async def _serving(env: Mapping[str, str]) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """``ordergraph serve`` until ready (every source answered), stopped at the end."""
    process = await _start("serve", env=env)
    url = f"http://127.0.0.1:{env['OG_PORT']}"
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, url, process)
            yield url, session
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.communicate(), 15)


def _sources(sim: SimCluster) -> dict[str, str]:
    return {f"OG_{name.upper()}_URL": url for name, url in sim.urls.items()}


def _typo(secret: str) -> str:
    return secret[:-6] + "!" + secret[-5:]


REFUSED: list[tuple[str, dict[str, str | None]]] = [
    ("OG_KEY_PEPPER", {"OG_KEY_PEPPER": None}),
    ("OG_KEY_PEPPER", {"OG_KEY_PEPPER": ""}),
    ("OG_KEY_PEPPER", {"OG_KEY_PEPPER": "p" * 31}),
    ("OG_WEBHOOK_SECRETS", {"OG_WEBHOOK_SECRETS": "whsec_a"}),
    ("OG_WEBHOOK_SECRETS", {"OG_WEBHOOK_SECRETS": f"{SECRET},{_typo(SECRET)}"}),
    ("OG_WEBHOOK_SECRETS", {"OG_WEBHOOK_SECRETS": SECRET.removeprefix("whsec_")}),
    ("OG_WEBHOOK_SECRETS", {"OG_WEBHOOK_SECRETS": "whsec_c2hvcnQ="}),
    ("OG_OMS_URL", {"OG_OMS_URL": "http://oms internal:8101"}),
    ("OG_CARRIER_URL", {"OG_CARRIER_URL": "http://:8103"}),
    ("OG_INVENTORY_URL", {"OG_INVENTORY_URL": "http://inventory.internal:99999"}),
    ("OG_TICKETING_URL", {"OG_TICKETING_URL": "ticketing.internal:8104"}),
    ("OG_CACHE_URL", {"OG_CACHE_URL": "redis://:hunter2hunter2@/0"}),
    ("OG_KEYS_URL", {"OG_KEYS_URL": "ftp://keys.internal/keys.json"}),
    # Empty, as compose's ${VAR} gives an unset variable: never "no token", "every interface".
    ("OG_ADMIN_TOKEN", {"OG_ADMIN_TOKEN": ""}),
    ("OG_ADMIN_TOKEN", {"OG_ADMIN_TOKEN": "hunter2hunter2"}),  # too short
    ("OG_HOST", {"OG_HOST": ""}),
    ("OG_HOST", {"OG_HOST": "not_a_host"}),  # resolves to no address
    ("OG_LOG_LEVEL", {"OG_LOG_LEVEL": "NOTSET"}),
    ("OG_CACHE_URL", {"OG_CACHE_URL": "memory://?max_entries=abc"}),
    ("OG_CACHE_URL", {"OG_CACHE_URL": "redis://:hunter2#x@localhost:6379/0"}),
    ("OG_PERSISTED_MANIFEST", {"OG_PERSISTED_MANIFEST": "/nonexistent.json"}),
    ("OG_PERSISTED_MANIFEST", {"OG_PERSISTED_MANIFEST": str(ROOT / "pyproject.toml")}),
    ("OG_PERSISTED_MANIFEST", {"OG_PERSISTED_MANIFEST": str(ROOT)}),  # a folder
    # Dev mode needs no pepper, but malformed values are still refused.
    ("OG_WEBHOOK_SECRETS", {"OG_DEV_MODE": "1", "OG_WEBHOOK_SECRETS": "whsec_"}),
    ("OG_OMS_URL", {"OG_DEV_MODE": "1", "OG_KEY_PEPPER": None, "OG_OMS_URL": "http://:1"}),
]

# Every case of REFUSED in one interpreter, one after the other, each as `ordergraph
# serve` runs it (its own environment; stdout and stderr captured): an interpreter a
# case would take most of the time.
SERVE_EACH = """
import contextlib, io, json, os, sys
from gateway.cli import main

results = []
for env in json.load(sys.stdin):
    os.environ.clear()
    os.environ.update(env)
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(
        io.StringIO()
    ) as err:
        results.append((main(["serve"]), out.getvalue(), err.getvalue()))
print(json.dumps(results))
"""


@pytest.fixture(scope="session")
def refused(tmp_path_factory: pytest.TempPathFactory) -> list[Exited]:
    """How ``serve`` ended in each case of REFUSED."""
    envs = [_environ(tmp_path_factory.mktemp("keys"), **values) for _, values in REFUSED]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", SERVE_EACH],
        input=json.dumps(envs),
        cwd=ROOT,
        env=envs[0],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    elapsed_s = time.monotonic() - started
    return [Exited(*result, elapsed_s) for result in json.loads(done.stdout)]


@pytest.mark.parametrize("case", range(len(REFUSED)), ids=[name for name, _ in REFUSED])
def test_serve_refuses_a_setting_that_cannot_work(refused: list[Exited], case: int) -> None:
    variable, values = REFUSED[case]
    line = _refused(refused[case], variable)
    for value in values.values():  # never echoes a secret
        if value and ("whsec_" in value or "hunter2" in value):
            assert "hunter2" not in line and SECRET.removeprefix("whsec_")[:12] not in line


@pytest.mark.parametrize("variable", ["OG_CACHE_URL", "OG_KEYS_URL"])
async def test_serve_refuses_an_unreachable_redis_after_the_startup_timeout(tmp_path, variable):
    timeout_s = 1.0
    with free_socket() as sock:  # bound, not listening: every connection is refused
        host, port = sock.getsockname()
        env = _environ(
            tmp_path,
            **{variable: f"redis://:hunter2hunter2@{host}:{port}/0"},
            OG_STARTUP_TIMEOUT_MS=str(int(timeout_s * 1000)),
        )
        result = await _run("serve", env=env)
    line = _refused(result, variable)
    assert "OG_STARTUP_TIMEOUT_MS" in line and f"redis://***@{host}:{port}/0" in line
    assert "hunter2" not in line
    assert timeout_s <= result.elapsed_s < timeout_s + MARGIN_S


async def test_the_port_is_not_bound_while_waiting_for_redis(tmp_path):
    with free_socket() as sock:
        host, port = sock.getsockname()
        env = _environ(tmp_path, OG_CACHE_URL=f"redis://{host}:{port}/0")
        env["OG_STARTUP_TIMEOUT_MS"] = "20000"
        process = await _start("serve", env=env)
        try:
            assert process.stdout is not None  # the log's stream
            async with asyncio.timeout(20):  # imported and retrying once it says so
                while b"does not answer yet" not in await process.stdout.readline():
                    pass
            assert process.returncode is None
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection("127.0.0.1", int(env["OG_PORT"]))
        finally:
            process.terminate()
            await process.communicate()


async def test_a_reachable_redis_cache_and_key_store_pass_startup(
    sim: SimCluster, redis_server: RedisServer, tmp_path
):
    env = _environ(
        tmp_path, OG_CACHE_URL=redis_server.url, OG_KEYS_URL=redis_server.url, **_sources(sim)
    )
    env["OG_STARTUP_TIMEOUT_MS"] = "3000"
    async with _serving(env) as (url, session), session.get(f"{url}/readyz") as resp:
        ready = await resp.json()
    assert ready["status"] == "ready" and ready["cache"]["backend"] == "redis"
    assert ready["config"]["key_store"]["kind"] == "redis"


@pytest.fixture
async def redis_user(redis_server: RedisServer) -> AsyncIterator[str]:
    """A Redis URL with a password (an ACL user on the session's redis-server)."""
    admin = Redis.from_url(redis_server.url)
    await admin.execute_command(
        "ACL", "SETUSER", "og", "on", f">{REDIS_PASSWORD}", "~*", "&*", "+@all"
    )
    try:
        yield f"redis://og:{REDIS_PASSWORD}@127.0.0.1:{redis_server.port}/0"
    finally:
        await admin.execute_command("ACL", "DELUSER", "og")
        await admin.aclose()


async def test_readyz_and_the_startup_log_say_what_is_configured_and_no_secret(
    sim: SimCluster, redis_user: str, tmp_path
):
    secrets = [generate_secret(), generate_secret()]
    env = _environ(
        tmp_path,
        OG_CACHE_URL=redis_user,
        OG_KEYS_URL=redis_user,
        OG_WEBHOOK_SECRETS=",".join(secrets),
        OG_LOG_LEVEL="INFO",
        **_sources(sim),
    )
    process = await _start("serve", env=env)
    url = f"http://127.0.0.1:{env['OG_PORT']}"
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, url, process)
            async with session.get(f"{url}/readyz") as resp:
                body = await resp.text()
    finally:
        process.terminate()
        stdout, _ = await asyncio.wait_for(process.communicate(), 15)
    config = json.loads(body)["config"]
    redacted = f"redis://***@127.0.0.1:{redis_user.rsplit(':', 1)[1]}"
    assert config == {
        "dev_mode": False,
        "cache": {"backend": "redis", "url": redacted},
        "key_store": {"kind": "redis", "url": redacted, "pepper": True},
        "webhooks": {"configured": True, "secrets": 2},
        "exception_queue": False,
        "persisted_documents": {"manifest": False},
    }
    logged = [
        json.loads(line)
        for line in stdout.decode().splitlines()
        if line.startswith("{") and '"config"' in line
    ]
    assert len(logged) == 1 and logged[0]["level"] == "INFO"
    assert logged[0]["config"] == config
    # every serving process, once up, freezes what start-up made for the collector
    assert '"heap settled: ' in stdout.decode()
    for text in (body, json.dumps(logged)):
        for secret in (
            PEPPER,
            REDIS_PASSWORD,
            *secrets,
            *(s.removeprefix("whsec_") for s in secrets),
        ):
            assert secret not in text


async def test_serve_takes_a_log_level_by_its_alias(sim: SimCluster, tmp_path):
    """uvicorn knows no WARN: the setting hands it the level's own name."""
    env = _environ(tmp_path, OG_LOG_LEVEL="warn", **_sources(sim))
    async with _serving(env) as (url, session), session.get(f"{url}/readyz") as resp:
        assert resp.status == 200


async def test_dev_mode_starts_without_a_pepper(sim: SimCluster, tmp_path):
    env = _environ(tmp_path, OG_DEV_MODE="1", OG_KEY_PEPPER=None, **_sources(sim))
    async with _serving(env) as (url, session), session.get(f"{url}/healthz") as resp:
        assert resp.status == 200


async def _printed_line(*args: str, env: Mapping[str, str]) -> str:
    result = await _run(*args, env=env)
    assert (result.returncode, result.stderr) == (0, ""), result
    assert result.stdout.endswith("\n") and result.stdout.count("\n") == 1, result.stdout
    return result.stdout.removesuffix("\n")


async def test_keys_pepper_prints_a_fresh_pepper_without_one_set(tmp_path):
    env = _environ(tmp_path, OG_KEY_PEPPER=None, OG_WEBHOOK_SECRETS="whsec_a")  # bad, unread
    pepper, again = [await _printed_line("keys", "pepper", env=env) for _ in range(2)]
    assert pepper != again and pepper.strip() == pepper
    assert len(pepper.encode()) >= 32 and pepper_problem(pepper) is None
    # and serve takes it
    result = await _run("serve", env=_environ(tmp_path, OG_KEY_PEPPER=pepper, OG_OMS_URL="x"))
    _refused(result, "OG_OMS_URL")  # refused for the URL only, after the pepper passed
    other = await _run("keys", "list", env=_environ(tmp_path, OG_KEY_PEPPER=pepper))
    assert other.returncode == 0, other


async def test_webhooks_secret_prints_a_secret_standard_webhooks_accepts(tmp_path):
    env = _environ(tmp_path, OG_KEY_PEPPER=None, OG_WEBHOOK_SECRETS="whsec_a")
    secret, again = [await _printed_line("webhooks", "secret", env=env) for _ in range(2)]
    assert secret != again and secret.startswith("whsec_") and secret_problem(secret) is None
    signer = Webhook(secret)
    at = datetime.now(UTC)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signer.sign("msg_1", at, "{}"),
    }
    assert Webhook(secret).verify("{}", headers) == {}


async def test_the_demo_shows_its_redis_cache_without_the_password(redis_user: str, tmp_path):
    env = _environ(tmp_path, OG_CACHE_URL=redis_user, OG_KEY_PEPPER=None)
    del env["OG_PORT"]
    base = free_port_block(5)  # one block: two asked apart could overlap
    ports = ("--port", str(base), "--sim-port-base", str(base + 1))
    async with ordergraph("demo", *ports, "--orders", "80", env=env) as command:
        output = await command.printed("GraphiQL:")
    assert f"(cache: redis://***@127.0.0.1:{redis_user.rsplit(':', 1)[1]})" in output
    assert REDIS_PASSWORD not in output
