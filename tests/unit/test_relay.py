"""Cursors and page building shared by every connection: the formats clients hold stay
readable, one cap, and ``PageInfo`` bounded by the edges; global ids, one spelling each;
the timeline's cursors, a place in its order."""

from __future__ import annotations

import base64
from datetime import timedelta

import msgspec
import pytest

from domain.timeline import EventKind as K
from domain.timeline import TimelineEvent, build_timeline
from resolvers.client_errors import UserInputError
from resolvers.relay import (
    MAX_CURSOR_CHARS,
    MAX_PAGE,
    Cursors,
    check_first,
    from_global_id,
    order_cursors,
    to_global_id,
)
from resolvers.types.exception_queue import QUEUE_CURSORS
from resolvers.types.order import OrderConnection, OrderEdge
from resolvers.types.order_timeline import (
    TIMELINE_CURSORS,
    TimelineConnection,
    TimelineEdge,
    timeline_page,
)
from sources.records import FulfillmentHold, Ticket, TicketComment
from sources.records import HoldReason as H
from sources.records import ShipmentStatus as S
from sources.records import TicketStatus as TS
from tests.support.builders import NOW, fulfillment, line, order, shipment, tracking
from tests.support.global_ids import b64
from tests.support.timeline_builders import ticket

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


@pytest.mark.parametrize(
    "parts",
    [("ord_1",), ("ord_12",), ("ord_123",), ("ord_1", "li_2"), ("o" * 64, "L.i-" + "9" * 60)],
)
def test_every_global_id_the_gateway_writes_reads_back(parts: tuple[str, ...]) -> None:
    assert from_global_id(to_global_id("Shipment", *parts)) == ("Shipment", list(parts))


# Another spelling of an id the gateway writes decodes to the same object; it is refused,
# so no object is reachable under an id it does not answer with.
ORDER_1 = to_global_id("Order", "ord_1")  # "T3JkZXI6b3JkXzE", 11 bytes: unpadded
NOT_CANONICAL = {
    "padded": ORDER_1 + "=",
    "junk after the padding": ORDER_1 + "=!!!",
    "junk inside": ORDER_1[:4] + "!" + ORDER_1[4:],
    "a blank inside": ORDER_1[:4] + " " + ORDER_1[4:],
    "a line break after": ORDER_1 + "\n",
    "the last character's spare bits set": ORDER_1[:-1] + "F",
    "a percent-encoded part": b64("LineItem:ord%5F926391:li%5F6974269", pad=False),
    "a percent-encoded order id": b64("Order:%6Frd_1", pad=False),
}


@pytest.mark.parametrize("global_id", NOT_CANONICAL.values(), ids=NOT_CANONICAL)
def test_another_spelling_of_a_global_id_is_refused(global_id: str) -> None:
    with pytest.raises(UserInputError) as refused:
        from_global_id(global_id)
    assert refused.value.extensions == {"code": "INVALID_ID", "field": "id"}


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


# --- the timeline: a cursor is a place in the timeline's order, not a lookup -----------

HOUR = timedelta(hours=1)
ADDRESS_HOLD = FulfillmentHold(reason=H.INCORRECT_ADDRESS, held_at=NOW - 60 * HOUR)
LATER_HOLD = FulfillmentHold(reason=H.OTHER, held_at=NOW - HOUR)
SCANS = {
    "1Z1": tracking(
        "1Z1",
        S.IN_TRANSIT,
        ((NOW - 10 * HOUR).isoformat(), S.IN_TRANSIT),
        ((NOW - 5 * HOUR).isoformat(), S.IN_TRANSIT),
    )
}
SCANS["1Z1"] = msgspec.structs.replace(
    SCANS["1Z1"],
    checkpoints=[
        msgspec.structs.replace(c, message=f"SCAN {n}")
        for n, c in enumerate(SCANS["1Z1"].checkpoints)
    ],
)
PENDING = ticket("52001", TS.PENDING, NOW - 49 * HOUR, NOW - 48 * HOUR)
REPLIED = msgspec.structs.replace(
    PENDING,
    updated_at=NOW,
    comments=[TicketComment(id="9", author="Agent", body="b", public=True, created_at=NOW)],
)


