"""Admission before execution: document limits, operation selection, what an operation
touches and its static cost (the cost buckets are in tests/integration/test_cost_buckets.py)."""

from __future__ import annotations

import time

import pytest
from graphql import GraphQLSchema

from gateway.admission.cost import CostModel, check_cost
from gateway.admission.documents import AdmissionError, DocumentAnalyser
from gateway.admission.limits import Limits
from resolvers.schema import build_schema
from tests.support.queries import ORDER_BY_NUMBER, ORDERS_PAGE
from tests.support.timing import cpu_s, fastest

LIMITS = Limits()
# The field limits lifted, for tests of the other limits with documents they refuse.
NO_FIELD_LIMITS = Limits(
    max_document_chars=10**9,
    max_tokens=2000,
    max_fields=10**30,
    max_selections=10**6,
    max_repeats=10**6,
)


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema()._schema


@pytest.fixture
def analyser(schema: GraphQLSchema) -> DocumentAnalyser:
    return DocumentAnalyser(schema, LIMITS)


@pytest.fixture
def lenient(schema: GraphQLSchema) -> DocumentAnalyser:
    return DocumentAnalyser(schema, NO_FIELD_LIMITS)


@pytest.fixture(scope="module")
def model(schema: GraphQLSchema) -> CostModel:
    return CostModel(schema)


def refused(analyser: DocumentAnalyser, query: str, operation_name: str | None = None) -> str:
    with pytest.raises(AdmissionError) as caught:
        analyser.analyse(query, operation_name)
    assert caught.value.status == 400
    return caught.value.code


def nested(depth: int) -> str:
    """A query ``depth`` fields deep (unknown fields count: validation comes later)."""
    return "{ " + "a { " * (depth - 1) + "b" + " }" * (depth - 1) + " }"


# --- limits, each just under and just over ---


def test_depth_limit(analyser: DocumentAnalyser) -> None:
    assert analyser.analyse(nested(10), None).depth == 10
    assert refused(analyser, nested(11)) == "MAX_DEPTH_EXCEEDED"


def test_depth_counts_through_fragments(analyser: DocumentAnalyser) -> None:
    """Four fragments of two levels each, between the root field and the leaves."""
    fragments = "".join(
        f"fragment F{i} on Order {{ a {{ b {{ ...F{i + 1} }} }} }}\n" for i in range(4)
    )

    def query(last: str) -> str:
        return f'{{ order(id: "1") {{ ...F0 }} }}\n{fragments}fragment F4 on Order {{ {last} }}'

    assert analyser.analyse(query("id"), None).depth == 10
    assert refused(analyser, query("c { d }")) == "MAX_DEPTH_EXCEEDED"


def test_real_schema_depth(analyser: DocumentAnalyser) -> None:
    assert analyser.analyse(ORDER_BY_NUMBER, None).depth == 6
    assert analyser.analyse(ORDERS_PAGE, None).depth == 8


def aliased(count: int) -> str:
    return '{ order(id: "1") { ' + " ".join(f"a{i}: id" for i in range(count)) + " } }"


def test_alias_limit(analyser: DocumentAnalyser) -> None:
    assert analyser.analyse(aliased(30), None).aliases == 30
    assert refused(analyser, aliased(31)) == "MAX_ALIASES_EXCEEDED"


def with_directives(count: int) -> str:
    # Aliased: the same response key more than max_repeats times is refused on its own.
    return (
        '{ order(id: "1") { '
        + " ".join(f"d{i}: id @include(if: true)" for i in range(count))
        + " } }"
    )


def test_directive_limit(analyser: DocumentAnalyser) -> None:
    assert analyser.analyse(with_directives(10), None).directives == 10
    assert refused(analyser, with_directives(11)) == "MAX_DIRECTIVES_EXCEEDED"


def test_directives_count_everywhere(analyser: DocumentAnalyser) -> None:
    query = """
    query Q($v: Boolean = true) @a { order(id: "1") @b { ... @c { id } ...F @d } }
    fragment F on Order @e { name @f }
    """
    assert analyser.analyse(query, None).directives == 6


