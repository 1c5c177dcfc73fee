"""Who may see what: the caller's tenant and scopes, and the fields scopes guard.

Scopes are declared on the schema with ``@requiresScopes`` (visible in the SDL) and
turned, once per set of scopes, into the set of field coordinates the caller may
not read. Each source's data needs one scope (``SOURCE_SCOPES``); a field that reads
a guarded source declares its scopes once, with ``ScopeGuard``, which also refuses it
(null, ``UNAUTHORIZED_FIELD``) to a caller denied it: one set membership, the
coordinate taken from ``info``. Personal data is masked when objects are built, and
writes are refused before execution, so those fields only carry the directive
(``requires``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver
from strawberry.schema_directive import Location
from strawberry.types.field import StrawberryField

from resolvers.client_errors import UNAUTHORIZED_FIELD, UserInputError
from resolvers.scopes import ALL_SCOPES, EVERY_ACCOUNT, SCOPES
from resolvers.types.freshness import DataSource


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="requiresScopes",
    description="The caller needs every scope of at least one inner list of `scopes`.",
)
class RequiresScopes:
    scopes: list[list[str]]


# The scope that reading each source's data needs.
SOURCE_SCOPES: Mapping[DataSource, str] = {
    DataSource.OMS: "orders:read",
    DataSource.INVENTORY: "inventory:read",
    DataSource.CARRIER: "shipments:read",
    DataSource.TICKETING: "tickets:read",
}


def source_scopes(sources: Iterable[DataSource]) -> tuple[str, ...]:
    """The scopes reading all of ``sources`` needs, in the order of ``SCOPES``."""
    needed = {SOURCE_SCOPES[source] for source in sources}
    return tuple(scope for scope in SCOPES if scope in needed)


# What reading exceptions needs: they are derived from all four sources.
EXCEPTION_SCOPES = source_scopes(DataSource)


def requires(*scopes: str) -> list[object]:
    """``directives=`` for a field that needs all of ``scopes`` and is guarded
    elsewhere (masked when built, or refused at admission)."""
    return [RequiresScopes(scopes=[list(scopes)])]


class ScopeGuard(FieldExtension):
    """``extensions=[ScopeGuard(*scopes)]``: the field needs all of ``scopes``; it
    carries the ``@requiresScopes`` directive and resolves to an ``UNAUTHORIZED_FIELD``
    error for a caller denied it."""

    def __init__(self, *scopes: str) -> None:
        self.directive = RequiresScopes(scopes=[list(scopes)])

    def apply(self, field: StrawberryField) -> None:
        if self.directive not in field.directives:  # each schema build applies it again
            field.directives.append(self.directive)

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: strawberry.Info, **kwargs: Any
    ) -> Any:
        access: Access = info.context.access
        access.require(f"{info.path.typename}.{info.field_name}")  # the path names the parent
        return await next_(source, info, **kwargs)


@dataclass(frozen=True, slots=True)
class Access:
    """The caller as the graph sees it. ``tenant`` is an account id, or ``*`` for
    internal callers who see every account."""

    tenant: str
    scopes: frozenset[str]
    denied: frozenset[str] = field(default=frozenset())  # "Type.field" coordinates
    internal: bool = True  # staff (consoles) see internal events and exceptions

    @property
    def pii(self) -> bool:
        return "pii:read" in self.scopes

    def sees(self, account_id: str) -> bool:
        return self.tenant in (EVERY_ACCOUNT, account_id)

    @property
    def view(self) -> str:
        """What this caller may be shown, as a stable string: callers with the same view
        may be answered alike (a kept mutation outcome is replayed only within one)."""
        kind = "internal" if self.internal else "external"
        return f"{self.tenant}|{kind}|{','.join(sorted(self.scopes))}"

    def require(self, coordinate: str) -> None:
        """Raise ``UNAUTHORIZED_FIELD`` if the caller may not read ``coordinate``."""
        if coordinate in self.denied:
            raise UserInputError(
                f"{coordinate} needs a scope this API key does not have",
                code=UNAUTHORIZED_FIELD,
            )


FULL_ACCESS = Access(EVERY_ACCOUNT, ALL_SCOPES)


class ScopeMap:
    """The guarded fields of a schema, and the coordinates each scope set is denied."""

    def __init__(self, schema: strawberry.Schema) -> None:
        self.guarded: dict[str, tuple[frozenset[str], ...]] = {}
        for graphql_type in schema._schema.type_map.values():
            definition = getattr(graphql_type, "extensions", {}).get("strawberry-definition")
            for strawberry_field in getattr(definition, "fields", ()):
                for directive in strawberry_field.directives:
                    if isinstance(directive, RequiresScopes):
                        name = schema.config.name_converter.get_graphql_name(strawberry_field)
                        self.guarded[f"{graphql_type.name}.{name}"] = tuple(
                            frozenset(needed) for needed in directive.scopes
                        )
        self._denied: dict[frozenset[str], frozenset[str]] = {}

    def access(self, tenant: str, scopes: frozenset[str], *, internal: bool) -> Access:
        denied = self._denied.get(scopes)
        if denied is None:
            denied = frozenset(
                coordinate
                for coordinate, alternatives in self.guarded.items()
                if not any(needed <= scopes for needed in alternatives)
            )
            if len(self._denied) < 1024:  # distinct scope sets are few; stay bounded
                self._denied[scopes] = denied
        return Access(tenant, scopes, denied, internal)
