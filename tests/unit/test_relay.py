"""Cursors and page building shared by every connection: the formats clients hold stay
readable, one cap, and ``PageInfo`` bounded by the edges."""

from __future__ import annotations

import base64

import pytest

from resolvers.client_errors import UserInputError
from resolvers.relay import (
    MAX_CURSOR_CHARS,
    MAX_PAGE,
    Cursors,
    check_first,
    from_global_id,
    order_cursors,
)
from resolvers.types.exception_queue import QUEUE_CURSORS
from resolvers.types.order import OrderConnection, OrderEdge
from resolvers.types.order_timeline import TIMELINE_CURSORS, TimelineConnection, TimelineEdge
from tests.support.global_ids import b64

# Cursors as clients hold them, written out as the gateway has always written them.
HELD = [
    (QUEUE_CURSORS, b64("eq1:3:000001764000000|ord_1"), "3:000001764000000|ord_1"),
    (TIMELINE_CURSORS, b64("oms:placed"), "oms:placed"),
]


@pytest.mark.parametrize(("cursors", "held", "raw"), HELD)
def test_cursors_clients_hold_still_decode(cursors: Cursors, held: str, raw: str) -> None:
    assert cursors.decode(held) == raw
    assert cursors.encode(raw) == held


# A source's cursors as the native OMS and Shopify write them: opaque to the gateway.
NATIVE = b64("2026-11-01T10:00:00+00:00|ord_100001").rstrip("=")
SHOPIFY = base64.b64encode(b'{"last_id":1001,"last_value":"2026-11-01 10:00:00.000000"}').decode()
ORDERS = order_cursors("a pepper")


@pytest.mark.parametrize("source_cursor", [NATIVE, SHOPIFY, "x" * 270])
def test_the_order_list_takes_back_every_cursor_it_sealed(source_cursor: str) -> None:
    sealed = ORDERS.encode(source_cursor)
    assert len(sealed) <= MAX_CURSOR_CHARS
    assert ORDERS.decode(sealed) == source_cursor
    assert order_cursors("a pepper").decode(sealed) == source_cursor  # another instance


@pytest.mark.parametrize(
    "cursor",
    [
        b64("eq1:3:000001764000000|ord_1"),  # another connection's
        "not base64!",
        "é",
        b64("og1:" + NATIVE),  # unsealed, as the gateway wrote them before
        b64("og2:" + SHOPIFY),  # made up: no seal
        b64("og2:" + SHOPIFY + ".AAAAAAAAAAAAAAAA"),  # made up: a wrong seal
        order_cursors("another pepper").encode(NATIVE),  # another deployment's
        order_cursors(None).encode(NATIVE),  # dev mode's, without a pepper
        ORDERS.encode(NATIVE)[:-8],  # cut short
        ORDERS.encode("A" * 300),  # over the length any cursor has
    ],
    ids=[
        "another connection's",
        "not base64",
        "not ascii",
        "old format",
        "no seal",
        "wrong seal",
        "another deployment's",
        "dev mode's",
        "cut short",
        "too long",
    ],
)
def test_a_cursor_the_order_list_did_not_seal_is_refused(cursor: str) -> None:
    with pytest.raises(UserInputError) as refused:
        ORDERS.decode(cursor)
    assert refused.value.extensions == {"code": "BAD_USER_INPUT", "field": "after"}


def test_a_changed_source_cursor_breaks_the_seal() -> None:
    text = base64.urlsafe_b64decode(ORDERS.encode(NATIVE)).decode()
    raw, _, seal = text.rpartition(".")
    changed = raw[:-1] + ("B" if raw[-1] == "A" else "A")
    forged = b64(changed + "." + seal)
    with pytest.raises(UserInputError):
        ORDERS.decode(forged)


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
