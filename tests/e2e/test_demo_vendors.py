"""``ordergraph demo --vendors`` as a user starts it: the carrier read through the
AfterShip adapter from the simulated AfterShip API shows the same orders as
``ordergraph demo`` over the native carrier (same seed, same now), and a change made
at the vendor reaches the graph through its signed webhook."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from sim.cluster import SOURCES, VENDORS
from sim.vendors.access import SIM_API_KEY
from sources.webhooks import generate_secret
from tests.support.docs_examples import ALL_EXAMPLES
from tests.support.gateways import FIXED_NOW
from tests.support.ports import free_port_block
from tests.support.processes import Command, ordergraph
from tests.support.queries import ORDERS_PAGE
from tests.support.timing import HANG_S
from tests.support.vendors import said_by_every_vendor, without_order_cursors
from tests.support.waiting import eventually

NOW = FIXED_NOW.isoformat()
TRACKED_PAGE = """{ orders(first: 100) { nodes { number
  shipments { trackingNumber tracking { status } } } } }"""
SHIPMENTS = """query($n: String!) { orderByNumber(number: $n) {
  shipments { trackingNumber tracking { status } } } }"""


@contextlib.asynccontextmanager
async def demo(*options: str) -> AsyncIterator[tuple[str, Command]]:
    port = free_port_block(102 + len(SOURCES) + len(VENDORS))  # gateway, then + 101 …
    url = f"http://127.0.0.1:{port}"
    quick_stop = {"OG_SHUTDOWN_DRAIN_MS": "0"}  # draining is tests/e2e/test_shutdown.py's subject
    arguments = ("demo", "--port", str(port), "--now", NOW, *options)
    async with ordergraph(*arguments, env=quick_stop) as command:
        async with aiohttp.ClientSession() as session:
            await command.ready(session, url)
        await command.printed("Watch it live")
        yield url, command


@pytest.fixture(scope="module")
async def demos() -> AsyncIterator[tuple[str, str, Command]]:
    async with demo() as (native, _), demo("--vendors") as (vendor, command):
        yield native, vendor, command


async def ask(
    url: str, query: str, variables: dict[str, Any] | None = None, *, raw: bool = False
) -> dict[str, Any]:
    """As the demo lets anyone in (an internal console), without what a vendor cannot
    say and, unless ``raw``, without the order list's cursors (tests.support.vendors)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/graphql", json={"query": query, "variables": variables}) as resp,
    ):
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        body.pop("extensions", None)
        said = said_by_every_vendor(body)
        return said if raw else without_order_cursors(said)  # type: ignore[no-any-return]


