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

from resolvers.context import RequestContext
from resolvers.loaders import Loader, Loaders

S = TypeVar("S")  # the object the field is on
V = TypeVar("V")  # the record the loader gives
R = TypeVar("R")  # the field's value
F = TypeVar("F", bound=Callable[..., Any])


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

    def marks(self, resolver: F) -> F:
        """Decorates the resolver that awaits :meth:`resolve`, so that a compiled plan
        finds this declaration (:func:`declared`)."""
        resolver.loader_field = self  # type: ignore[attr-defined]
        return resolver


def declared(resolver: object) -> LoaderField[Any, Any, Any] | None:
    """The declaration :meth:`LoaderField.marks` put on ``resolver``, if any."""
    found = getattr(resolver, "loader_field", None)
    return found if isinstance(found, LoaderField) else None
