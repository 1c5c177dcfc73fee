"""docs/production.md, walked for real: its shell blocks run in order in one
environment (bash, as a reader runs them; `ordergraph` as installed), its three
long-running commands are started as processes (Redis as the private redis-server of
tests/support/redis_server.py, on free ports in place of the page's), keys are created with
the page's commands, and each key does what the page says: the console sees
everything, the app no tickets and no personal data, the partner only its account's
orders and only the trusted documents the page ships. The docker compose section is
checked against compose.yaml."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.persisted import load_manifest
from sim.catalog import ACCOUNTS
from sim.seed import Dataset
from tests.support.gateways import MakeDataset
from tests.support.ports import free_port_block
from tests.support.processes import ROOT, Command, ordergraph
from tests.support.redis_server import RedisServer

PAGE = (ROOT / "docs" / "production.md").read_text()
WALK, COMPOSE_SECTION = PAGE.split("## In containers: docker compose", 1)
BLOCKS = [block.strip() for block in re.findall(r"```sh\n(.*?)```", WALK, re.S)]
LONG_RUNNING = ("redis-server ", "ordergraph sim ", "ordergraph serve")
PLACEHOLDER = re.compile(r"^export (\w+)=og_live_…$")
KEY_PRINTED = re.compile(r"^    (og_live_\S+)$", re.M)
BIN = Path(sys.executable).parent  # where `ordergraph` is installed


def _accounts(dataset: Dataset) -> dict[str, int]:
    counts: dict[str, int] = {}
    for order in dataset.orders.values():
        counts[order.account_id] = counts.get(order.account_id, 0) + 1
    return counts


class Walk:
    """The reader's shell: its environment, carried from one command to the next."""

    def __init__(self, ports: dict[int, int], path: str) -> None:
        self.ports = ports
        self.env = {**os.environ, "PATH": path, "OG_LOG_LEVEL": "WARNING"}
        self.outputs: list[str] = []

    def localise(self, command: str) -> str:
        """The page's ports (Redis 6379, gateway 8000, sources 8101 to 8104) → free ones."""
        return re.sub(r"\b(6379|8000|810[1-4])\b", lambda m: str(self.ports[int(m[1])]), command)

    def run(self, line: str) -> str:
        """One line in bash, with the environment so far; what it printed."""
        with tempfile.NamedTemporaryFile() as env_file:
            script = f"set -euo pipefail\n{self.localise(line)}\nenv -0 > {env_file.name}\n"
            done = subprocess.run(
                ["bash", "-c", script], cwd=ROOT, env=self.env, capture_output=True, text=True
            )
            assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
            pairs = Path(env_file.name).read_bytes().decode().split("\0")
        self.env = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
        self.outputs.append(done.stdout)
        return done.stdout

    def argv(self, command: str) -> list[str]:
        """A long-running command's words, its variables expanded as bash would."""
        line = re.sub(r"\$(\w+)", lambda m: self.env[m[1]], self.localise(command))
        return [word.strip('"') for word in line.split()]


def _status(body: dict[str, Any]) -> str | None:
    order = (body.get("data") or {}).get("orderByNumber") or {}
    return order.get("customerStatus")


class Walked:
    def __init__(self, walk: Walk, gateway: str, sim: Command) -> None:
        self.walk = walk
        self.gateway = gateway
        self.sim = sim
        self.curls: list[dict[str, Any]] = []  # the page's curl commands' answers, in order


