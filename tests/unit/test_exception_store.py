"""The exception queue's store over a cache backend: each order in the views it
belongs to, ranked most severe then newest first, public views without internal
exceptions, and the previous entry answered by every write; and the SKUs whose stock
changes still concern an order."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from domain.exception_rules import ExceptionCode, Severity
from domain.queue_entries import ExceptionFact, QueueEntry
from services.exception_queue.store import QueueStore, open_skus
from sources.cache import MemoryBackend
from sources.cache.backend import CacheUnavailable, IndexEntry, IndexPosition
from sources.records import Order
from tests.support.builders import line, order, shipment
from tests.support.gateways import FIXED_NOW


def _entry(order_id: str, account: str, *facts: tuple[str, str, int, bool]) -> QueueEntry:
    """An entry of (code, severity, hours before FIXED_NOW, internal) facts."""
    found = [
        ExceptionFact(
            code=ExceptionCode(code),
            severity=Severity(severity),
            detected_at=FIXED_NOW - timedelta(hours=hours),
            internal=internal,
            subject_kind="order",
            subject_id=order_id,
        )
        for code, severity, hours, internal in facts
    ]
    entry = QueueEntry.of(order_id, account, found, FIXED_NOW)
    assert entry is not None
    return entry


def _order(order_id: str, account: str) -> Order:
    return msgspec.structs.replace(order([line()]), id=order_id, account_id=account)


async def test_views_rank_most_severe_then_newest_and_hide_internal_exceptions() -> None:
    store = QueueStore(MemoryBackend())
    entries = {
        "o1": _entry("o1", "a", ("LATE", "CRITICAL", 30, False)),
        "o2": _entry("o2", "a", ("BACKORDERED", "WARNING", 1, False)),
        "o3": _entry(
            "o3", "b", ("LATE", "CRITICAL", 2, False), ("FRAUD_REVIEW", "WARNING", 1, True)
        ),
        "o4": _entry("o4", "b", ("FRAUD_REVIEW", "WARNING", 0, True)),
        "o5": _entry("o5", "a", ("CARRIER_DELAY", "WARNING", 1, False)),  # ties o2's rank
    }  # fmt: skip
    previous = await store.write([(_order(i, e.account_id), e) for i, e in entries.items()])
    assert previous == dict.fromkeys(entries)

    async def members(scope: str, internal: bool) -> list[str]:
        page = await store.page(scope, internal=internal, limit=10, after=None)
        return [entry.order_id for _, entry in page]

    assert await members("*", True) == ["o3", "o1", "o4", "o5", "o2"]
    assert await members("*", False) == ["o3", "o1", "o5", "o2"]  # o4 only has internal ones
    assert await members("a", False) == ["o1", "o5", "o2"]
    assert await members("b", True) == ["o3", "o4"]
    (_, public_o3), *_ = await store.page("b", internal=False, limit=10, after=None)
    assert [f.code for f in public_o3.exceptions] == [ExceptionCode.LATE]

    # o3 heals, o4 loses its last exception: gone from every view they were in.
    healed = _entry("o3", "b", ("FRAUD_REVIEW", "WARNING", 1, True))
    previous = await store.write([(_order("o3", "b"), healed), (_order("o4", "b"), None)])
    assert previous["o3"] == entries["o3"] and previous["o4"] is None
    assert await members("b", False) == []
    assert await members("b", True) == ["o3"]


def test_open_skus_are_those_with_units_neither_cancelled_nor_shipped() -> None:
    lines = [
        line("open", ordered=2, shipped=1),
        line("done", ordered=2, shipped=2),
        line("void", ordered=2, cancelled=2),
        line("lagging", ordered=2),  # its counter says 0 shipped; a shipment carried both
    ]
    placed = order(lines, shipments=[shipment("1Z1", ("lagging", 2))])
    assert open_skus(placed) == {"SKU-open"}
    assert open_skus(msgspec.structs.replace(placed, cancelled_at=FIXED_NOW)) == set()


class Failing(MemoryBackend):
    """A backend whose first ``failures`` index reads fail, as Redis timing out."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def index_range(
        self, index: str, limit: int, after: IndexPosition | None = None
    ) -> list[IndexEntry]:
        if self.failures:
            self.failures -= 1
            raise CacheUnavailable("TimeoutError")
        return await super().index_range(index, limit, after)


async def test_a_store_call_that_fails_is_asked_again_up_to_three_times():
    blip = Failing(failures=2)
    assert await QueueStore(blip).orders_of_sku("SKU-1") == []
    assert blip.failures == 0
    down = Failing(failures=5)
    with pytest.raises(CacheUnavailable):
        await QueueStore(down).orders_of_sku("SKU-1")
    assert down.failures == 2


NUMBER = "1Za1e2740114885012"


@pytest.mark.parametrize("held", [NUMBER.lower(), NUMBER.upper(), NUMBER])
async def test_a_tracking_number_named_in_any_case_finds_its_order(held: str) -> None:
    store = QueueStore(MemoryBackend())
    await store.remember([order([line()], shipments=[shipment(held, ("l1", 1))])])
    for named in (NUMBER.lower(), NUMBER.upper(), NUMBER):
        assert await store.orders_of_trackings([named]) == ["o1"]
    assert await store.orders_of_trackings(["1Z999AA10123456784"]) == []
