"""The attack suite's cases: hostile or broken requests, each with the status and code
it must get, and how to send one (any httpx client: over the network, or in process
through the ASGI transport). Shared by tests/e2e/test_attacks.py,
tests/integration/test_vendor_equivalence.py and bench/bench_access.py."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from resolvers.relay import to_global_id

GR = "application/graphql-response+json"


@dataclass(frozen=True)
class Attack:
    name: str
    status: int
    code: str
    body: Any = None  # a JSON payload, or raw bytes
    method: str = "POST"
    key: str | None = "app"
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    absent: str | None = None  # text the answer must not hold
    within_ms: float = 50.0  # the median answer time in process


def deep(levels: int) -> str:
    return "{ " + "a { " * (levels - 1) + "b" + " }" * levels


def q(query: str, **extra: Any) -> dict[str, Any]:
    return {"query": query, **extra}


FOREIGN = to_global_id("Order", "ord_000001")
ATTACKS = [
    Attack("deep nesting", 400, "MAX_DEPTH_EXCEEDED", q(deep(11))),
    Attack("deep nesting through fragments", 400, "MAX_DEPTH_EXCEEDED",
           q("{ ...A } fragment A on Query { a { ...B } } fragment B on Query { "
             + "b { " * 10 + "c" + " }" * 10 + " }")),
    Attack("101 aliases", 400, "MAX_ALIASES_EXCEEDED",
           q("{ " + " ".join(f"a{i}: __typename" for i in range(101)) + " }")),
    Attack("a field 10,000 times", 400, "DOCUMENT_TOO_LARGE",
           q("{ " + "__typename " * 10_000 + "}")),
    # Documents that cost validation far more than their size.
    Attack("one field 1,985 times, a unique comment", 400, "TOKEN_LIMIT_EXCEEDED",
           q("{ " + "number " * 1_985 + "} # 5f0c9e")),
    Attack("one field 100 times in a set", 400, "TOO_MANY_FIELDS",
           q("{ orders(first: 1) { nodes { " + "number " * 100 + "} } }")),
    Attack("a 900 KB comment", 400, "DOCUMENT_TOO_LARGE",
           q("{ __typename } #" + "x" * 900_000)),
    Attack("directive overload", 400, "MAX_DIRECTIVES_EXCEEDED",
           q("{ __typename " + "@include(if: true) " * 11 + "}")),
    Attack("circular fragments", 400, "FRAGMENT_CYCLE",
           q("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }")),
    Attack("21 root fields", 400, "MAX_ROOT_FIELDS_EXCEEDED",
           q("{ " + " ".join(f"o{i}: orderByNumber(number: \"1\") {{ id }}" for i in range(21))
             + " }")),
    Attack("cost over the limit", 400, "COST_LIMIT_EXCEEDED",
           q("{ orders(first: 100) { nodes { lineItems { availability { locations "
             "{ available } } } shipments { tracking { events { message } } } } } }")),
    Attack("a huge list of ids", 400, "COST_LIMIT_EXCEEDED",
           q("query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
             variables={"ids": [FOREIGN] * 20_000})),
    Attack("a batch of 50 operations", 400, "BATCHING_DISABLED", [q("{ __typename }")] * 50),
    Attack("a 5 MB body", 413, "PAYLOAD_TOO_LARGE", q("{ __typename }", pad="x" * 5_000_000),
           within_ms=250),
    Attack("huge variables", 413, "PAYLOAD_TOO_LARGE",
           q("query($v: String) { __typename }", variables={"v": "y" * 2_000_000})),
    Attack("invalid JSON", 400, "BAD_REQUEST", b'{"query": "{ __typename }"'),
    Attack("a JSON that is not an operation", 400, "BAD_REQUEST", "just text"),
    Attack("no query", 400, "BAD_REQUEST", {"variables": {}}),
    Attack("variables not an object", 400, "BAD_REQUEST", q("{ __typename }", variables=[1])),
    Attack("text/plain (CSRF)", 415, "UNSUPPORTED_MEDIA_TYPE", b'{"query":"{ __typename }"}',
           headers={"content-type": "text/plain"}),
    Attack("a form (CSRF)", 415, "UNSUPPORTED_MEDIA_TYPE", b"query=%7B__typename%7D",
           headers={"content-type": "application/x-www-form-urlencoded"}),
    Attack("multipart (CSRF)", 415, "UNSUPPORTED_MEDIA_TYPE", b"--x\r\n\r\n--x--",
           headers={"content-type": "multipart/form-data; boundary=x"}),
    Attack("text/plain asking for an event stream (CSRF)", 415, "UNSUPPORTED_MEDIA_TYPE",
           b'{"query":"{ __typename }"}',
           headers={"content-type": "text/plain", "accept": "text/event-stream"}),
    Attack("a form asking for an event stream (CSRF)", 415, "UNSUPPORTED_MEDIA_TYPE",
           b"query=%7B__typename%7D", headers={"content-type": "application/x-www-form-urlencoded",
                                               "accept": "text/event-stream"}),
    Attack("XML", 415, "UNSUPPORTED_MEDIA_TYPE", b"<query/>",
           headers={"content-type": "application/xml"}),
    Attack("an unacceptable Accept", 406, "NOT_ACCEPTABLE", q("{ __typename }"),
           headers={"accept": "application/xml"}),
    Attack("a mutation over GET", 405, "METHOD_NOT_ALLOWED", method="GET",
           params={"query": "mutation { __typename }"}),
    Attack("a GET without a preflight header (CSRF)", 400, "CSRF_PREVENTED", method="GET",
           key=None, params={"query": "{ __typename }"}),
    Attack("introspection without the scope", 403, "INTROSPECTION_DISABLED",
           q("{ __schema { types { name } } }")),
    Attack("introspection hidden in a fragment", 403, "INTROSPECTION_DISABLED",
           q("{ ...I } fragment I on Query { __type(name: \"Order\") { name } }")),
    Attack("field suggestions without the scope", 400, "GRAPHQL_VALIDATION_FAILED",
           q("{ orderz(first: 1) { nodes { id } } }"), absent="Did you mean"),
    Attack("an unknown operation name", 400, "OPERATION_NOT_FOUND",
           q("query A { __typename }", operationName="B")),
    Attack("no API key", 401, "API_KEY_MISSING", q("{ __typename }"), key=None),
    Attack("a malformed key", 401, "API_KEY_MALFORMED", q("{ __typename }"), key=None,
           headers={"authorization": "Bearer not-a-key"}),
    Attack("an unknown key", 401, "API_KEY_INVALID", q("{ __typename }"), key=None,
           headers={"x-api-key": "og_test_aaaaaaaaaaaa_" + "A" * 43}),
    Attack("an expired key", 401, "API_KEY_EXPIRED", q("{ __typename }"), key="expired"),
    Attack("a revoked key", 401, "API_KEY_REVOKED", q("{ __typename }"), key="revoked"),
    Attack("a key in the query string", 401, "API_KEY_IN_URL", q("{ __typename }"),
           params={"api_key": "og_test_aaaaaaaaaaaa_" + "A" * 43}),
    Attack("a partner's ad-hoc query", 403, "PERSISTED_QUERY_REQUIRED",
           q("{ orders(first: 1) { nodes { id } } }"), key="partner_a"),
    Attack("an unknown trusted document", 403, "PERSISTED_QUERY_REQUIRED",
           {"documentId": "nope"}, key="partner_a"),
    Attack("first over 100", 400, "BAD_USER_INPUT", q("{ orders(first: 101) { nodes { id } } }")),
    Attack("first 0 through a variable", 400, "BAD_USER_INPUT",
           q("query($n: Int!) { orders(first: $n) { nodes { id } } }", variables={"n": 0})),
    Attack("a wrong APQ hash", 400, "PERSISTED_QUERY_HASH_MISMATCH",
           q("{ __typename }", extensions={"persistedQuery": {"version": 1,
                                                              "sha256Hash": "0" * 64}})),
]  # fmt: skip


async def send(client: httpx.AsyncClient, keys: dict[str, str], attack: Attack) -> httpx.Response:
    headers = {"accept": GR, **attack.headers}
    if attack.key is not None:
        headers["authorization"] = f"Bearer {keys[attack.key]}"
    if attack.method == "GET" and attack.key is not None:
        headers.setdefault("apollo-require-preflight", "1")
    content = attack.body if isinstance(attack.body, bytes) else None
    payload = None if content is not None or attack.body is None else attack.body
    if isinstance(payload, str):  # valid JSON that is no operation object
        content, payload = json.dumps(payload).encode(), None
    if content is not None:
        headers.setdefault("content-type", "application/json")
    return await client.request(
        attack.method, "/graphql", json=payload, content=content, headers=headers,
        params=attack.params,
    )  # fmt: skip


def check(attack: Attack, response: httpx.Response) -> None:
    body = response.json()
    assert response.status_code == attack.status, body
    if attack.status == 405:
        assert response.headers["allow"] == "POST"
    assert body["errors"][0]["extensions"]["code"] == attack.code
    assert "data" not in body or body["data"] is None
    if attack.absent is not None:
        assert attack.absent not in response.text
