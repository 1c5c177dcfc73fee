"""README's commands and examples are real: CI runs its test command, every
GraphQL example runs against `ordergraph demo` started as a user would, and so do
the live walkthrough's three curl commands."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from collections.abc import AsyncIterator

import aiohttp
import pytest

from gateway.cli import DEMO_MAX_COST
from sources.sim.cluster import SOURCES
from tests.live_clients import sse_stream, within
from tests.ports import free_port_block
from tests.processes import ROOT, Command, ordergraph
from tests.queries import ORDERS_PAGE
from tests.serving import wait_ready

README = (ROOT / "README.md").read_text()
SH_BLOCKS = re.findall(r"```sh\n(.*?)```", README, re.S)
# operation name -> document, in README order
EXAMPLE = re.compile(r"```graphql\n((?:query|subscription) (\w+).*?)```", re.S)
EXAMPLES = {name: document for document, name in EXAMPLE.findall(README)}


def test_the_two_commands_are_on_top():
    install_and_demo, run_tests = (block.strip() for block in SH_BLOCKS[:2])
    # A fresh virtual environment: a system Python under PEP 668 refuses `pip install`.
    steps = install_and_demo.split(" && ")
    assert steps[:2] == ["python3 -m venv .venv", ". .venv/bin/activate"]
    assert steps[2:] == ["pip install -c requirements.lock .", "ordergraph demo"]
    assert run_tests == (
        "python3 -m pip install -q -c requirements.lock -e '.[test]' && python3 -m pytest"
    )
    assert README.index(run_tests) < 1500, "the commands belong near the top"


def test_ci_runs_exactly_the_readme_test_command():
    run_tests = SH_BLOCKS[1].strip()
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert run_tests in ci_lines


@pytest.fixture(scope="module")
async def demo_command() -> AsyncIterator[tuple[str, Command]]:
    """``ordergraph demo`` as a user starts it (no OG_MAX_COST: the demo's own ceiling)."""
    port = free_port_block(105)
    url = f"http://127.0.0.1:{port}"
    async with ordergraph("demo", "--port", str(port)) as command:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, url, command.process)
        yield url, command


@pytest.fixture(scope="module")
def demo(demo_command: tuple[str, Command]) -> str:
    return demo_command[0]


async def _run(url: str, query: str, variables: dict | None = None) -> dict:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/graphql", json={"query": query, "variables": variables}) as resp,
    ):
        assert resp.status == 200
        return await resp.json()


def test_readme_has_five_examples():
    assert list(EXAMPLES) == [
        "OrderStatusPage",
        "ConsoleOrder",
        "OrdersPage",
        "OnHoldOrders",
        "CriticalExceptions",
    ]


async def test_demo_prints_its_sources_and_a_runnable_example(demo_command):
    url, command = demo_command
    output = await command.printed("Watch it live")
    port = int(url.rsplit(":", 1)[1])
    for offset, source in enumerate(SOURCES):
        assert re.search(rf"^  {source} +http://127\.0\.0\.1:{port + 101 + offset} ", output, re.M)
    assert f"GraphiQL: {url}/graphql" in output
    assert f"Cost limit: {DEMO_MAX_COST:,} per query" in output
    example = output.split("Try:\n", 1)[1].split("\n\n", 1)[0]
    body = await _run(url, example)
    assert "errors" not in body, body.get("errors")
    order = body["data"]["orderByNumber"]
    assert order["customerStatus"] == "SHIPPED"
    assert order["shipments"] and all(s["tracking"]["events"] for s in order["shipments"])


@pytest.mark.parametrize("name", ["OrderStatusPage", "ConsoleOrder"])
async def test_order_examples_show_all_four_sources(demo, name):
    body = await _run(demo, EXAMPLES[name])
    assert "errors" not in body, body.get("errors")
    order = body["data"]["orderByNumber"]
    assert order["lineItems"] and all(line["availability"] for line in order["lineItems"])
    assert order["shipments"] and all(s["tracking"]["events"] for s in order["shipments"])
    assert order["tickets"]


def _assert_page_has_all_four_sources(nodes: list[dict], size: int) -> None:
    assert len(nodes) == size
    lines = [line for node in nodes for line in node["lineItems"]]
    assert lines and all(line["availability"] for line in lines)
    shipments = [s for node in nodes for s in node["shipments"]]
    # (a label the carrier never scanned has no tracking record: null, without an error)
    assert any(s["tracking"] and s["tracking"]["events"] for s in shipments)
    assert any(node["tickets"] for node in nodes)


async def test_the_page_of_orders_example(demo):
    body = await _run(demo, EXAMPLES["OrdersPage"])
    assert "errors" not in body, body.get("errors")
    _assert_page_has_all_four_sources([e["node"] for e in body["data"]["orders"]["edges"]], 50)


@pytest.mark.parametrize("first", [50, 100])
async def test_the_demo_runs_the_full_page_of_orders(demo, first):
    """The headline query, every field of tests/queries.py, fits the demo's ceiling."""
    body = await _run(demo, ORDERS_PAGE, {"first": first})
    assert "errors" not in body, body.get("errors")
    assert 1000 < body["extensions"]["cost"]["requestedQueryCost"] <= DEMO_MAX_COST
    _assert_page_has_all_four_sources([e["node"] for e in body["data"]["orders"]["edges"]], first)


async def test_on_hold_orders_example(demo):
    body = await _run(demo, EXAMPLES["OnHoldOrders"])
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
        body = await _run(demo, EXAMPLES["CriticalExceptions"])
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
        body = await _run(demo, EXAMPLES["CriticalExceptions"])
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
