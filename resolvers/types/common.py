"""Small shared GraphQL types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.access import requires
from sources import records


@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID


@strawberry.type(description="A time window, e.g. a promised or estimated delivery.")
class DateWindow:
    earliest: datetime
    latest: datetime

    @classmethod
    def of(cls, window: tuple[datetime, datetime] | None) -> DateWindow | None:
        return None if window is None else cls(earliest=window[0], latest=window[1])

    @classmethod
    def from_record(cls, window: records.DeliveryWindow | None) -> DateWindow | None:
        return None if window is None else cls(earliest=window.earliest, latest=window.latest)


@strawberry.type(description="An amount of money; `amount` is a decimal string.")
class Money:
    amount: str
    currency_code: str


@strawberry.type(
    description="A postal address; without pii:read only city, region and country are shown."
)
class MailingAddress:
    name: str | None = strawberry.field(directives=requires("pii:read"))
    line1: str | None = strawberry.field(directives=requires("pii:read"))
    line2: str | None = strawberry.field(directives=requires("pii:read"))
    city: str
    region: str | None
    postal_code: str | None = strawberry.field(directives=requires("pii:read"))
    country_code: str
    phone: str | None = strawberry.field(directives=requires("pii:read"))

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


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool = strawberry.field(
        description="True when edges come before this page. Forward pagination only: "
        "exact on `Order.timeline` (true when `after` was given); on `orders` and "
        "`exceptionQueue` always false, as the Relay spec allows when it cannot be "
        "determined efficiently (the OMS and the queue are read forward only)."
    )
    start_cursor: str | None = strawberry.field(
        description="The cursor of the first edge; null when the page is empty."
    )
