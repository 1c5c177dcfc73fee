"""Small shared GraphQL types."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, Protocol, Self, TypeVar

import strawberry

from resolvers.access import requires
from sources import records

W = TypeVar("W")


class _OnRead:
    """A field worked out by ``build`` on its first read, then kept on the object: from
    then on a plain instance attribute (it shadows this non-data descriptor), read by
    both executors as any other attribute."""

    __slots__ = ("_build", "_name")

    def __init__(self, name: str, build: Callable[[Any], object]) -> None:
        self._name = name
        self._build = build

    def __get__(self, obj: object, owner: type | None = None) -> object:
        if obj is None:
            return self
        value = self._build(obj)
        setattr(obj, self._name, value)  # not via __dict__, which would make one per object
        return value


def built_on_read(**builders: Callable[[Any], object]) -> Callable[[type[W]], type[W]]:
    """Class decorator, outside ``@strawberry.type``, for a graph object that wraps a
    record: each named field (public or ``Private``) is built from the record when a
    query first reads it, so a query converts only what it selects. The type's own
    ``__init__`` sets the other fields; the schema does not change."""

    def install(cls: type[W]) -> type[W]:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        for name, build in builders.items():
            if name not in names:
                raise TypeError(f"{cls.__name__} has no field {name!r}")
            setattr(cls, name, _OnRead(name, build))
        return cls

    return install


@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque global id, made by the gateway; pass it to `node(id:)`."
    )


@strawberry.type(
    description="A time window, e.g. a promised or estimated delivery, with the offset its "
    "source gave (a carrier's estimate is in the destination's local time)."
)
class DateWindow:
    earliest: datetime = strawberry.field(description="Start of the window.")
    latest: datetime = strawberry.field(description="End of the window.")

    @classmethod
    def of(cls, window: tuple[datetime, datetime] | None) -> DateWindow | None:
        return None if window is None else cls(earliest=window[0], latest=window[1])

    @classmethod
    def from_record(cls, window: records.DeliveryWindow | None) -> DateWindow | None:
        return None if window is None else cls(earliest=window.earliest, latest=window.latest)


@strawberry.type(description="An amount of money, as the OMS gives it.")
class Money:
    amount: str = strawberry.field(
        description='Decimal string in the currency\'s major unit, e.g. "24.90"; never a float.'
    )
    currency_code: str = strawberry.field(description="ISO 4217 currency code, e.g. USD.")


@strawberry.type(
    description="A postal address from the OMS; without pii:read only city, region and "
    "country are shown."
)
class MailingAddress:
    name: str | None = strawberry.field(
        description="Recipient's name; null without pii:read.", directives=requires("pii:read")
    )
    line1: str | None = strawberry.field(
        description="Street address; null without pii:read.", directives=requires("pii:read")
    )
    line2: str | None = strawberry.field(
        description="Apartment, suite or floor, if any; null without pii:read.",
        directives=requires("pii:read"),
    )
    city: str = strawberry.field(description="City.")
    region: str | None = strawberry.field(
        description="State, province or region code, where the country uses one."
    )
    postal_code: str | None = strawberry.field(
        description="Postal code; null without pii:read.", directives=requires("pii:read")
    )
    country_code: str = strawberry.field(description="ISO 3166-1 alpha-2 country code.")
    phone: str | None = strawberry.field(
        description="Recipient's phone number, if given; null without pii:read.",
        directives=requires("pii:read"),
    )

    @classmethod
    def from_record(cls, address: records.MailingAddress, *, pii: bool) -> MailingAddress:
        """The address, its personal parts masked (``None``) unless ``pii``."""
        return cls(
            name=address.name if pii else None,
            line1=address.line1 if pii else None,
            line2=address.line2 if pii else None,
            city=address.city,
            region=address.region,
            postal_code=address.postal_code if pii else None,
            country_code=address.country_code,
            phone=address.phone if pii else None,
        )


@strawberry.type(
    description="Where a page of a connection stands (Relay Cursor Connections); "
    "connections page forward only, with `first` and `after`."
)
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="True when more edges follow this page: pass `endCursor` as `after`."
    )
    end_cursor: str | None = strawberry.field(
        description="Where the next page starts: the cursor of the last edge, or of the "
        "last entry scanned when a filtered page stopped short; null when the page is empty."
    )
    has_previous_page: bool = strawberry.field(
        description="True when edges come before this page. Forward pagination only: "
        "exact on `Order.timeline` (true when `after` was given); on `orders` and "
        "`exceptionQueue` always false, as the Relay spec allows when it cannot be "
        "determined efficiently (the OMS and the queue are read forward only)."
    )
    start_cursor: str | None = strawberry.field(
        description="The cursor of the first edge; null when the page is empty."
    )


class _Edge(Protocol):
    @property
    def cursor(self) -> str: ...

    @property
    def node(self) -> object: ...


EdgeT = TypeVar("EdgeT", bound=_Edge)


class Connection(Generic[EdgeT]):
    """A page of a connection (Relay Cursor Connections, forward only). Each concrete
    connection is a strawberry type subclassing it, its fields declared with their own
    descriptions (they are the public schema); ``page`` builds any of them."""

    @classmethod
    def page(
        cls,
        edges: Sequence[EdgeT],
        *,
        has_next: bool,
        has_previous: bool = False,
        resume: str | None = None,
    ) -> Self:
        """``resume``: where the next page starts when not after the last edge (the
        source's own end cursor, or the last entry a filtered scan read)."""
        end = resume if resume is not None else edges[-1].cursor if edges else None
        fields: dict[str, Any] = {
            "edges": list(edges),
            "page_info": PageInfo(
                has_next_page=has_next,
                end_cursor=end,
                has_previous_page=has_previous,
                start_cursor=edges[0].cursor if edges else None,
            ),
        }
        if "nodes" in cls.__annotations__:  # the timeline has no `nodes`
            fields["nodes"] = [edge.node for edge in edges]
        return cls(**fields)