def root_fields(count: int) -> str:
    return "{ " + " ".join(f'r{i}: order(id: "1") {{ id }}' for i in range(count)) + " }"


def test_root_field_limit(analyser: DocumentAnalyser) -> None:
    analysis = analyser.analyse(root_fields(20), None)
    assert analysis.root_fields == ("order",)
    assert refused(analyser, root_fields(21)) == "MAX_ROOT_FIELDS_EXCEEDED"


def test_root_fields_resolve_aliases_and_fragments(analyser: DocumentAnalyser) -> None:
    query = """
    { mine: order(id: "1") { id } ...Q ... on Query { node(id: "2") { id } } }
    fragment Q on Query { orders(first: 1) { nodes { id } } }
    """
    assert analyser.analyse(query, None).root_fields == ("order", "orders", "node")


def with_tokens(count: int) -> str:
    """``{ order ( id : "1" ) { id... } }``: 10 tokens and the ids."""
    return '{ order(id: "1") { ' + "id " * (count - 10) + "} }"


def test_token_limit(analyser: DocumentAnalyser, lenient: DocumentAnalyser) -> None:
    assert lenient.analyse(with_tokens(2000), None).depth == 2
    assert refused(lenient, with_tokens(2001)) == "TOKEN_LIMIT_EXCEEDED"
    assert refused(analyser, with_tokens(LIMITS.max_tokens + 1)) == "TOKEN_LIMIT_EXCEEDED"
    assert refused(analyser, with_tokens(LIMITS.max_tokens)) == "TOO_MANY_FIELDS"


def test_comments_count_as_tokens(analyser: DocumentAnalyser) -> None:
    query = "{ __typename }" + "\n#" * 2000
    assert refused(analyser, query) == "TOKEN_LIMIT_EXCEEDED"


def test_a_field_repeated_ten_thousand_times_is_stopped_by_the_token_limit(
    lenient: DocumentAnalyser,
) -> None:
    started = time.process_time()  # this process's CPU: other processes' load adds none
    assert refused(lenient, with_tokens(10_010)) == "TOKEN_LIMIT_EXCEEDED"
    assert time.process_time() - started < 0.25  # generous: linear, not exponential


def test_syntax_error_keeps_graphql_core_message_and_location(
    analyser: DocumentAnalyser,
) -> None:
    with pytest.raises(AdmissionError) as caught:
        analyser.analyse("{ order(id: ) }", None)
    error = caught.value
    assert error.code == "GRAPHQL_PARSE_FAILED"
    assert error.message.startswith("Syntax Error: Unexpected")
    assert error.formatted == {
        "message": error.message,
        "locations": [{"line": 1, "column": 13}],
        "extensions": {"code": "GRAPHQL_PARSE_FAILED"},
    }


def test_parser_nesting_limit_is_a_depth_error(analyser: DocumentAnalyser) -> None:
    assert refused(analyser, "{ a(x: " + "[" * 600 + "] }") == "MAX_DEPTH_EXCEEDED"


def test_inline_fragments_nested_without_end_are_refused(analyser: DocumentAnalyser) -> None:
    query = "{ " + "... { " * 150 + "__typename" + " }" * 150 + " }"
    assert refused(analyser, query) == "MAX_DEPTH_EXCEEDED"


# --- fragments: cycles and bombs ---


@pytest.mark.parametrize(
    "fragments",
    [
        "fragment A on Order { id ...A }",
        "fragment A on Order { ...B } fragment B on Order { customer { name } ...A }",
        "fragment A on Order { ... on Order { lineItems { id } ...B } }"
        " fragment B on Order { ...C } fragment C on Order { ...A }",
    ],
    ids=["self", "pair", "through-inline-fragment"],
)
def test_circular_fragments_are_refused_quickly(analyser: DocumentAnalyser, fragments: str) -> None:
    started = time.thread_time()
    assert refused(analyser, f'{{ order(id: "1") {{ ...A }} }} {fragments}') == "FRAGMENT_CYCLE"
    # A walk that followed the cycle would never end (or take minutes, exponentially);
    # this thread's CPU time, which a loaded machine's other processes do not add to.
    assert time.thread_time() - started < 1.0


