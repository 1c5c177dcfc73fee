"""README's commands and examples are real: CI runs its test command, every
GraphQL example runs against `ordergraph demo` started as a user would, and so do
the live walkthrough's three curl commands."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.live_clients import sse_stream, within
from tests.ports import free_port_block
from tests.serving import wait_ready

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SH_BLOCKS = re.findall(r"```sh\n(.*?)```", README, re.S)
GRAPHQL_BLOCKS = re.findall(r"```graphql\n(.*?)```", README, re.S)


def test_the_two_commands_are_on_top():
    install_and_demo, run_tests = (block.strip() for block in SH_BLOCKS[:2])
    assert install_and_demo.endswith("ordergraph demo")
    assert "pytest" in run_tests
    assert README.index(run_tests) < 1500, "the commands belong near the top"


def test_ci_runs_exactly_the_readme_test_command():
    run_tests = SH_BLOCKS[1].strip()
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert run_tests in ci_lines


@pytest.fixture(scope="module")
async def demo() -> AsyncIterator[str]:
    port = free_port_block(105)
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "gateway", "demo", "--port", str(port)),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "OG_LOG_LEVEL": "WARNING"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, url, process)
        yield url
    finally:
        process.terminate()
        output, _ = await asyncio.wait_for(process.communicate(), timeout=15)
    assert b"GraphiQL: " in output


async def _run(url: str, query: str) -> dict:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/graphql", json={"query": query}) as resp,
    ):
        assert resp.status == 200
        return await resp.json()


def test_readme_has_four_examples():
    assert len(GRAPHQL_BLOCKS) == 4


@pytest.mark.parametrize("index", [0, 1], ids=["status-page", "console"])
async def test_order_examples_show_all_four_sources(demo, index):
    body = await _run(demo, GRAPHQL_BLOCKS[index])
    assert "errors" not in body, body.get("errors")
    order = body["data"]["orderByNumber"]
    assert order["lineItems"] and all(line["availability"] for line in order["lineItems"])
    assert order["shipments"] and all(s["tracking"]["events"] for s in order["shipments"])
    assert order["tickets"]


async def test_order_page_example(demo):
    body = await _run(demo, GRAPHQL_BLOCKS[2])
    assert "errors" not in body, body.get("errors")
    nodes = [edge["node"] for edge in body["data"]["orders"]["edges"]]
    assert nodes
    assert all(any(fo["holds"] for fo in node["fulfillmentOrders"]) for node in nodes)


async def test_demo_serves_graphiql(demo):
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{demo}/graphql", headers={"accept": "text/html"}) as resp,
    ):
        assert resp.status == 200
        assert "graphiql" in (await resp.text()).lower()


async def test_exception_queue_example(demo):
    for _ in range(100):  # the demo's start-up sweep fills the queue within seconds
        body = await _run(demo, GRAPHQL_BLOCKS[3])
        assert "errors" not in body, body.get("errors")
        nodes = [edge["node"] for edge in body["data"]["exceptionQueue"]["edges"]]
        if len(nodes) == 20:
            break
        await asyncio.sleep(0.1)
    assert len(nodes) == 20
    assert all(node["severity"] == "CRITICAL" and node["order"]["name"] for node in nodes)


WALKTHROUGH = README.split("### Watch an order live", 1)[1].split("\n#", 1)[0]
WATCH, RAISED, BREAK = (
    block.strip() for block in re.findall(r"```sh\n(.*?)```", WALKTHROUGH, re.S)
)


def _curl(command: str, port: int) -> dict:
    """What a README curl command sends, with the demo's ports in place of the
    defaults (gateway 8000, sources 8101 to 8104)."""
    words = shlex.split(command)
    assert words[0] == "curl"
    sent: dict = {"method": "GET", "headers": {}}
    words = iter(words[1:])
    for word in words:
        if word == "-X":
            sent["method"] = next(words)
        elif word == "-H":
            name, _, value = next(words).partition(":")
            sent["headers"][name.strip()] = value.strip()
        elif word == "-d":
            sent["json"] = json.loads(next(words))
            sent["method"] = "POST" if sent["method"] == "GET" else sent["method"]
        elif word.startswith("http"):
            sent["url"] = re.sub(r":(8000|81\d\d)/", lambda m: f":{port + int(m[1]) - 8000}/", word)
    return sent


async def test_the_live_walkthrough(demo):
    port = int(demo.rsplit(":", 1)[1])
    watch, raised, breaking = (_curl(c, port) for c in (WATCH, RAISED, BREAK))
    for _ in range(100):  # nothing is raised before the start-up sweep filled the queue
        body = await _run(demo, GRAPHQL_BLOCKS[3])
        if body["data"]["exceptionQueue"]["edges"]:
            break
        await asyncio.sleep(0.1)
    async with (
        sse_stream(demo, watch["json"]) as updates,
        sse_stream(demo, raised["json"]) as exceptions,
    ):
        kind, first = await within(updates, 5)
        assert kind == "next", first
        assert first["data"]["orderUpdated"]["customerStatus"] == "SHIPPED"
        assert first["data"]["orderUpdated"]["health"] == "ON_TRACK"
        announced = asyncio.create_task(anext(exceptions))
        await asyncio.sleep(0.5)  # the second subscription is running
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                breaking["method"],
                breaking["url"],
                json=breaking["json"],
                headers=breaking["headers"],
            ) as resp,
        ):
            assert resp.status == 200, await resp.text()
        kind, changed = await within(updates, 3)
        order = changed["data"]["orderUpdated"]
        assert order["health"] == "ACTION_REQUIRED"
        attempted = [e for e in order["exceptions"] if e["code"] == "DELIVERY_ATTEMPTED"]
        assert attempted and attempted[0]["customerMessage"]
        kind, told = await asyncio.wait_for(announced, 3)
    assert kind == "next"
    event = told["data"]["orderExceptionRaised"]
    assert event["order"] == {"number": "1807", "health": "ACTION_REQUIRED"}
    assert [e["code"] for e in event["exceptions"]] == ["DELIVERY_ATTEMPTED"]
