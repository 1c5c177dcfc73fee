"""The pages are real: every GraphQL example of README.md and docs/*.md runs against
``ordergraph demo`` started as a user starts it, sent with the demo key the example
names (parsed from the demo's output); the live walkthroughs' curl commands run
against it too; every link between the pages resolves; the settings table agrees with
gateway/settings.py; every shell block of a page is run or checked by some test."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from gateway.cli import DEMO_KEYS, DEMO_MAX_COST
from gateway.settings import DEFAULT_PORTS, SOURCE_NAMES, Settings, SourceSettings
from sim.cluster import SOURCES
from tests.support.docs_examples import ALL_EXAMPLES, DOCS, PAGES, examples
from tests.support.live_clients import sse_stream, within
from tests.support.ports import free_port_block
from tests.support.processes import ROOT, Command, ordergraph
from tests.support.queries import ORDERS_PAGE
from tests.support.timing import HANG_S

KEY_CLASSES = tuple(client_class for client_class, _, _ in DEMO_KEYS)


def _page(name: str) -> str:
    return (ROOT / name).read_text()


def sh_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", text, re.S)]


# -- static: examples are marked, links resolve, the settings table is whole ------------


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_graphql_example_names_its_key(page: Path):
    text = page.read_text()
    blocks = re.findall(r"```graphql\n", text)
    marked = examples(text)
    assert len(marked) == len(blocks), f"{page.name}: a graphql block without its key line"
    assert all(key in KEY_CLASSES for key, _ in marked.values())
    assert len(set(marked)) == len(marked)


def test_the_examples_are_where_the_pages_say():
    assert {name: where for name, (where, _, _) in ALL_EXAMPLES.items()} == {
        "OrderStatusPage": "README.md",
        "ConsoleOrder": "README.md",
        "OrdersPage": "README.md",
        "OnHoldOrders": "docs/exceptions.md",
        "CriticalExceptions": "docs/exceptions.md",
    }


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#+ (.*)$", path.read_text(), re.M)}


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_resolve(page: Path):
    links = [link for link in LINK.findall(page.read_text()) if not link.startswith("http")]
    assert links or page.name == "index.md"
    for link in links:
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        assert path.exists(), f"{page.name}: {link} does not exist"
        assert path.is_relative_to(ROOT), link
        if anchor:
            assert anchor in _anchors(path), f"{page.name}: no #{anchor} in {path.name}"


def test_readme_links_every_page():
    readme = _page("README.md")
    for page in DOCS.glob("*.md"):
        if page.name != "index.md":
            assert f"(docs/{page.name})" in readme, page.name
    index = _page("docs/index.md")
    for page in DOCS.glob("*.md"):
        if page.name != "index.md":
            assert f"({page.name})" in index, page.name


def _settings_table() -> dict[str, str]:
    """variable -> default, from docs/settings.md's table."""
    rows = re.findall(r"^\| `(OG_[\w<>]+)` \| `([^`]*)` \| .+ \|$", _page("docs/settings.md"), re.M)
    variables = [variable for variable, _ in rows]
    assert len(variables) == len(set(variables)), "a setting listed twice"
    return dict(rows)


def _shown(value: object) -> str:
    if value is None or value == []:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def test_the_settings_table_is_every_setting_with_its_default():
    table = _settings_table()
    defaults = Settings()
    expected = {"OG_CONFIG": "none"}
    for name in Settings.__struct_fields__:
        if name != "sources":
            expected[f"OG_{name.upper()}"] = _shown(getattr(defaults, name))
    for source in SOURCE_NAMES:
        expected[f"OG_{source.upper()}_URL"] = f"http://127.0.0.1:{DEFAULT_PORTS[source]}"
    per_source = SourceSettings(url="http://unused")
    for name in SourceSettings.__struct_fields__:
        if name != "url":
            expected[f"OG_<SOURCE>_{name.upper()}"] = _shown(getattr(per_source, name))
    assert table == expected


# -- every shell block is run or checked somewhere ---------------------------------------

# page -> the test that runs or checks its shell blocks
SHELL_BLOCKS_RUN_BY = {
    "README.md": "tests/e2e/test_readme.py (CI runs the second; the first is the demo below)",
    "docs/live.md": "test_the_walkthroughs_* below",
    "docs/operations.md": "test_the_docker_commands_name_real_settings below",
    "docs/sources.md": "test_the_benchmark_commands_exist below",
    "docs/production.md": "tests/e2e/test_production_walkthrough.py",
}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_page_with_shell_blocks_is_run_by_a_test(page: Path):
    if sh_blocks(page.read_text()):
        assert page.relative_to(ROOT).as_posix() in SHELL_BLOCKS_RUN_BY