def fragment_bomb(levels: int, bottom: str, on: str = "Order") -> str:
    """``F0`` spreads ``F1`` twice, which spreads ``F2`` twice...: 2**levels copies."""
    fragments = "".join(
        f"fragment F{i} on {on} {{ ...F{i + 1} ...F{i + 1} }}\n" for i in range(levels)
    )
    return f"{fragments}fragment F{levels} on {on} {{ {bottom} }}"


def test_a_fragment_bomb_is_measured_in_linear_time(
    analyser: DocumentAnalyser, lenient: DocumentAnalyser
) -> None:
    started = time.thread_time()  # CPU time: other processes do not add to it
    query = '{ order(id: "1") { ...F0 } }\n' + fragment_bomb(60, "alias: id")
    assert refused(lenient, query) == "MAX_ALIASES_EXCEEDED"
    small = '{ order(id: "1") { ...F0 } }\n' + fragment_bomb(25, "alias: id")  # within 500 tokens
    assert refused(analyser, small) == "MAX_ALIASES_EXCEEDED"
    assert time.thread_time() - started < 0.5  # 2**60 paths: only linear work can be this fast


def test_unknown_fragments_are_left_to_validation(analyser: DocumentAnalyser) -> None:
    assert analyser.analyse('{ order(id: "1") { ...Missing } }', None).depth == 1


# --- operation selection ---

TWO_OPERATIONS = """
query First { order(id: "1") { id } }
query Second { orders(first: 2) { nodes { id } } }
"""


def test_operation_name_selects_the_operation(analyser: DocumentAnalyser) -> None:
    analysis = analyser.analyse(TWO_OPERATIONS, "Second")
    assert (analysis.kind, analysis.name, analysis.root_fields) == ("query", "Second", ("orders",))
    assert analyser.analyse(TWO_OPERATIONS, "First").root_fields == ("order",)


def test_anonymous_single_operation(analyser: DocumentAnalyser) -> None:
    analysis = analyser.analyse('{ order(id: "1") { id } }', None)
    assert (analysis.kind, analysis.name) == ("query", None)


def test_mutation_kind_without_a_mutation_type(analyser: DocumentAnalyser) -> None:
    analysis = analyser.analyse("mutation M { cancel { id } }", None)
    assert (analysis.kind, analysis.name, analysis.coordinates) == ("mutation", "M", frozenset())


@pytest.mark.parametrize(
    ("query", "operation_name"),
    [
        (TWO_OPERATIONS, None),
        (TWO_OPERATIONS, "Third"),
        ('{ order(id: "1") { id } }', "Named"),
        ("fragment F on Order { id }", None),
    ],
    ids=["several-unnamed", "unknown-name", "anonymous-named", "no-operation"],
)
def test_operation_not_found(
    analyser: DocumentAnalyser, query: str, operation_name: str | None
) -> None:
    assert refused(analyser, query, operation_name) == "OPERATION_NOT_FOUND"


# --- what the operation touches ---


@pytest.mark.parametrize(
    ("query", "introspection"),
    [
        ("{ __schema { types { name } } }", True),
        ('{ __type(name: "Order") { name } }', True),
        (
            '{ order(id: "1") { ...F } } fragment F on Order { id ...G }'
            " fragment G on Query { __schema { queryType { name } } }",
            True,
        ),
        ('{ __typename order(id: "1") { __typename id } }', False),
    ],
    ids=["schema", "type", "in-fragment", "typename"],
)
def test_introspection_detection(
    analyser: DocumentAnalyser, query: str, introspection: bool
) -> None:
    assert analyser.analyse(query, None).uses_introspection is introspection


