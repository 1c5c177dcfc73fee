"""Fields whose value is one dataloader load for a key of their object, converted.

The edges into the other sources (a line's availability, a shipment's tracking, an
order's tickets) are such fields. Declared as a :class:`LoaderField`, the reference
executor awaits :meth:`LoaderField.resolve` like any async resolver, while a compiled
plan (``resolvers.compiled.plan``) issues the loads of every such field it meets and
completes each from its load's done callback: no coroutine, task or gather per field,
which on a page of 50 orders was about a quarter of the gateway's CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.types import Info

from resolvers.access import ScopeGuard
from resolvers.context import RequestContext
from resolvers.loaders import Loader, Loaders

S = TypeVar("S")  # the object the field is on
V = TypeVar("V")  # the record the loader gives
R = TypeVar("R")  # the field's value


@dataclass(frozen=True, slots=True)
class LoaderField(Generic[S, V, R]):
    """``convert(source, loader(loaders).load(key(source)).value, context)``; null
    without a load when ``key`` gives None. A load's failure is the field's error."""

    loader: Callable[[Loaders], Loader[V]]
    key: Callable[[S], str | None]
    convert: Callable[[S, V | None, RequestContext], R | None]

    async def resolve(self, source: S, context: RequestContext) -> R | None:
        key = self.key(source)
        if key is None:
            return None
        found = await self.loader(context.loaders).load(key)
        return self.convert(source, found.value, context)

    def field(self, graphql_type: object, *, description: str, scope: str) -> Any:
        """The GraphQL field of ``graphql_type`` (nullable), readable with ``scope``. Its
        resolver awaits :meth:`resolve` and carries this declaration, so that a compiled
        plan finds it (:func:`declared`). Assigned without an annotation, the field keeps
        its place among the class's resolvers in the schema."""
        declaration = self

        async def resolver(self: S, info: Info) -> R | None:
            return await declaration.resolve(self, info.context)

        resolver.__annotations__["return"] = graphql_type | None  # type: ignore[operator]
        resolver.loader_field = self  # type: ignore[attr-defined]
        return strawberry.field(
            resolver=resolver, description=description, extensions=[ScopeGuard(scope)]
        )


def declared(resolver: object) -> LoaderField[Any, Any, Any] | None:
    """The declaration :meth:`LoaderField.field` put on ``resolver``, if any."""
    found = getattr(resolver, "loader_field", None)
    return found if isinstance(found, LoaderField) else None