# Runs each script given with ``--help`` in one interpreter (their imports are shared):
# prints {script: [exit code, usage]} as JSON.
HELP_OF_EACH = """
import contextlib, io, json, runpy, sys
usages = {}
for script in sys.argv[1:]:
    sys.argv, sys.path[0], out = [script, "--help"], script.rpartition("/")[0], io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            runpy.run_path(script, run_name="__main__")
            code = 0
        except SystemExit as exit:
            code = exit.code
    usages[script] = [code, out.getvalue()]
print(json.dumps(usages))
"""


def test_the_benchmark_commands_exist():
    (block,) = sh_blocks(_page("docs/sources.md"))
    commands = [shlex.split(line) for line in block.splitlines()]
    for words in commands:
        assert words[0] == "python" and words[1].startswith("bench/"), words
        assert (ROOT / words[1]).is_file(), words
    scripts = sorted({words[1] for words in commands})
    ran = subprocess.run(
        [sys.executable, "-c", HELP_OF_EACH, *scripts], cwd=ROOT, capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stderr
    usages = json.loads(ran.stdout)
    for words in commands:
        code, usage = usages[words[1]]
        assert code == 0, (words, usage)
        for word in words[2:]:
            if word.startswith("--"):
                assert word in usage, f"{shlex.join(words)}: {word} is no option"


def test_the_docker_commands_name_real_settings():
    (block,) = sh_blocks(_page("docs/operations.md"))
    assert block.startswith("docker build -t ordergraph .")
    named = set(re.findall(r"-e (OG_\w+)=", block))
    assert {"OG_CACHE_URL", "OG_KEYS_URL", "OG_KEY_PEPPER", "OG_WEBHOOK_SECRETS"} <= named
    assert named <= set(_settings_table())


# -- against a real demo ------------------------------------------------------------------


@pytest.fixture(scope="module")
async def demo_command() -> AsyncIterator[tuple[str, Command]]:
    """``ordergraph demo`` as a user starts it (no OG_MAX_COST: the demo's own ceiling;
    logs at INFO, as by default, so the exception queue's passes are told)."""
    port = free_port_block(105)
    url = f"http://127.0.0.1:{port}"
    async with ordergraph("demo", "--port", str(port), env={"OG_LOG_LEVEL": "INFO"}) as command:
        async with aiohttp.ClientSession() as session:
            await command.ready(session, url)
        await command.printed("Watch it live")
        yield url, command


@pytest.fixture(scope="module")
def demo(demo_command: tuple[str, Command]) -> str:
    return demo_command[0]


@pytest.fixture(scope="module")
def demo_keys(demo_command: tuple[str, Command]) -> dict[str, str]:
    """key class -> the key the demo printed for it."""
    output = demo_command[1].output
    keys = dict(re.findall(r"^  (\w+) +tenant \S+ +(og_demo_\S+)$", output, re.M))
    assert list(keys) == list(KEY_CLASSES), output
    return keys


async def _run(url: str, query: str, key: str | None = None, variables: dict | None = None) -> dict:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{url}/graphql", json={"query": query, "variables": variables}, headers=headers
        ) as resp,
    ):
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def run_example(url: str, keys: dict[str, str], name: str) -> dict:
    """An example, sent with the key its page names."""
    _, key_class, document = ALL_EXAMPLES[name]
    body = await _run(url, document, keys[key_class])
    assert "errors" not in body, body.get("errors")
    return body


async def test_demo_prints_its_sources_keys_and_a_runnable_example(demo_command, demo_keys):
    url, command = demo_command
    output = command.output
    port = int(url.rsplit(":", 1)[1])
    for offset, source in enumerate(SOURCES):
        assert re.search(rf"^  {source} +http://127\.0\.0\.1:{port + 101 + offset} ", output, re.M)
    assert f"GraphiQL: {url}/graphql" in output
    assert f"Cost limit: {DEMO_MAX_COST:,} per query" in output
    example = output.split("Try:\n", 1)[1].split("\n\n", 1)[0]
    body = await _run(url, example, demo_keys["app"])
    assert "errors" not in body, body.get("errors")
    order = body["data"]["orderByNumber"]
    assert order["customerStatus"] == "SHIPPED"
    assert order["shipments"] and all(s["tracking"]["events"] for s in order["shipments"])