def test_coordinates_through_fragments_and_inline_fragments(analyser: DocumentAnalyser) -> None:
    query = """
    query($ids: [ID!]!) {
      nodes(ids: $ids) {
        id __typename
        ... on Order { tickets { subject } ...Buyer }
        ... on Shipment { tracking { status } }
        ... { unknownField { deeper } }
      }
    }
    fragment Buyer on Order { customer { email } }
    """
    assert analyser.analyse(query, None).coordinates == {
        "Query.nodes",
        "Node.id",
        "Order.tickets",
        "SupportTicket.subject",
        "Order.customer",
        "Customer.email",
        "Shipment.tracking",
        "Tracking.status",
    }


def test_analysis_is_cached_per_text_and_operation(analyser: DocumentAnalyser) -> None:
    first = analyser.analyse(TWO_OPERATIONS, "First")
    assert analyser.analyse(TWO_OPERATIONS, "First") is first
    assert analyser.analyse(TWO_OPERATIONS, "Second") is not first
    assert first.document_hash == analyser.analyse(TWO_OPERATIONS, "Second").document_hash
    assert len(first.document_hash) == 64


def test_refusals_are_not_cached(analyser: DocumentAnalyser) -> None:
    errors = []
    for _ in range(2):
        with pytest.raises(AdmissionError) as caught:
            analyser.analyse(nested(11), None)
        errors.append(caught.value)
    assert errors[0] is not errors[1]  # a fresh exception each time
    assert errors[0].message == errors[1].message
    assert (len(analyser.cache), analyser.cache.bytes) == (0, 0)


def test_cache_is_bounded(schema: GraphQLSchema) -> None:
    analyser = DocumentAnalyser(schema, LIMITS, cache_size=2)
    first = analyser.analyse("{ a }", None)
    analyser.analyse("{ b }", None)
    analyser.analyse("{ c }", None)
    assert analyser.analyse("{ a }", None) is not first


# --- cost ---


@pytest.mark.parametrize(
    ("query", "cost"),
    [
        ("{ __typename }", 0),
        ('{ order(id: "1") { id name __typename } }', 1),
        ('{ order(id: "1") { customerStatus } }', 2),  # an enum reaching another source
        ('{ order(id: "1") { customer { email } } }', 2),
        ('{ order(id: "1") { tickets { id } } }', 1 + 1 + 3 * 1),
        ('{ order(id: "1") { lineItems { availability { sku } } } }', 1 + 5 * (1 + 1 + 1)),
        (
            '{ order(id: "1") { shipments { tracking { events { status } } } } }',
            1 + 3 * (1 + 1 + 1 + 10 * 1),
        ),
        ('{ order(id: "1") { dataSources { source } } }', 1 + 3 + 4 * 1),  # 3 sources read
        ("{ orders(first: 5) { nodes { id } pageInfo { hasNextPage } } }", 1 + 5 * 1 + 1),
        ("{ orders(first: 5) { edges { cursor node { id } } } }", 1 + 5 * (1 + 1)),
        ('{ nodes(ids: ["a", "b", "c"]) { id ... on Order { customer { name } } } }', 3 * (1 + 1)),
        ('{ node(id: "a") { ...F } } fragment F on Order { lineItems { id } }', 1 + 5),
        ("{ __schema { types { name } } }", 0),
    ],
)
def test_cost_table(analyser: DocumentAnalyser, model: CostModel, query: str, cost: int) -> None:
    assert model.requested_cost(analyser.analyse(query, None), None) == cost


LINES_WITH_STOCK = '{ order(id: "1") { lineItems { availability { sku } } } }'