def _events(
    holds: list[FulfillmentHold], tickets: list[Ticket] | None = None
) -> list[TimelineEvent]:
    """Placed and paid 3 days ago, shipped 20 hours ago, two scans since, and ``holds``
    on its one fulfillment order."""
    shipped = msgspec.structs.replace(shipment("1Z1", ("l1", 1)), shipped_at=NOW - 20 * HOUR)
    record = msgspec.structs.replace(
        order([line("l1", 2, shipped=1)], shipments=[shipped]),
        placed_at=NOW - 72 * HOUR,
        fulfillment_orders=[msgspec.structs.replace(fulfillment(), holds=holds)],
    )
    return build_timeline(record, SCANS, tickets)


def _kinds(page: TimelineConnection) -> list[K]:
    return [edge.node.kind for edge in page.edges]


def test_a_cursor_on_a_released_hold_resumes_after_its_place() -> None:
    page = timeline_page(_events([ADDRESS_HOLD, LATER_HOLD]), 3, None)
    assert _kinds(page) == [K.PLACED, K.PAID, K.HELD]
    # the address hold is released: the later hold is now the only one
    rest = timeline_page(_events([LATER_HOLD]), 10, page.page_info.end_cursor)
    assert _kinds(rest) == [K.SHIPPED, K.TRACKING, K.TRACKING, K.HELD]
    assert rest.page_info.has_previous_page and not rest.page_info.has_next_page


def test_a_cursor_on_a_ticket_update_that_moved_skips_nothing() -> None:
    page = timeline_page(_events([], [PENDING]), 4, None)
    assert _kinds(page) == [K.PLACED, K.PAID, K.TICKET_OPENED, K.TICKET_ANSWERED]
    cursor = page.page_info.end_cursor
    # an agent replies: the ticket's update moves to now, after everything else
    replied = timeline_page(_events([], [REPLIED]), 10, cursor)
    later = [K.SHIPPED, K.TRACKING, K.TRACKING]
    assert _kinds(replied) == [*later, K.TICKET_ANSWERED, K.TICKET_COMMENTED]
    # then solves it: the same cursor still reads on
    solved = timeline_page(
        _events([], [msgspec.structs.replace(REPLIED, status=TS.SOLVED)]), 10, cursor
    )
    assert _kinds(solved) == [*later, K.TICKET_COMMENTED, K.TICKET_SOLVED]


def _told(events: list[TimelineEvent]) -> list[tuple[object, ...]]:
    return [(e.at, e.kind, e.message) for e in events]


def test_a_cursor_resumes_strictly_after_its_place_whatever_has_gone() -> None:
    events = _events([ADDRESS_HOLD, LATER_HOLD], [REPLIED])
    cursors = [edge.cursor for edge in timeline_page(events, MAX_PAGE, None).edges]
    assert len(cursors) == len(events) > 8
    for at, cursor in enumerate(cursors):
        for gone in range(len(events)):
            left = events[:gone] + events[gone + 1 :]
            page = timeline_page(left, MAX_PAGE, cursor)
            shown = [(e.node.at, e.node.kind, e.node.message) for e in page.edges]
            assert shown == _told([e for e in events[at + 1 :] if e is not events[gone]])


def test_the_timeline_s_cursors_keep_their_format() -> None:
    events = _events([])
    placed = b64(f"tl1:{events[0].at.isoformat()}|OMS|PLACED|oms:placed")
    assert timeline_page(events, 1, None).page_info.end_cursor == placed
    # the first format, the event's key alone, still resumes after its event
    for held in (placed, b64("oms:placed")):
        assert _kinds(timeline_page(events, 1, held)) == [K.PAID]


AT = NOW.isoformat()
BAD_TIMELINE_CURSORS = {
    "not base64": "not base64!",
    "another connection's": b64("eq1:3:000001764000000|ord_1"),
    "a key no event has": b64("oms:nothing"),
    "no key": b64(f"tl1:{AT}|OMS|PLACED"),
    "a time without an offset": b64("tl1:2026-11-20T12:00:00|OMS|PLACED|oms:placed"),
    "not a time": b64("tl1:soon|OMS|PLACED|oms:placed"),
    "no such source": b64(f"tl1:{AT}|FAX|PLACED|oms:placed"),
    "no such kind": b64(f"tl1:{AT}|OMS|LOST|oms:placed"),
    "too long": b64(f"tl1:{AT}|OMS|PLACED|" + "k" * 400),
}


@pytest.mark.parametrize("cursor", BAD_TIMELINE_CURSORS.values(), ids=BAD_TIMELINE_CURSORS)
def test_a_cursor_the_timeline_did_not_write_is_refused(cursor: str) -> None:
    with pytest.raises(UserInputError) as refused:
        timeline_page(_events([]), 5, cursor)
    assert refused.value.extensions == {"code": "BAD_USER_INPUT", "field": "after"}
