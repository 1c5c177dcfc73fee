"""What keeps a request cheap: a document is parsed and validated once, leaf fields
have no async resolvers, and each source's session bounds its connections and its
waits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import strawberry.schema.schema
from graphql import GraphQLObjectType, get_named_type, is_leaf_type

import gateway.admission.documents as admission_documents
import resolvers.schema
from gateway.settings import SOURCE_NAMES, load_settings
from resolvers.schema import build_schema
from sim.cluster import SimCluster
from sources.adapters.registry import Upstreams
from tests.support.gateways import in_process_gateway, settings_for
from tests.support.queries import ORDER_BY_NUMBER

# Leaf fields that may have an async resolver, and why. Each is one resolver per
# order that awaits another source's loader, priced as an edge by the cost model.
ASYNC_LEAVES = {
    "Order.customerStatus": "derived from the shipments' carrier tracking",
    "Order.health": "the worst exception over tracking, stock and tickets",
}


def _counting(calls: list[str], name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return function(*args, **kwargs)

    return counted


async def test_the_same_document_is_parsed_and_validated_once(
    sim: SimCluster, monkeypatch: pytest.MonkeyPatch
):
    # Admission parses and validates (its cache keeps the result); execution takes the
    # document from there: strawberry's own parse and validation must not run either.
    calls: list[str] = []
    for module, name in (
        (admission_documents, "parse"),
        (resolvers.schema, "validate_document"),
        (strawberry.schema.schema, "parse"),
        (strawberry.schema.schema, "validate_document"),
    ):
        monkeypatch.setattr(module, name, _counting(calls, name, getattr(module, name)))
    number = next(iter(sim.dataset.orders.values())).number
    settings = settings_for(sim.urls, document_cache_size=4099)
    async with in_process_gateway(settings) as gateway:
        for _ in range(3):
            body = await gateway.query(ORDER_BY_NUMBER, {"number": number})
            assert body["data"]["orderByNumber"]["number"] == number
    assert sorted(calls) == ["parse", "validate_document"]


def test_leaf_fields_have_no_async_resolver():
    schema = build_schema()
    subscription = schema._schema.subscription_type
    checked, async_leaves = 0, set()
    for name, graphql_type in schema._schema.type_map.items():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type is subscription:
            continue
        if name.startswith("__"):
            continue
        definition = schema.get_type_by_name(name)
        assert definition is not None, name
        fields = {schema.config.name_converter.from_field(f): f for f in definition.fields}
        for field_name, field in graphql_type.fields.items():
            if not is_leaf_type(get_named_type(field.type)):
                continue
            checked += 1
            strawberry_field = fields[field_name]
            if strawberry_field.base_resolver is not None and strawberry_field.is_async:
                async_leaves.add(f"{name}.{field_name}")
    assert checked > 100
    assert async_leaves == set(ASYNC_LEAVES)


async def test_source_sessions_limit_connections_per_host_and_every_wait():
    settings = load_settings(
        {
            "OG_CARRIER_MAX_CONNECTIONS": "7",
            "OG_CARRIER_CONNECT_TIMEOUT_MS": "150",
            "OG_CARRIER_READ_TIMEOUT_MS": "900",
            "OG_CARRIER_TOTAL_TIMEOUT_MS": "1200",
        }
    )
    configs = [settings.source(name) for name in SOURCE_NAMES]
    upstreams = Upstreams.open(*configs)
    try:
        for client, config in zip(upstreams.all(), configs, strict=True):
            session = client._session
            connector = session.connector
            assert connector is not None
            assert 0 < connector.limit_per_host == config.max_connections <= connector.limit
            timeout = session.timeout
            assert (timeout.connect, timeout.sock_read, timeout.total) == (
                config.connect_timeout_s,
                config.read_timeout_s,
                config.total_timeout_s,
            )
        carrier = upstreams.carrier._session
        assert carrier.connector is not None and carrier.connector.limit_per_host == 7
        assert (carrier.timeout.connect, carrier.timeout.sock_read) == (0.15, 0.9)
        assert carrier.timeout.total == 1.2
    finally:
        await upstreams.close()
