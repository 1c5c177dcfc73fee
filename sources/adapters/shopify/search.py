"""Our order search as the ``query:`` of Shopify's ``orders`` (its search syntax), and
back for the simulated Shopify API.

:func:`order_query` and :func:`numbers_query` say what they ask; the query may match
more than the search, so :func:`order_matches` checks each page (and is the simulated
API's filter); :func:`parse_order_query` reads exactly what they write.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sources.adapters.search import OrderSearch
from sources.adapters.shopify.gid import our_id, parse_gid, shopify_gid, to_gid
from sources.records import FinancialStatus, FulfillmentStatus

E = TypeVar("E", bound=enum.Enum)

# Our fulfillment statuses as values of the orders query's fulfillment_status filter.
# The reference lists unshipped, shipped, fulfilled, partial, scheduled, on_hold,
# unfulfilled and request_declined without defining them, and none for IN_PROGRESS.
# UNFULFILLED asks "unfulfilled", the display status's own name (the REST API's
# unfulfilled also took partly fulfilled orders): order_matches settles either way.
FULFILLMENT_FILTER: dict[FulfillmentStatus, str] = {
    FulfillmentStatus.UNFULFILLED: "unfulfilled",
    FulfillmentStatus.PARTIALLY_FULFILLED: "partial",
    FulfillmentStatus.FULFILLED: "fulfilled",
    FulfillmentStatus.SCHEDULED: "scheduled",
    FulfillmentStatus.ON_HOLD: "on_hold",
    FulfillmentStatus.REQUEST_DECLINED: "request_declined",
}
# ... and financial statuses as the financial_status filter's values (the same words)
FINANCIAL_FILTER: dict[FinancialStatus, str] = {s: s.value.lower() for s in FinancialStatus}
_Token = str | tuple[str, str]  # "(", ")", "AND", "OR", or a term (name:comparator, value)
_BARE = re.compile(r"[A-Za-z0-9_.-]+")  # a value that needs no quotes
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<paren>[()])
    | (?P<term>[a-z_]+:(?:<=|>=|<|>)?)
      (?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|(?:[^\s():'"\\]|\\.)+)
    | (?P<word>[^\s()]+)
    )\s*""",
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """What an orders ``query:`` asks for: the filters, and the order numbers of its
    ``name:`` terms (empty: any number)."""

    search: OrderSearch
    numbers: tuple[str, ...] = ()


def _quoted(text: str) -> str:
    return "'" + re.sub(r"([\\'])", r"\\\1", text) + "'"


def _token(text: str) -> str:
    return text if _BARE.fullmatch(text) else _quoted(text)


def _time(moment: datetime) -> str:
    """A time as the search syntax wants it: quoted ("Date values must be a string
    surrounded by quotes"), ISO 8601 in UTC."""
    return _quoted(moment.astimezone(UTC).isoformat().replace("+00:00", "Z"))


def _read_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"a time without an offset: {text!r}")
    return moment


def _read_from(table: Mapping[E, str]) -> Callable[[str], E]:
    reverse = {word: ours for ours, word in table.items()}

    def read(text: str) -> E:
        if text not in reverse:
            raise ValueError(f"not a value of this filter: {text!r}")
        return reverse[text]

    return read


def _customer_value(customer_id: str) -> str:
    """The customer's legacy id; ``ValueError`` for one no Shopify customer has (a
    customer's id is a number, unlike a location's)."""
    legacy = parse_gid(shopify_gid("Customer", customer_id))[1]
    if not legacy.isascii() or not legacy.isdigit():
        raise ValueError(f"{customer_id!r} names no Shopify customer")
    return _token(legacy)


@dataclass(frozen=True)
class _Filter:
    """One filter of the orders query: the ``OrderQuery`` field it fills (of its search,
    or ``numbers``), Shopify's name and comparator, and how one value is written (None:
    Shopify has no word for it) and read back."""

    field: str
    term: str
    write: Callable[[Any], str | None]
    read: Callable[[str], Any]
    many: bool = False


_ORDER_FILTERS = (
    _Filter(
        "statuses",
        "fulfillment_status:",
        FULFILLMENT_FILTER.get,
        _read_from(FULFILLMENT_FILTER),
        many=True,
    ),
    _Filter(
        "financial_statuses",
        "financial_status:",
        FINANCIAL_FILTER.get,
        _read_from(FINANCIAL_FILTER),
        many=True,
    ),
    _Filter("updated_since", "updated_at:>=", _time, _read_time),
    _Filter("placed_from", "created_at:>=", _time, _read_time),
    _Filter("placed_to", "created_at:<", _time, _read_time),
    _Filter(
        "customer_id", "customer_id:", _customer_value, lambda t: our_id(to_gid("Customer", t))
    ),
    _Filter("account_id", "source_name:", _token, str),
)
_NAME = _Filter("numbers", "name:", lambda n: _quoted(f"#{n}"), lambda t: t.removeprefix("#"), True)


