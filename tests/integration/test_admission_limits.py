"""What a document can cost before it runs: the work of admitting it (parsing,
analysis, validation) is bounded, charged to the caller, and only admitted documents
are kept.

Admitting one document takes at most 10 ms of the event loop: it is measured here, as CPU time of
this thread (``time.thread_time``, so other processes on a loaded machine do not
count), the least of several runs of documents made unique by a trailing comment
so that no cache helps (a loaded machine still slows a run down, sharing caches and
cores, but never speeds one up: the fastest run is the document's own cost). When the
virtual machine's host is busy, even CPU time grows (up to 1.7 times was seen): the
bound is scaled by how much slower a fixed piece of other work runs right after each
run (``tests.support.timing.slowdown``), never below 10 ms.

Measured on the 2-core machine class, loaded by other sessions: the slowest admitted
documents below (near every field limit; the graph's own 141-field order page is as
slow) take 7 to 9 ms, mostly graphql-core's validation; the slowest refused ones about
3.5 ms (a document at the token limit, parsed whole). Before these limits one field
repeated to 2,000 tokens took 100 to 150 ms, 13 ms even once refused, and a megabyte
comment 90 ms.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from graphql import GraphQLSchema

from gateway.admission.documents import AdmissionError, DocumentAnalyser
from gateway.admission.gate import ANALYSIS_CHARS_PER_POINT
from gateway.admission.limits import Limits
from gateway.settings import Settings
from resolvers.schema import build_schema
from sim.cluster import SimCluster
from tests.support.secured import Secured, secured_gateway
from tests.support.timing import slowdown

SETTINGS = Settings()
LIMITS: Limits = SETTINGS  # the settings are the document limits
BOUND_S = 0.010  # the bound on event-loop time to admit one document
RUNS = 7

ORDER_FIELDS = (
    "id number name placedAt updatedAt cancelledAt cancelReason financialStatus"
    " fulfillmentStatus returnStatus"
)


def repeated_field(tokens: int) -> str:
    """One field repeated until the document has ``tokens``."""
    return "{ orders(first: 1) { edges { node { " + "id " * (tokens - 16) + "} } } }"


def widest_admitted() -> str:
    """Near every field limit at once: sets of 36 selections, each key three times,
    149 fields as written (179 with the fragment expanded), 2 aliases."""
    body = " ".join([ORDER_FIELDS] * 3)
    nested = " ".join(["lineItems { id sku name id sku name id sku name }"] * 3)
    fragment = f"fragment F on Order {{ {body} }}"
    first = f"p0: orders(first: 1) {{ nodes {{ {body} {nested} ...F }} }}"
    second = f"p1: orders(first: 1) {{ nodes {{ {body} lineItems {{ id sku name }} }} }}"
    third = f'order(id: "1") {{ {ORDER_FIELDS} {ORDER_FIELDS} }}'
    return f"{{ {first} {second} {third} }}\n{fragment}"


def many_operations(count: int) -> str:
    """One small operation to run, and others that validation still reads."""
    others = "".join(
        f"query Other{i} {{ orders(first: 1) {{ nodes {{ {ORDER_FIELDS} }} }} }}\n"
        for i in range(count)
    )
    return f"query Run {{ __typename }}\n{others}"


DOCUMENTS: dict[str, Callable[[], str]] = {
    "a 2,000-token repeated field": lambda: repeated_field(2000),
    "a repeated field at the token limit": lambda: repeated_field(LIMITS.max_tokens),
    "a repeated field just inside the selection bound": lambda: repeated_field(16 + 3),
    "the widest admitted document": widest_admitted,
    "many operations, one run": lambda: many_operations(8),
    "too many operations": lambda: many_operations(9),
    "a deep inline-fragment chain": lambda: "{ " + "... { " * 99 + "__typename" + " }" * 99 + " }",
    "a list literal at the token limit": lambda: (
        '{ nodes(ids: ["' + '", "'.join(["x"] * (LIMITS.max_tokens - 14)) + '"]) { id } }'
    ),
    "a long list literal": lambda: '{ nodes(ids: ["' + '", "'.join(["x"] * 600) + '"]) { id } }',
    "many variables": lambda: (
        "query(" + " ".join(f"$v{i}: ID" for i in range(300)) + ") { __typename }"
    ),
    "a comment of a megabyte": lambda: "{ __typename }\n#" + "x" * 1_000_000,
    "a comment at the size limit": lambda: (
        "{ __typename }\n#" + "x" * (LIMITS.max_document_chars - 30)
    ),
    "a string at the size limit": lambda: (
        '{ order(id: "' + "x" * (LIMITS.max_document_chars - 30) + '") { id } }'
    ),
}


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema()._schema


def admit(analyser: DocumentAnalyser, query: str) -> str:
    """What admission does with the document's text: analyse, then validate."""
    try:
        analysis = analyser.analyse(query, "Run" if query.startswith("query Run") else None)
    except AdmissionError as exc:
        return exc.code
    errors = analysis.prepared.validate(analyser.schema)
    return "VALIDATION_FAILED" if errors else "ADMITTED"


