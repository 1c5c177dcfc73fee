"""`schema.graphql` is exactly what the code builds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from graphql import GraphQLObjectType, Undefined, get_named_type, is_non_null_type

from resolvers.schema import build_schema

ROOT = Path(__file__).resolve().parents[2]


def test_schema_file_equals_export_schema():
    exported = subprocess.run(
        [sys.executable, "-m", "gateway", "export-schema"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert exported.startswith("type ") or "type Query" in exported
    assert (ROOT / "schema.graphql").read_text() == exported, (
        "schema.graphql is stale: run `ordergraph export-schema > schema.graphql`"
    )


def test_every_connection_requires_first():
    """A page size is never implied: each connection field takes ``first: Int!``
    without a default, so the cost of every list is the client's to state."""
    schema = build_schema()._schema
    connections = [
        (type_.name, name, field)
        for type_ in schema.type_map.values()
        if isinstance(type_, GraphQLObjectType) and not type_.name.startswith("__")
        for name, field in type_.fields.items()
        if get_named_type(field.type).name.endswith("Connection")
    ]
    assert len(connections) >= 3  # orders, exceptionQueue, timeline
    for type_name, name, field in connections:
        first = field.args.get("first")
        assert first is not None, f"{type_name}.{name} has no first"
        assert is_non_null_type(first.type) and first.default_value is Undefined, (
            f"{type_name}.{name}: first must be required, without a default"
        )