@pytest.mark.parametrize(
    ("query", "data", "cost"),
    [
        # Five lines, each with its stock: as requested (1 + 5 * (1 + 1 + 1)).
        (LINES_WITH_STOCK, {"order": {"lineItems": [{"availability": {"sku": "s"}}] * 5}}, 16),
        # Two lines, one without stock: the null costs nothing, not even its source edge.
        (LINES_WITH_STOCK,
         {"order": {"lineItems": [{"availability": {"sku": "s"}}, {"availability": None}]}},
         1 + 2 + (1 + 1)),
        (LINES_WITH_STOCK, {"order": None}, 0),
        # A short page: 2 of 5 nodes.
        ("{ orders(first: 5) { nodes { id } pageInfo { hasNextPage } } }",
         {"orders": {"nodes": [{"id": "a"}, {"id": "b"}], "pageInfo": {"hasNextPage": False}}},
         1 + 2 + 1),
        # Aliases and a fragment: keys are response keys.
        ('{ a: order(id: "1") { ...T } b: order(id: "2") { id } } '
         "fragment T on Order { tickets { id } }",
         {"a": {"tickets": [{"id": "t"}]}, "b": None}, 1 + 1 + 1),
        # Under an interface, the concrete type's fields.
        ('{ node(id: "x") { id ... on Order { customer { name } customerStatus } } }',
         {"node": {"id": "x", "customer": {"name": "n"}, "customerStatus": "SHIPPED"}}, 1 + 1 + 1),
        # The same key selected twice: its selections merge.
        ('{ order(id: "1") { shipments { id } shipments { tracking { status } } } }',
         {"order": {"shipments": [{"id": "s", "tracking": {"status": "IN_TRANSIT"}}]}},
         1 + 1 + 1 + 1),
        ("{ __typename }", {"__typename": "Query"}, 0),
    ],
)  # fmt: skip
def test_actual_cost_is_the_model_over_the_answer(
    analyser: DocumentAnalyser, model: CostModel, query: str, data: object, cost: int
) -> None:
    analysis = analyser.analyse(query, None)
    assert model.actual_cost(analysis, data) == cost
    assert cost <= model.requested_cost(analysis, None)


def test_full_single_order_cost(analyser: DocumentAnalyser, model: CostModel) -> None:
    """order 1, customer 1, shippingAddress 1, customerStatus 1, the two delivery windows
    1 + 2, lines 5 * 15, fulfillment orders 3 * 24, shipments 3 * 36, tickets 1 + 3."""
    analysis = analyser.analyse(ORDER_BY_NUMBER, None)
    assert model.requested_cost(analysis, {"number": "1001"}) == 266


PAGE = """
query($first: Int!) {
  orders(first: $first) {
    nodes {
      lineItems { sku availability { available } }
      shipments { tracking { status events { status } } }
    }
  }
}
"""


def test_connection_cost_scales_with_first(analyser: DocumentAnalyser, model: CostModel) -> None:
    per_order = 1 + 5 * (1 + 2) + 3 * (1 + 2 + 10)
    analysis = analyser.analyse(PAGE, None)
    for first in (1, 10, 50):
        assert model.requested_cost(analysis, {"first": first}) == 1 + first * per_order
    literal = analyser.analyse(PAGE.replace("($first: Int!)", "").replace("$first", "50"), None)
    assert model.requested_cost(literal, None) == 1 + 50 * per_order


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ orders(first: 500) { nodes { id } } }", None),
        ("{ orders(first: 0) { nodes { id } } }", None),
        ("query($first: Int!) { orders(first: $first) { nodes { id } } }", {"first": 0}),
        ("query($first: Int!) { orders(first: $first) { nodes { id } } }", {"first": 101}),
        ("query($first: Int!) { orders(first: $first) { nodes { id } } }", {"first": -1}),
    ],
)
def test_first_out_of_range_is_refused_before_execution(
    analyser: DocumentAnalyser, model: CostModel, query: str, variables: dict | None
) -> None:
    with pytest.raises(AdmissionError) as refused:
        model.requested_cost(analyser.analyse(query, None), variables)
    assert refused.value.code == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("variables", "first"),
    [
        ({"first": 7}, 7),
        ({}, 100),
        (None, 100),
        ({"first": None}, 100),
        ({"first": "3"}, 100),
        ({"first": True}, 100),
    ],
)
def test_first_from_variables(
    analyser: DocumentAnalyser, model: CostModel, variables: dict | None, first: int
) -> None:
    analysis = analyser.analyse(
        "query($first: Int!) { orders(first: $first) { nodes { id } } }", None
    )
    assert model.requested_cost(analysis, variables) == 1 + first