async def settled(
    vendor: str, native: str, document: str, timeout_s: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both gateways' answers to ``document`` once they agree, or the last ones asked
    after ``timeout_s``."""
    answers: list[tuple[dict[str, Any], dict[str, Any]]] = []

    async def same() -> bool:
        answers.append((await ask(vendor, document), await ask(native, document)))
        return answers[-1][0] == answers[-1][1]

    with contextlib.suppress(AssertionError):
        await eventually(same, "the same answers", timeout_s=timeout_s)
    return answers[-1]


async def test_the_vendor_demo_names_its_vendor_api_and_key(demos):
    _, url, command = demos
    port = int(url.rsplit(":", 1)[1])
    for offset, vendor in enumerate(VENDORS, start=101 + len(SOURCES)):
        assert f"  {vendor:<10} http://127.0.0.1:{port + offset} " in command.output
    assert SIM_API_KEY in command.output
    async with aiohttp.ClientSession() as session, session.get(f"{url}/readyz") as resp:
        ready = await resp.json()
    adapters = {source["name"]: source["adapter"] for source in ready["sources"]}
    assert adapters == {"oms": "native", "inventory": "native"} | {
        source: vendor for vendor, sources in VENDORS.items() for source in sources
    }


async def test_the_vendor_demo_shows_the_same_orders(demos):
    native, vendor, _ = demos
    after: dict[str, str | None] = {native: None, vendor: None}
    for _ in range(2):
        shown = []
        for url in (native, vendor):
            body = await ask(url, ORDERS_PAGE, {"first": 50, "after": after[url]}, raw=True)
            assert "errors" not in body, body
            after[url] = body["data"]["orders"]["pageInfo"]["endCursor"]  # its own
            shown.append(without_order_cursors(body))
        assert shown[0] == shown[1]
    for name, (_, _, document) in ALL_EXAMPLES.items():
        if not document.startswith("query"):
            continue
        if "exceptionQueue" not in document:
            assert await ask(vendor, document) == await ask(native, document), name
            continue

        # The queue fills from each gateway's start-up sweep, whose carrier reads the
        # vendor's rate limit paces: the same once both sweeps are done. An order whose
        # reads failed on a loaded host waits for the next pass, a minute later.
        vendor_answer, native_answer = await settled(vendor, native, document, 75)
        assert vendor_answer == native_answer, name  # pytest shows the difference


async def test_a_change_at_the_vendor_reaches_the_graph(demos):
    _, url, _ = demos
    # The exception queue's sweeps read Shopify too, but leave half of its cost bucket
    # to requests. They also share AfterShip's ten calls a second: in CI a page's
    # tracking reads once ran past the demo's 2 s deadline (SOURCE_TIMEOUT on one
    # order's tracking). Asked again, a later window serves them.
    pages: list[dict[str, Any]] = []

    async def whole_page() -> bool:
        pages.append(await ask(url, TRACKED_PAGE))
        return "errors" not in pages[-1]

    with contextlib.suppress(AssertionError):
        await eventually(whole_page, "a page with every tracking", timeout_s=HANG_S)
    page = pages[-1]
    assert "errors" not in page, page
    number, tracking_number = next(
        (order["number"], shipment["trackingNumber"])
        for order in page["data"]["orders"]["nodes"]
        for shipment in order["shipments"]
        if shipment["tracking"] and shipment["tracking"]["status"] == "IN_TRANSIT"
    )
    port = int(url.rsplit(":", 1)[1])
    aftership = f"http://127.0.0.1:{port + 101 + len(SOURCES)}"
    advance = f"{aftership}/admin/trackings/{tracking_number}/advance"
    async with aiohttp.ClientSession() as session, session.post(advance) as resp:
        assert resp.status == 200, await resp.text()

    async def moved_on() -> bool:
        shipments = (await ask(url, SHIPMENTS, {"n": number}))["data"]["orderByNumber"]
        statuses = {s["trackingNumber"]: s["tracking"]["status"] for s in shipments["shipments"]}
        return statuses[tracking_number] == "OUT_FOR_DELIVERY"

    await eventually(moved_on, "the vendor's webhook refreshed the graph", timeout_s=10)


async def test_ordergraph_sim_vendors_prints_the_settings_a_gateway_reads_them_with():
    """A user's other path: the vendor APIs in one process, ``ordergraph serve`` in
    another, set up with exactly what ``sim --vendors`` printed."""
    base = free_port_block(len(SOURCES) + len(VENDORS))
    secret = generate_secret()
    async with ordergraph(
        "sim", "--vendors", "--port-base", str(base), "--now", NOW, "--orders", "80",
        "--webhook-url", "http://127.0.0.1:9/webhooks", "--webhook-secret", secret,
    ) as sim:  # fmt: skip
        output = await sim.printed("OG_INVENTORY_ADAPTER=")
        printed = dict(
            pair.split("=", 1)
            for line in output.splitlines()
            if line.startswith("  OG_")
            for pair in line.split()
        )
        assert "<--webhook-secret>" in output and secret not in output  # never echoed
        env = {name: value for name, value in printed.items() if "WEBHOOK_SECRET" not in name}
        port = free_port_block(1)
        url = f"http://127.0.0.1:{port}"
        env |= {"OG_PORT": str(port), "OG_DEV_MODE": "1", "OG_SHUTDOWN_DRAIN_MS": "0"}
        async with ordergraph("serve", env=env) as gateway:
            async with aiohttp.ClientSession() as session:
                await gateway.ready(session, url)
                async with session.get(f"{url}/readyz") as resp:
                    ready = await resp.json()
            page = await ask(url, ORDERS_PAGE, {"first": 3})
    adapters = {source["name"]: source["adapter"] for source in ready["sources"]}
    assert adapters == {source: vendor for vendor, names in VENDORS.items() for source in names}
    assert "errors" not in page and len(page["data"]["orders"]["edges"]) == 3