async def test_the_keys_are_what_the_pages_say(demo, demo_keys):
    """App keys get no tickets; partner keys run no ad-hoc query (trusted documents)."""
    query = '{ orderByNumber(number: "1705") { name tickets { subject } } }'
    body = await _run(demo, query, demo_keys["app"])
    assert body["data"]["orderByNumber"]["tickets"] is None
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UNAUTHORIZED_FIELD"}
    body = await _run(demo, query, demo_keys["console"])
    assert "errors" not in body and body["data"]["orderByNumber"]["tickets"]
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{demo}/graphql",
            json={"query": query},
            headers={"authorization": f"Bearer {demo_keys['partner']}"},
        ) as resp,
    ):
        assert resp.status == 403
        assert (await resp.json())["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"


async def test_the_order_status_page_example(demo, demo_keys):
    order = (await run_example(demo, demo_keys, "OrderStatusPage"))["data"]["orderByNumber"]
    assert order["lineItems"] and all(line["availability"] for line in order["lineItems"])
    assert order["shipments"] and all(s["tracking"]["events"] for s in order["shipments"])


async def test_the_console_order_example_shows_all_four_sources(demo, demo_keys):
    order = (await run_example(demo, demo_keys, "ConsoleOrder"))["data"]["orderByNumber"]
    assert order["lineItems"] and all(line["availability"] for line in order["lineItems"])
    assert order["shipments"] and all(s["tracking"]["events"] for s in order["shipments"])
    assert order["tickets"]
    assert order["customer"]["email"], "a console key reads PII"


def _assert_page_has_all_four_sources(nodes: list[dict], size: int) -> None:
    assert len(nodes) == size
    lines = [line for node in nodes for line in node["lineItems"]]
    assert lines and all(line["availability"] for line in lines)
    shipments = [s for node in nodes for s in node["shipments"]]
    # (a label the carrier never scanned has no tracking record: null, without an error)
    assert any(s["tracking"] and s["tracking"]["events"] for s in shipments)
    assert any(node["tickets"] for node in nodes)


async def test_the_page_of_orders_example(demo, demo_keys):
    body = await run_example(demo, demo_keys, "OrdersPage")
    _assert_page_has_all_four_sources([e["node"] for e in body["data"]["orders"]["edges"]], 50)


@pytest.mark.parametrize("first", [50, 100])
async def test_the_demo_runs_the_full_page_of_orders(demo, first):
    """The headline query, every field of tests/support/queries.py, fits the demo's ceiling
    (anonymous: dev mode, no cost bucket)."""
    body = await _run(demo, ORDERS_PAGE, variables={"first": first})
    assert "errors" not in body, body.get("errors")
    assert 1000 < body["extensions"]["cost"]["requestedQueryCost"] <= DEMO_MAX_COST
    _assert_page_has_all_four_sources([e["node"] for e in body["data"]["orders"]["edges"]], first)


async def test_on_hold_orders_example(demo, demo_keys):
    body = await run_example(demo, demo_keys, "OnHoldOrders")
    nodes = [edge["node"] for edge in body["data"]["orders"]["edges"]]
    assert nodes
    assert all(any(fo["holds"] for fo in node["fulfillmentOrders"]) for node in nodes)


# How long the demo's start-up sweep may take to fill the queue: about 4 s of CPU (3.5
# to 4.8 s measured alone), which took over 20 s while the suite's workers kept both
# cores busy at a host probe of 2x.
SWEEP_S = 3 * HANG_S


async def _queue_filled(demo: str, keys: dict[str, str]) -> list[dict]:
    """The critical exceptions once the demo's start-up sweep has filled the queue (in
    seconds; up to SWEEP_S on a loaded machine). Asked every half second: the query
    costs 222 points, and asked faster than the console key refills (1,000 a second)
    it spent the budget the tests after it need."""
    nodes: list[dict] = []

    async def filled() -> bool:
        nonlocal nodes
        body = await run_example(demo, keys, "CriticalExceptions")
        nodes = [edge["node"] for edge in body["data"]["exceptionQueue"]["edges"]]
        return len(nodes) == 20

    for _ in range(int(SWEEP_S / 0.5)):
        if await filled():
            break
        await asyncio.sleep(0.5)
    return nodes


async def test_exception_queue_example(demo, demo_keys):
    nodes = await _queue_filled(demo, demo_keys)
    assert len(nodes) == 20
    assert all(node["severity"] == "CRITICAL" and node["order"]["name"] for node in nodes)


async def test_demo_serves_graphiql(demo):
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{demo}/graphql", headers={"accept": "text/html"}) as resp,
    ):
        assert resp.status == 200
        assert "graphiql" in (await resp.text()).lower()


# -- docs/live.md's walkthroughs, command by command ---------------------------------------

LIVE = _page("docs/live.md").split("## Walkthroughs", 1)[1]
SET_KEY, *_ = sh_blocks(LIVE)
CHANGE = sh_blocks(LIVE.split("### Watch a change reach the graph", 1)[1].split("\n### ", 1)[0])
BREAK = sh_blocks(LIVE.split("### Watch an order live, break its delivery", 1)[1])


