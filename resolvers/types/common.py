"""Small shared GraphQL types."""

from __future__ import annotations

from datetime import datetime

import strawberry

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


@strawberry.type
class MailingAddress:
    name: str
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str
    country_code: str
    phone: str | None

    @classmethod
    def from_record(cls, address: records.MailingAddress) -> MailingAddress:
        return cls(
            name=address.name,
            line1=address.line1,
            line2=address.line2,
            city=address.city,
            region=address.region,
            postal_code=address.postal_code,
            country_code=address.country_code,
            phone=address.phone,
        )


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