def test_first_from_the_variable_default(analyser: DocumentAnalyser, model: CostModel) -> None:
    analysis = analyser.analyse("query($n: Int = 4) { orders(first: $n) { nodes { id } } }", None)
    assert model.requested_cost(analysis, None) == 1 + 4
    assert model.requested_cost(analysis, {"n": 9}) == 1 + 9


def test_nodes_cost_scales_with_the_id_list(analyser: DocumentAnalyser, model: CostModel) -> None:
    analysis = analyser.analyse(
        "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Order { tickets { id } } } }", None
    )
    per_node = 1 + (1 + 3)
    for count in (1, 20, 100):
        ids = [f"gid://x/{i}" for i in range(count)]
        assert model.requested_cost(analysis, {"ids": ids}) == count * per_node
    assert model.requested_cost(analysis, {}) == 100 * per_node
    with_default = analyser.analyse(
        'query($ids: [ID!] = ["a", "b"]) { nodes(ids: $ids) { id } }', None
    )
    assert model.requested_cost(with_default, None) == 2
    assert model.requested_cost(with_default, {"ids": ["a"]}) == 1
    assert model.requested_cost(analysis, {"ids": "gid://x/1"}) == 100 * per_node


def test_a_fragment_bomb_is_costed_quickly(lenient: DocumentAnalyser, model: CostModel) -> None:
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { ...F0 } }\n" + fragment_bomb(
        40, "... on Order { lineItems { id } }", on="Node"
    )
    started = time.thread_time()  # CPU time: other processes do not add to it
    cost = model.requested_cost(lenient.analyse(query, None), {"ids": ["a", "b"]})
    assert cost == 2 * (1 + 2**40 * 5)
    assert time.thread_time() - started < 0.5  # 2**40 paths: only linear work can be this fast


def test_cost_limit(analyser: DocumentAnalyser, model: CostModel) -> None:
    check_cost(LIMITS.max_cost, LIMITS)
    with pytest.raises(AdmissionError) as caught:
        check_cost(LIMITS.max_cost + 1, LIMITS)
    assert (caught.value.code, caught.value.status) == ("COST_LIMIT_EXCEEDED", 400)
    full_page = model.requested_cost(analyser.analyse(ORDERS_PAGE, None), {"first": 50})
    with pytest.raises(AdmissionError):
        check_cost(full_page, LIMITS)


def test_custom_costs_and_sizes(schema: GraphQLSchema, analyser: DocumentAnalyser) -> None:
    model = CostModel(
        schema,
        field_costs={"Order.customer": 5},
        list_sizes={"Order.lineItems": 2},
        default_list_size=4,
        object_cost=2,
    )
    query = '{ order(id: "1") { customer { name } lineItems { id } shipments { id } } }'
    assert model.requested_cost(analyser.analyse(query, None), None) == 2 + (5 + 2) + 2 * 2 + 4 * 2


def test_a_cache_hit_and_its_cost_are_fast(analyser: DocumentAnalyser, model: CostModel) -> None:
    variables = {"number": "1001"}
    model.requested_cost(analyser.analyse(ORDER_BY_NUMBER, None), variables)
    runs = 1000

    def hits() -> None:
        for _ in range(runs):
            model.requested_cost(analyser.analyse(ORDER_BY_NUMBER, None), variables)

    # This thread's CPU time, the fastest of a few rounds: load only ever adds to it.
    assert fastest(lambda: cpu_s(hits), within=runs * 0.001) / runs < 0.001