def _curl(command: str, port: int, keys: dict[str, str]) -> dict:
    """What a curl command of the page sends, with the demo's ports in place of the
    defaults (gateway 8000, sources 8101 to 8104) and $CONSOLE_KEY set as the page says."""
    assert SET_KEY == "CONSOLE_KEY=og_demo_…"
    words = shlex.split(command.replace("$CONSOLE_KEY", keys["console"]))
    assert words[0] == "curl"
    sent: dict = {"method": "GET", "headers": {}}
    words_iter = iter(words[1:])
    for word in words_iter:
        if word == "-X":
            sent["method"] = next(words_iter)
        elif word == "-H":
            name, _, value = next(words_iter).partition(":")
            sent["headers"][name.strip().lower()] = value.strip()
        elif word == "-d":
            sent["json"] = json.loads(next(words_iter))
            sent["method"] = "POST" if sent["method"] == "GET" else sent["method"]
        elif word.startswith("http"):
            sent["url"] = re.sub(r":(8000|81\d\d)/", lambda m: f":{port + int(m[1]) - 8000}/", word)
    return sent


async def _send(sent: dict) -> dict:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            sent["method"], sent["url"], json=sent.get("json"), headers=sent["headers"]
        ) as resp,
    ):
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_the_walkthroughs_use_different_orders():
    """Each walkthrough moves its own parcel, so either can come first."""
    change_parcel = re.search(r"/admin/trackings/(\w+)/advance", CHANGE[1])
    break_parcel = re.search(r"/admin/trackings/(\w+)/advance", BREAK[2])
    assert change_parcel and break_parcel and change_parcel[1] != break_parcel[1]


async def test_the_walkthrough_watch_a_change_reach_the_graph(demo_command, demo_keys):
    demo, command = demo_command
    port = int(demo.rsplit(":", 1)[1])
    ask, advance = (_curl(c, port, demo_keys) for c in CHANGE)
    # The page's order and command are the ones the demo printed.
    number = re.search(r'number: \\?"(\d+)\\?"', CHANGE[0])
    assert number and f'orderByNumber(number: "{number[1]}")' in command.output
    printed = re.search(r"curl -X POST (\S+/admin/trackings/\w+/advance)", command.output)
    assert printed and printed[1] == advance["url"]
    assert ask["headers"]["authorization"] == f"Bearer {demo_keys['console']}"
    before = await _send(ask)
    assert before["data"] == {"orderByNumber": {"customerStatus": "SHIPPED"}}
    await _send(advance)
    for _ in range(50):  # the signed webhook is on its way
        after = await _send(ask)
        if after["data"]["orderByNumber"]["customerStatus"] != "SHIPPED":
            break
        await asyncio.sleep(0.1)
    assert after["data"] == {"orderByNumber": {"customerStatus": "OUT_FOR_DELIVERY"}}


async def test_the_walkthrough_watch_an_order_live(demo_command, demo, demo_keys):
    port = int(demo.rsplit(":", 1)[1])
    watch, raised, breaking = (_curl(c, port, demo_keys) for c in BREAK)
    # Nothing is raised before the start-up sweep has filled the queue: not when its
    # first page lists 20 critical orders, but when it logs its pass.
    await demo_command[1].printed("exception queue: swept", SWEEP_S)
    keys = [s["headers"]["authorization"].removeprefix("Bearer ") for s in (watch, raised)]
    assert keys == [demo_keys["console"]] * 2
    async with (
        sse_stream(demo, watch["json"], keys[0]) as updates,
        sse_stream(demo, raised["json"], keys[1]) as exceptions,
    ):
        kind, first = await within(updates, HANG_S)
        assert kind == "next", first
        number = first["data"]["orderUpdated"]["number"]
        assert f"order #{number}" in LIVE
        assert first["data"]["orderUpdated"]["customerStatus"] == "SHIPPED"
        assert first["data"]["orderUpdated"]["health"] == "ON_TRACK"
        # The second subscription runs once its stream has begun (sse_stream waits for
        # that): the gateway takes its watch before handling anything that came after.
        announced = asyncio.create_task(anext(exceptions))
        await _send(breaking)
        kind, changed = await within(updates, HANG_S)
        order = changed["data"]["orderUpdated"]
        assert order["health"] == "ACTION_REQUIRED"
        attempted = [e for e in order["exceptions"] if e["code"] == "DELIVERY_ATTEMPTED"]
        assert attempted and attempted[0]["customerMessage"]
        kind, told = await asyncio.wait_for(announced, HANG_S)
    assert kind == "next"
    event = told["data"]["orderExceptionRaised"]
    assert event["order"] == {"number": number, "health": "ACTION_REQUIRED"}
    assert [e["code"] for e in event["exceptions"]] == ["DELIVERY_ATTEMPTED"]