@pytest.mark.parametrize("name", DOCUMENTS)
def test_no_document_takes_more_than_10_ms_to_admit(schema: GraphQLSchema, name: str) -> None:
    analyser = DocumentAnalyser(schema, LIMITS)
    document = DOCUMENTS[name]()
    times, outcomes = [], set()
    for run in range(RUNS):
        query = f"{document}\n# {run}"  # a unique trailing comment: no cache helps
        started = time.thread_time()
        outcomes.add(admit(analyser, query))
        took = time.thread_time() - started
        # Scaled by the host's speed right then: a busy host's contention comes and
        # goes within a test, so a later probe may find it quiet.
        times.append(took / slowdown(tries=1))
    assert len(outcomes) == 1, outcomes
    assert min(times) < BOUND_S, (name, outcomes, times)


def test_the_issues_documents_are_refused_before_validation(schema: GraphQLSchema) -> None:
    analyser = DocumentAnalyser(schema, LIMITS)
    assert admit(analyser, repeated_field(2000)) == "TOKEN_LIMIT_EXCEEDED"
    assert admit(analyser, repeated_field(LIMITS.max_tokens)) == "TOO_MANY_FIELDS"
    assert admit(analyser, repeated_field(16 + 4)) == "TOO_MANY_FIELDS"  # 4 times: one too many
    assert admit(analyser, repeated_field(16 + 3)) == "ADMITTED"
    assert admit(analyser, many_operations(8)) == "ADMITTED"
    assert admit(analyser, many_operations(9)) == "TOO_MANY_FIELDS"  # all of them count
    assert (
        admit(analyser, "{ __typename }#" + "x" * LIMITS.max_document_chars) == "DOCUMENT_TOO_LARGE"
    )
    assert admit(analyser, widest_admitted()) == "ADMITTED"
    assert admit(analyser, DOCUMENTS["a list literal at the token limit"]()) == "LIST_TOO_LONG"
    hundred = '{ nodes(ids: ["' + '", "'.join(["x"] * 100) + '"]) { id } }'
    assert admit(analyser, hundred) == "ADMITTED"
    assert admit(analyser, hundred.replace('["', '["y", "')) == "LIST_TOO_LONG"


def test_field_limits_count_what_validation_reads(schema: GraphQLSchema) -> None:
    analyser = DocumentAnalyser(schema, Limits(max_fields=10, max_selections=5, max_repeats=2))

    def code(query: str) -> str:
        return admit(analyser, query)

    assert code("{ orders(first: 1) { nodes { id number name placedAt } } }") == "ADMITTED"
    assert code("{ orders(first: 1) { nodes { id number name placedAt updatedAt id } } }") == (
        "TOO_MANY_FIELDS"  # six selections in one set
    )
    # Inline fragments merge into their set; under another type condition a key may repeat.
    assert code("{ orders(first: 1) { nodes { id ... { id } ... { id } } } }") == "TOO_MANY_FIELDS"
    assert code("{ nodes(ids: []) { ... on Order { id } ... on LineItem { id } id } }") == (
        "ADMITTED"
    )
    assert code("{ orders(first: 1) { nodes { ...F ...F ...F } } } fragment F on Order { id }") == (
        "TOO_MANY_FIELDS"  # a spread repeated
    )
    # Eleven fields in all, counted over fragments as well as the operation.
    eleven = (
        "{ orders(first: 1) { nodes { id ...F } } }"
        " fragment F on Order { number name lineItems { id sku } placedAt updatedAt }"
        " fragment G on Order { id number }"
    )
    assert code(eleven) == "TOO_MANY_FIELDS"


# --- through the gateway: the code, and the charge for analysis ---


@pytest.fixture(scope="module")
async def secured(
    sim: SimCluster, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Secured]:
    directory: Path = tmp_path_factory.mktemp("admission-limits")
    async with secured_gateway(sim.urls, directory) as secured:
        yield secured


async def test_a_repeated_field_is_refused_with_a_stable_code(secured: Secured) -> None:
    status, body, _ = await secured.post({"query": repeated_field(60)}, key="free")
    assert status == 400
    assert body["errors"][0]["extensions"]["code"] == "TOO_MANY_FIELDS"