@pytest.fixture(scope="module")
async def walked() -> AsyncIterator[Walked]:
    redis = RedisServer()
    base = free_port_block(110)
    ports = {6379: redis.port, 8000: base, **{8101 + i: base + 101 + i for i in range(4)}}
    walk = Walk(ports, f"{BIN}:{os.environ.get('PATH', '')}")  # the installed `ordergraph`
    started: list[Any] = []
    gateway = f"http://127.0.0.1:{base}"
    sim: Command | None = None
    curls: list[dict[str, Any]] = []
    advanced = False
    try:
        for block in BLOCKS:
            if block.startswith("redis-server "):
                assert walk.localise(block).split()[:3] == [
                    "redis-server",
                    "--port",
                    str(redis.port),
                ]
                await redis.start()
                continue
            if block.startswith(LONG_RUNNING):
                argv = walk.argv(block)
                assert argv[0] == "ordergraph"
                context = ordergraph(*argv[1:], env=walk.env)
                command = await context.__aenter__()
                started.append(context)
                if argv[1] == "sim":
                    sim = command
                    await command.printed("ticketing")
                else:
                    async with aiohttp.ClientSession() as session:
                        await command.ready(session, gateway)
                continue
            for line in block.splitlines():
                placeholder = PLACEHOLDER.match(line)
                if placeholder:  # "copy it into the variable that follows"
                    (key,) = KEY_PRINTED.findall(walk.outputs[-1])
                    line = f"export {placeholder[1]}={key}"
                printed = walk.run(line)
                if line.startswith("curl ") and "/graphql" in line:
                    body = json.loads(printed)
                    if advanced:  # a reader asks again a moment later; the webhook is on its way
                        # Every half second, for 10 s: a partner key's cost budget (57 a
                        # look, 50 back a second) would run dry at ten looks a second.
                        for _ in range(20):
                            if _status(body) != "SHIPPED":
                                break
                            await asyncio.sleep(0.5)
                            body = json.loads(walk.run(line))
                    curls.append(body)
                advanced = advanced or "/advance" in line
        assert sim is not None
        result = Walked(walk, gateway, sim)
        result.curls = curls
        yield result
    finally:
        for context in reversed(started):
            await context.__aexit__(None, None, None)
        await redis.stop()


def test_the_page_runs_the_three_long_running_commands():
    assert [b.split()[0] + " " + b.split()[1] for b in BLOCKS if b.startswith(LONG_RUNNING)] == [
        "redis-server --port",
        "ordergraph sim",
        "ordergraph serve",
    ]


def test_the_secrets_come_from_the_cli():
    assert BLOCKS[0].splitlines() == [
        'export OG_KEY_PEPPER="$(ordergraph keys pepper)"',
        'export OG_WEBHOOK_SECRET="$(ordergraph webhooks secret)"',
    ]


async def test_the_secrets_are_set(walked: Walked):
    assert len(walked.walk.env["OG_KEY_PEPPER"]) >= 32
    assert walked.walk.env["OG_WEBHOOK_SECRET"].startswith("whsec_")
    assert walked.walk.env["OG_WEBHOOK_SECRETS"] == walked.walk.env["OG_WEBHOOK_SECRET"]


def test_the_accounts_table_is_the_simulated_accounts(make_dataset: MakeDataset):
    rows = dict(re.findall(r"^\| `(acct_\w+)` \| (\d+) \|$", PAGE, re.M))
    assert list(rows) == [account for account, _ in ACCOUNTS]
    dataset = make_dataset()  # seed 7, as on the page
    assert {account: int(n) for account, n in rows.items()} == _accounts(dataset)


def test_the_partner_manifest_is_the_one_the_page_ships():
    manifest = load_manifest(str(ROOT / "docs" / "partner-documents.json"))
    named = set(re.findall(r'"documentId": "([\w-]+)"', PAGE))
    assert named == set(manifest)


async def test_three_keys_of_the_three_classes(walked: Walked):
    listed = walked.walk.run("ordergraph keys list --json")
    keys = {key["class"]: key for key in json.loads(listed)}
    assert set(keys) == {"console", "partner", "app"}
    assert keys["partner"]["tenant"] == "acct_partner_north"
    assert keys["console"]["tenant"] == keys["app"]["tenant"] == "*"
    assert {"CONSOLE_KEY", "PARTNER_KEY", "APP_KEY"} <= set(walked.walk.env)


