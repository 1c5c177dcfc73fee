"""The same seed and now give the same answers over the native sources and over the
simulated vendor APIs (docs/adapters.md lists where a vendor cannot say the same):
every GraphQL example of the pages, over orders of every scenario, the attack suite
and the cross-tenant probes, sent to two production-mode gateways in process that
differ only in the adapters they read through. Upstream calls per level are counted
through the vendor APIs' ``/__stats``."""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from msgspec.structs import replace

from gateway.app import create_app
from gateway.cli import vendor_source_settings
from gateway.settings import Settings
from sim.cluster import VENDORS, SimCluster, start_cluster
from sim.seed import Dataset
from sources.adapters.aftership import wire
from sources.records import TicketComment
from tests.support.attacks import ATTACKS, Attack, send
from tests.support.cross_tenant import ask, comparable, probes
from tests.support.docs_examples import ALL_EXAMPLES
from tests.support.gateways import gateway_at
from tests.support.queries import ORDER_BY_NUMBER, ORDERS_PAGE
from tests.support.secured import TENANT_B, secured_settings
from tests.support.vendors import (
    UNSAID_BY_VENDORS,
    said_by_every_vendor,
    says,
    without_order_cursors,
)

SECRET = "vendor-webhook-secret"
# The examples' key classes, as keys of the internal tier: the run asks more than a
# standard key's cost budget allows.
KEY_OF_CLASS = {"app": "app_queue", "console": "console", "partner": "partner_a"}
MAX_COST = 30_000  # the demo's, which the examples are written for


@pytest.fixture(scope="module")
def data(make_dataset: Any) -> Dataset:
    return make_dataset()


@pytest.fixture(scope="module")
async def cluster(data: Dataset) -> AsyncIterator[SimCluster]:
    """The sources and the vendor APIs, with a rate limit the run stays within (the
    adapters' waiting is tests/integration/test_aftership_adapter.py's subject)."""
    cluster = await start_cluster(data, vendors=True, vendor_rate_per_s=100_000)
    yield cluster
    await cluster.close()