async def test_analysis_is_charged_to_the_key(secured: Secured) -> None:
    """A new document costs its analysis, refused or admitted (a point, and one per
    2,000 characters), where a 2,000-token document used to cost 1 point; a document
    analysed before (cached) costs only its query cost."""
    points = LIMITS.max_document_chars // ANALYSIS_CHARS_PER_POINT - 1
    padding = "#" + "x" * (points * ANALYSIS_CHARS_PER_POINT) + "\n"
    small = "{ orders(first: 1) { nodes { id } } }"
    _, before, _ = await secured.post({"query": small}, key="free")
    started = time.monotonic()
    status, _, _ = await secured.post({"query": padding + repeated_field(60)}, key="free")
    assert status == 400
    status, admitted, _ = await secured.post({"query": padding + small}, key="free")
    assert status == 200, admitted
    _, after, _ = await secured.post({"query": small}, key="free")
    elapsed = time.monotonic() - started

    def available(body: dict) -> float:
        return body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]

    # The refused document and the padded query: ``points`` + 1 each; the small
    # query, known by then, its cost. The bucket refills meanwhile, 20 points a
    # second on the free tier: counted in.
    spent = available(before) - available(after) + 20 * elapsed
    cost = admitted["extensions"]["cost"]["requestedQueryCost"]
    assert cost < points
    # One point of slack: the bucket is reported to 0.1, and it refills from the
    # server's instants, not the client's.
    charged = 2 * (points + 1) + 2 * cost
    assert charged - 1 <= spent < charged + 1 + 20 * elapsed, (before, after, elapsed)


async def test_a_key_that_cannot_pay_for_analysis_is_throttled_unread(
    secured: Secured,
) -> None:
    """One key sending 2,000-token repeated fields, each made new by a comment, spends its
    own bucket (free: 200 points) and is then throttled before its documents are
    parsed; another key is not."""
    codes = []
    for i in range(120):
        query = f"{repeated_field(2000)}\n# {i}"
        status, body, headers = await secured.post({"query": query}, key="free_attacker")
        codes.append((status, body["errors"][0]["extensions"]["code"]))
        if status == 429:  # with the bucket, like every THROTTLED
            assert int(headers["retry-after"]) >= 1
            report = body["errors"][0]["extensions"]["cost"]
            assert report["throttleStatus"]["maximumAvailable"] == 200
            # (refused: less is left than asked; reported to 0.1, so equal at worst)
            assert report["requestedQueryCost"] >= report["throttleStatus"]["currentlyAvailable"]
    assert (400, "TOKEN_LIMIT_EXCEEDED") in codes
    assert (429, "THROTTLED") in codes
    status, body, _ = await secured.post(
        {"query": "{ orders(first: 1) { nodes { id } } }"}, key="free"
    )
    assert status == 200, body


# --- the document cache: admitted documents only, bounded in bytes ---


def test_refused_documents_leave_the_cache_as_it_was(schema: GraphQLSchema) -> None:
    analyser = DocumentAnalyser(schema, LIMITS)
    analyser.analyse("{ __typename }", None)
    before = (len(analyser.cache), analyser.cache.bytes)
    assert before[1] > 0
    for i in range(150):  # 900 KB documents, each unique
        assert admit(analyser, f"{{ __typename }}#{i}" + "x" * 900_000) == "DOCUMENT_TOO_LARGE"
    for i in range(150):  # refused by a limit once parsed
        assert admit(analyser, f"{repeated_field(40)}#{i}") == "TOO_MANY_FIELDS"
    assert (len(analyser.cache), analyser.cache.bytes) == before


def test_the_cache_is_bounded_in_bytes(schema: GraphQLSchema) -> None:
    query = '{ order(id: "1") { id } }#'
    size = len(query + "0000") * 300  # the estimate: 300 bytes per character
    analyser = DocumentAnalyser(schema, LIMITS, cache_size=1000, cache_bytes=10 * size)
    for i in range(100):
        analyser.analyse(f"{query}{i:04}", None)
        assert analyser.cache.bytes <= 10 * size
    assert len(analyser.cache) == 10
    # The most recent are kept, the oldest gone.
    assert analyser.cache.get((f"{query}{99:04}", None)) is not None
    assert analyser.cache.get((f"{query}{0:04}", None)) is None
    # A document too large for the whole budget is not kept, and evicts nothing.
    small = DocumentAnalyser(schema, LIMITS, cache_bytes=size)
    small.analyse(f"{query}0000", None)
    small.analyse(f"{query}0000 {' ' * 100}", None)
    assert (len(small.cache), small.cache.bytes) == (1, size)


async def test_refused_megabyte_documents_do_not_grow_the_process(secured: Secured) -> None:
    """Before this bound, 150 refused 900 KB documents took a process from 100 to 359 MB. The
    cache is checked above; this is the process as a whole, with a generous margin
    (the sizes of buffers the server and client reuse vary)."""
    rss_before = _rss_bytes()
    for i in range(150):
        query = f"{{ __typename }}#{i}" + "x" * 900_000
        # A key of its own: each refusal is charged, and this would empty "free".
        status, body, _ = await secured.post({"query": query}, key="orders_only")
        assert status == 400
        assert body["errors"][0]["extensions"]["code"] == "DOCUMENT_TOO_LARGE"
        # The in-process client's httpx response and its stream refer to each other and
        # hold the request's body; free them as a client in a process of its own would.
        gc.collect(1)
    assert _rss_bytes() - rss_before < 100_000_000


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