def order_query(search: OrderSearch) -> str:
    """The orders ``query:`` of ``search``: every filter ANDed, a filter's values ORed.

    It may match more orders than ``search`` (statuses with IN_PROGRESS, which Shopify's
    filter has no value for, are left out, and the reference defines no filter value's
    meaning): read each page through :func:`order_matches`. With it, list newest first:
    ``sortKey: CREATED_AT, reverse: true``. ``ValueError`` for a customer id that names
    no Shopify customer."""
    groups = (_group(f, getattr(search, f.field)) for f in _ORDER_FILTERS)
    return " AND ".join(group for group in groups if group)


def numbers_query(numbers: Sequence[str]) -> str:
    """The orders ``query:`` of the orders numbered ``numbers`` (``name:'#1001'``)."""
    if not numbers:
        raise ValueError("no order number to look for")
    return _group(_NAME, tuple(numbers)) or ""


def _group(filter_: _Filter, value: Any) -> str | None:
    """``filter_``'s terms for ``value`` (one value, or a tuple of them ORed); None when
    there is nothing to ask, or Shopify has no word for one of the values."""
    if value is None or value == ():
        return None
    written = [filter_.write(v) for v in (value if filter_.many else (value,))]
    if None in written:
        return None
    terms = [f"{filter_.term}{word}" for word in written]
    return terms[0] if len(terms) == 1 else f"({' OR '.join(terms)})"


def parse_order_query(query: str) -> OrderQuery:
    """What the simulated API makes of an orders ``query:``: exactly the subset
    :func:`order_query` and :func:`numbers_query` write (terms ANDed, by whitespace or
    ``AND``; one filter's values ORed in parentheses; values bare or quoted, either
    quote). ``ValueError`` for anything else."""
    found: dict[str, list[str]] = {}
    for group in _groups(_tokens(query)):
        term = group[0][0]
        if term in found or any(other != term for other, _ in group):
            raise ValueError(f"one group per filter, of one filter: {query!r}")
        found[term] = [value for _, value in group]
    read: dict[str, Any] = {}
    for filter_ in (*_ORDER_FILTERS, _NAME):
        values = [filter_.read(text) for text in found.pop(filter_.term, ())]
        if len(values) > 1 and not filter_.many:
            raise ValueError(f"{filter_.term} takes one value")
        if values:
            read[filter_.field] = tuple(values) if filter_.many else values[0]
    if found:
        raise ValueError(f"filters the simulated API does not know: {sorted(found)}")
    numbers = read.pop("numbers", ())
    return OrderQuery(search=OrderSearch(**read), numbers=numbers)


def _tokens(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    query, at = query.strip(), 0
    while at < len(query):
        match = _TOKEN.match(query, at)
        if match is None:
            raise ValueError(f"unreadable search at {at}: {query!r}")
        if match["term"]:
            tokens.append((match["term"], _unquoted(match["value"])))
        else:
            tokens.append(match["paren"] or match["word"])
        at = match.end()
    return tokens


def _unquoted(value: str) -> str:
    if value[0] in "'\"":
        value = value[1:-1]
    return _ESCAPED.sub(r"\1", value)


def _groups(tokens: list[_Token]) -> list[list[tuple[str, str]]]:
    """The ANDed groups of ``tokens``: a term, or ORed terms in parentheses."""
    groups: list[list[tuple[str, str]]] = []
    rest = list(tokens)
    while rest:
        if groups and rest[0] == "AND":
            rest.pop(0)
        first = rest.pop(0) if rest else None
        if isinstance(first, tuple):
            groups.append([first])
        elif first == "(":
            groups.append(_ored(rest))
        else:
            raise ValueError(f"a term or '(' expected, not {first!r}")
    return groups


def _ored(rest: list[_Token]) -> list[tuple[str, str]]:
    """The ORed terms up to ``)``, taken off the front of ``rest``."""
    terms: list[tuple[str, str]] = []
    while True:
        term = rest.pop(0) if rest else None
        if not isinstance(term, tuple):
            raise ValueError(f"a term expected, not {term!r}")
        terms.append(term)
        joint = rest.pop(0) if rest else None
        if joint == ")":
            return terms
        if joint != "OR":
            raise ValueError(f"OR or ')' expected, not {joint!r}")