@contextlib.asynccontextmanager
async def client_of(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    manager = LifespanManager(create_app(settings, gateway_at(settings)), startup_timeout=30)
    transport = httpx.ASGITransport(app=manager.app)
    async with manager, httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        yield client


class Pair:
    """The same request to the gateway over the native sources and the one over the
    vendor APIs."""

    def __init__(self, native: httpx.AsyncClient, vendor: httpx.AsyncClient, keys: dict[str, str]):
        self.native, self.vendor, self.keys = native, vendor, keys
        # the fields left out of the comparison that answers held: natively, over vendors
        self.said: dict[bool, set[str]] = {False: set(), True: set()}

    async def query(
        self,
        key: str,
        document: str,
        variables: dict[str, Any] | None = None,
        vendor_variables: dict[str, Any] | None = None,
    ):
        """Both answers, without what a vendor cannot say (tests.support.vendors); the
        gateway over the vendors is sent ``vendor_variables`` where given."""
        headers = {"authorization": f"Bearer {self.keys[key]}"}
        asked = {self.native: variables, self.vendor: vendor_variables or variables}
        answers = []
        for client in (self.native, self.vendor):
            payload = {"query": document, "variables": asked[client] or {}}
            response = await client.post("/graphql", json=payload, headers=headers)
            body = response.json()
            body.pop("extensions", None)  # cost and cache: the call's own
            said = {field for field in UNSAID_BY_VENDORS if says(body, field)}
            self.said[client is self.vendor] |= said
            answers.append((response.status_code, said_by_every_vendor(body)))
        return answers


@pytest.fixture(scope="module")
async def pair(cluster: SimCluster, tmp_path_factory) -> AsyncIterator[Pair]:
    urls = {name: cluster.urls[name] for name in ("oms", "inventory", "carrier", "ticketing")}
    directory = tmp_path_factory.mktemp("equivalence")
    native, keys = await secured_settings(urls, directory, max_cost=MAX_COST)
    vendor = replace(native, sources=native.sources | vendor_source_settings(cluster, SECRET))
    served = {source: name for name, sources in VENDORS.items() for source in sources}
    assert {source: vendor.sources[source].adapter for source in served} == served
    async with client_of(native) as over_native, client_of(vendor) as over_vendor:
        yield Pair(over_native, over_vendor, keys)


SHIPPED_PAGE = """{ orders(first: 100, filter: { fulfillmentStatuses: [FULFILLED] }) {
  nodes { shipments { trackingNumber tracking { status } } } } }"""


def orders_of_every_scenario(data: Dataset) -> list[str]:
    """Two orders of each scenario, by number."""
    numbers = []
    for scenario in sorted(set(data.scenarios.values())):
        numbers += [data.orders[i].number for i in data.order_ids(scenario)[:2]]
    return numbers


def test_the_examples_are_the_pages_examples():
    assert {"OrderStatusPage", "ConsoleOrder", "OrdersPage"} <= set(QUERIES)


# Subscriptions answer nothing until a change: changes over the vendors are
# tests/e2e/test_vendor_webhooks.py's.
QUERIES = sorted(name for name, (_, _, doc) in ALL_EXAMPLES.items() if doc.startswith("query"))


@pytest.mark.parametrize("name", QUERIES)
async def test_every_example_answers_the_same(pair: Pair, data: Dataset, name: str):
    _, key_class, document = ALL_EXAMPLES[name]
    numbers = orders_of_every_scenario(data) if 'number: "' in document else [None]
    differing = []
    for number in numbers:
        asked = (
            document
            if number is None
            else re.sub(r'number: "\d+"', f'number: "{number}"', document)
        )
        for key in {KEY_OF_CLASS[key_class], "console"}:
            native, vendor = await pair.query(key, asked)
            assert native[0] == 200 and "data" in native[1], native
            if without_order_cursors(native) != without_order_cursors(vendor):
                differing.append((number, key))
    assert differing == []


async def test_the_full_order_answers_the_same_but_what_a_vendor_cannot_say(
    pair: Pair, data: Dataset
):
    """The full view of orders of every scenario: the same, once the fields a vendor
    has no place for are left out; those the native sources do say, the vendors never."""
    for number in orders_of_every_scenario(data):
        native, vendor = await pair.query("console_b", ORDER_BY_NUMBER, {"number": number})
        assert native == vendor, number
    assert pair.said == {False: set(UNSAID_BY_VENDORS), True: set()}


CONVERSATION = """query($number: String!) { orderByNumber(number: $number) {
  tickets { reference comments { author body public createdAt } }
  timeline(first: 100) { edges { node { at source kind message visibility } } } } }"""


async def test_tickets_comments_and_timelines_answer_the_same(pair: Pair, data: Dataset):
    """Zendesk's comments are read apart from its tickets (a call a ticket): a ticket's
    public and internal comments, and the timeline that tells them, answer as the
    native source's do. The orders are ones no other test here reads (the gateways
    cache what they read)."""
    seen = set(orders_of_every_scenario(data))
    talked = [o for o, ts in data.tickets.items() if ts and data.orders[o].number not in seen]
    for n, order_id in enumerate(talked[:8]):
        data.tickets[order_id] = [
            replace(
                ticket,
                comments=[
                    TicketComment(
                        id=str(7_300_000 + 10 * n + k),
                        author=("Ana Ruiz", "Sam Okafor")[k % 2],
                        body=f"note {k} on {ticket.id}",
                        public=k != 1,
                        created_at=ticket.created_at + timedelta(minutes=5 * (k + 1)),
                    )
                    for k in range(3)
                ],
            )
            for ticket in data.tickets[order_id]
        ]
    for order_id in talked[:8]:
        number = data.orders[order_id].number
        native, vendor = await pair.query("console_b", CONVERSATION, {"number": number})
        (first, *_) = native[1]["data"]["orderByNumber"]["tickets"]
        assert len(first["comments"]) == 3, native  # internal notes too: a console key
        assert native == vendor, number


async def test_pages_of_orders_answer_the_same(pair: Pair):
    """Page after page, each gateway resuming from its own last cursor: the same orders.
    The cursors are each source's own (Shopify's are base64 of its JSON), sealed by the
    gateway, so they are compared apart: each is one the gateway takes back."""
    after: dict[str, str | None] = {"native": None, "vendor": None}
    for _ in range(3):
        native, vendor = await pair.query(
            "no_pii",
            ORDERS_PAGE,
            {"first": 20, "after": after["native"]},
            {"first": 20, "after": after["vendor"]},
        )
        for side, (status, body) in (("native", native), ("vendor", vendor)):
            assert status == 200 and "errors" not in body, body
            page = body["data"]["orders"]
            assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
            after[side] = page["pageInfo"]["endCursor"]
        assert without_order_cursors(native) == without_order_cursors(vendor)
    assert after["native"] != after["vendor"]


FILTERED_NUMBERS = "query($f: OrderFilter) { orders(first: 100, filter: $f) { nodes { number } } }"


@pytest.mark.parametrize("name", ["updatedSince", "placedFrom", "placedTo"])
async def test_a_filter_time_without_an_offset_is_utc_over_every_adapter(pair: Pair, name: str):
    """As the filter's description says, over the native OMS and over Shopify alike
    (whose adapter compared the naive time with its orders' times and failed); a time
    UTC cannot hold is the caller's error over both."""
    answers = []
    for moment in ("2026-11-10T00:00:00", "2026-11-10T00:00:00Z", "2026-11-10T05:30:00+05:30"):
        native, vendor = await pair.query("console", FILTERED_NUMBERS, {"f": {name: moment}})
        assert native[0] == 200 and "errors" not in native[1], (moment, native)
        assert native == vendor, moment
        answers.append(native)
    assert answers[0][1]["data"]["orders"]["nodes"] and answers.count(answers[0]) == 3
    unheld = {name: "0001-01-01T00:00:00+05:00"}
    native, vendor = await pair.query("console", FILTERED_NUMBERS, {"f": unheld})
    assert native == vendor
    (error,) = native[1]["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": f"filter.{name}"}


@pytest.mark.parametrize("attack", ATTACKS, ids=[attack.name for attack in ATTACKS])
async def test_every_attack_gets_the_same_answer(pair: Pair, attack: Attack):
    answers = []
    for client in (pair.native, pair.vendor):
        response = await send(client, pair.keys, attack)
        answers.append((response.status_code, comparable(response.json())))
    assert answers[0] == answers[1]


async def test_another_tenants_ids_get_the_same_answers(pair: Pair, cluster: SimCluster):
    differing = []
    for probe in probes(cluster.dataset, TENANT_B):
        if probe.stream:
            continue  # event streams need a server: tests/e2e/test_attacks.py
        for value in (probe.foreign, probe.missing):
            native = comparable(await ask(pair.native, pair.keys, probe, value))
            vendor = comparable(await ask(pair.vendor, pair.keys, probe, value))
            if native != vendor:
                differing.append((probe.path, value))
    assert differing == []


async def test_one_call_per_level_within_the_vendors_batch_limit(
    pair: Pair, cluster: SimCluster, tmp_path_factory
):
    """A page of 100 shipped orders, on gateways whose caches are cold: the carrier is
    asked once over the native source, and over AfterShip once per 50 tracking numbers."""
    urls = {name: cluster.urls[name] for name in ("oms", "inventory", "carrier", "ticketing")}
    native, keys = await secured_settings(urls, tmp_path_factory.mktemp("calls"), max_cost=MAX_COST)
    vendor = replace(native, sources=native.sources | vendor_source_settings(cluster, SECRET))
    headers = {"authorization": f"Bearer {keys['console']}"}
    payload = {"query": SHIPPED_PAGE}
    calls = {}
    for name, settings in (("native", native), ("vendor", vendor)):
        async with client_of(settings) as client:
            cluster.reset_stats()
            body = (await client.post("/graphql", json=payload, headers=headers)).json()
            calls[name] = {
                source: cluster.stats(source).requests for source in ("carrier", "aftership")
            }
    numbers = {
        shipment["trackingNumber"]
        for order in body["data"]["orders"]["nodes"]
        for shipment in order["shipments"]
        if shipment["trackingNumber"]
    }
    assert len(numbers) > wire.MAX_NUMBERS  # the vendor's limit matters on this page
    assert calls["native"] == {"carrier": 1, "aftership": 0}
    assert calls["vendor"] == {
        "carrier": 0,
        "aftership": math.ceil(len(numbers) / wire.MAX_NUMBERS),
    }
    assert cluster.stats("aftership").batch_sizes[wire.TRACKINGS_PATH][0] == wire.MAX_NUMBERS
