"""Cursors and page building shared by every connection: the formats clients hold stay
readable, one cap, and ``PageInfo`` bounded by the edges."""

from __future__ import annotations

import base64

import pytest

from resolvers.client_errors import UserInputError
from resolvers.query import ORDER_CURSORS
from resolvers.relay import MAX_PAGE, Cursors, check_first, check_sort_cursor, from_global_id
from resolvers.types.exception_queue import QUEUE_CURSORS
from resolvers.types.order import OrderConnection, OrderEdge
from resolvers.types.order_timeline import TIMELINE_CURSORS, TimelineConnection, TimelineEdge


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


# Cursors as clients hold them, written out as the gateway has always written them.
SOURCE_CURSOR = b64("2026-11-01T10:00:00+00:00|ord_100001").rstrip("=")
HELD = [
    (ORDER_CURSORS, b64("og1:" + SOURCE_CURSOR), SOURCE_CURSOR),
    (QUEUE_CURSORS, b64("eq1:3:000001764000000|ord_1"), "3:000001764000000|ord_1"),
    (TIMELINE_CURSORS, b64("oms:placed"), "oms:placed"),
]


@pytest.mark.parametrize(("cursors", "held", "raw"), HELD)
def test_cursors_clients_hold_still_decode(cursors: Cursors, held: str, raw: str) -> None:
    assert cursors.decode(held) == raw
    assert cursors.encode(raw) == held


@pytest.mark.parametrize(
    "cursor",
    [
        b64("eq1:3:000001764000000|ord_1"),  # another connection's
        "not base64!",
        "é",
        b64("og1:" + "A" * 300),  # over the length any cursor has
    ],
)
def test_a_cursor_of_another_connection_or_none_is_refused(cursor: str) -> None:
    with pytest.raises(UserInputError) as refused:
        ORDER_CURSORS.decode(cursor)
    assert refused.value.extensions == {"code": "BAD_USER_INPUT", "field": "after"}


def test_the_source_cursor_is_checked_before_it_is_forwarded() -> None:
    assert check_sort_cursor(SOURCE_CURSOR) == SOURCE_CURSOR
    for forged in ("garbage", b64("2026-11-01T10:00:00|ord_1"), SOURCE_CURSOR + "=="):
        with pytest.raises(UserInputError):
            check_sort_cursor(forged)


def test_global_ids_clients_hold_still_decode() -> None:
    held = base64.urlsafe_b64encode(b"LineItem:ord_1:li_2").rstrip(b"=").decode()
    assert from_global_id(held) == ("LineItem", ["ord_1", "li_2"])


@pytest.mark.parametrize("first", [1, MAX_PAGE])
def test_the_page_cap_admits_1_to_max(first: int) -> None:
    check_first(first)


@pytest.mark.parametrize("first", [0, -1, MAX_PAGE + 1])
def test_the_page_cap_refuses_the_rest(first: int) -> None:
    with pytest.raises(UserInputError) as refused:
        check_first(first)
    assert refused.value.extensions == {"code": "BAD_USER_INPUT", "field": "first"}


def test_a_page_is_bounded_by_its_edges() -> None:
    edges = [TimelineEdge(cursor=c, node=None) for c in ("a", "b")]  # type: ignore[arg-type]
    page = TimelineConnection.page(edges, has_next=True, has_previous=True)
    info = page.page_info
    assert (info.start_cursor, info.end_cursor) == ("a", "b")
    assert (info.has_next_page, info.has_previous_page) == (True, True)
    assert not hasattr(page, "nodes")  # the timeline has none


def test_an_empty_page_has_no_cursors_and_resume_overrides_the_end() -> None:
    empty = OrderConnection.page([], has_next=True, resume="r")
    assert (empty.page_info.start_cursor, empty.page_info.end_cursor) == (None, "r")
    assert empty.nodes == [] and empty.page_info.has_previous_page is False
    node = object()
    page = OrderConnection.page([OrderEdge(cursor="a", node=node)], has_next=False)  # type: ignore[arg-type]
    assert page.nodes == [node] and page.page_info.end_cursor == "a"
    none = OrderConnection.page([], has_next=False)
    assert (none.page_info.start_cursor, none.page_info.end_cursor) == (None, None)