# The page's curl commands against the gateway, in page order.
CONSOLE_1705, APP_1705, PARTNER_1974, PARTNER_PAGE, PARTNER_1705, PARTNER_ADHOC, PARTNER_AFTER = (
    range(7)
)


async def test_the_page_has_seven_graphql_curls(walked: Walked):
    assert len(walked.curls) == 7


async def test_the_console_sees_everything(walked: Walked):
    body = walked.curls[CONSOLE_1705]
    assert "errors" not in body, body
    order = body["data"]["orderByNumber"]
    assert order["number"] == "1705" and order["customer"]["email"] and order["tickets"]


async def test_the_app_sees_no_tickets_and_no_personal_data(walked: Walked):
    body = walked.curls[APP_1705]
    order = body["data"]["orderByNumber"]
    assert order["number"] == "1705" and order["customerStatus"]
    assert order["customer"]["email"] is None and order["tickets"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHORIZED_FIELD"]


async def test_the_partner_sees_its_own_order_through_a_trusted_document(walked: Walked):
    body = walked.curls[PARTNER_1974]
    assert "errors" not in body, body
    order = body["data"]["orderByNumber"]
    assert order["number"] == "1974" and order["customerStatus"] == "SHIPPED"
    assert order["shipments"][0]["trackingNumber"] == "1ZW08R5X0259846721"


def _dataset(walked: Walked, make_dataset: MakeDataset) -> Dataset:
    """The data set the sim serves, from the seed and `now` it printed."""
    printed = re.search(r"--seed (\d+) --now (\S+) --orders (\d+)", walked.sim.output)
    assert printed
    return make_dataset(
        seed=int(printed[1]), now=datetime.fromisoformat(printed[2]), orders=int(printed[3])
    )


async def test_the_partner_sees_only_its_accounts_orders(walked: Walked, make_dataset: MakeDataset):
    body = walked.curls[PARTNER_PAGE]
    assert "errors" not in body, body
    numbers = [edge["node"]["number"] for edge in body["data"]["orders"]["edges"]]
    assert len(numbers) == 50
    dataset = _dataset(walked, make_dataset)
    accounts = {order.number: order.account_id for order in dataset.orders.values()}
    assert {accounts[number] for number in numbers} == {"acct_partner_north"}
    assert accounts["1705"] != "acct_partner_north" and accounts["1974"] == "acct_partner_north"


async def test_another_accounts_order_is_not_found_for_the_partner(walked: Walked):
    body = walked.curls[PARTNER_1705]
    assert body["data"]["orderByNumber"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]


async def test_the_partner_runs_no_query_of_its_own(walked: Walked):
    body = walked.curls[PARTNER_ADHOC]
    assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
    assert "data" not in body or body["data"] is None
    # and the status is 403, as the page says
    (line,) = [b for b in BLOCKS if "PARTNER_KEY" in b and '"query"' in b]
    status = walked.walk.run(line.replace("curl -s ", "curl -s -o /dev/null -w '%{http_code}' "))
    assert status == "403"


async def test_a_signed_change_event_reaches_the_partner(walked: Walked):
    body = walked.curls[PARTNER_AFTER]
    assert "errors" not in body, body
    assert body["data"]["orderByNumber"]["customerStatus"] == "OUT_FOR_DELIVERY"


def test_the_compose_section_writes_the_env_file_compose_yaml_reads():
    (block,) = re.findall(r"```sh\n(.*?)```", COMPOSE_SECTION, re.S)
    lines = block.strip().splitlines()
    written = re.findall(r"(OG_\w+)=%s", lines[0])
    compose = (ROOT / "compose.yaml").read_text()
    assert set(written) == set(re.findall(r"\$\{(\w+)", compose))
    assert lines[0].endswith("> .env")
    assert "$(ordergraph keys pepper)" in lines[0] and "$(ordergraph webhooks secret)" in lines[0]
    assert lines[1] == "docker compose up --build"
    assert lines[2].startswith("docker compose exec gateway ordergraph keys create ")
