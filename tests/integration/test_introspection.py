"""GraphiQL's docs pane reads the schema through the standard introspection query,
whose type references nest ~15 levels deep: the depth limit must let it through (in
dev mode, or with the introspection scope), while validation's own
MaxIntrospectionDepthRule still refuses introspection built to blow up."""

from __future__ import annotations

from graphql import get_introspection_query

from tests.support.gateways import RunningGateway

# What GraphiQL 3 asks for.
GRAPHIQL_INTROSPECTION = get_introspection_query(
    descriptions=True, input_value_deprecation=True, schema_description=True
)
# fields of the types of fields of the types of fields...: exponential output.
EXPLODING = (
    "{ __schema { types { fields { type { fields { type { fields { type { fields "
    "{ name } } } } } } } } } }"
)


async def test_graphiqls_introspection_query_is_answered_with_descriptions(
    served: RunningGateway,
) -> None:
    body = await served.query(GRAPHIQL_INTROSPECTION)
    assert "errors" not in body, body["errors"]
    types = {t["name"]: t for t in body["data"]["__schema"]["types"]}
    order = types["Order"]
    assert order["description"] and all(f["description"] for f in order["fields"])


async def test_introspection_built_to_explode_is_refused(served: RunningGateway) -> None:
    body = await served.query(EXPLODING)
    assert "data" not in body or body["data"] is None
    assert body["errors"] and "introspection" in body["errors"][0]["message"].lower()
