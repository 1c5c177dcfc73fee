"""docs/vocabulary.md names what the code relies on: every value of the source records'
vocabularies, every carrier subtag the gateway names, and the fulfillment-order status
groups exactly as domain/progress.py defines them."""

from __future__ import annotations

import enum
import re
from pathlib import Path

import pytest

from domain import progress
from domain.carrier_events import SUB_STATUS_BY_SUBTAG
from sources import records

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "vocabulary.md").read_text()
WORDS = set(re.findall(r"[A-Za-z]+(?:_[A-Za-z0-9]+)*", PAGE))

VOCABULARIES = [
    records.FinancialStatus,
    records.FulfillmentStatus,
    records.ReturnStatus,
    records.FulfillmentOrderStatus,
    records.HoldReason,
    records.DeliveryMethodType,
    records.CancelReason,
    records.ShipmentStatus,
    records.TicketStatus,
    records.TicketPriority,
    records.TicketType,
    records.TicketChannel,
]


@pytest.mark.parametrize("vocabulary", VOCABULARIES, ids=lambda v: v.__name__)
def test_every_value_is_on_the_page(vocabulary: type[enum.Enum]) -> None:
    assert {member.value for member in vocabulary} - WORDS == set()


def test_every_named_subtag_is_on_the_page() -> None:
    assert set(SUB_STATUS_BY_SUBTAG) - WORDS == set()


def test_the_status_groups_are_the_rules_own() -> None:
    groups = {
        "finished": progress.FINISHED,
        "open work": progress.OPEN_WORK,
        "awaiting shipment": progress.AWAITING_SHIPMENT,
        "stoppable": progress.STOPPABLE,
        "handed over": progress.HANDED_OVER,
    }
    rows = dict(re.findall(rf"^\| ({'|'.join(groups)}) \| ([A-Z_, ]+) \|", PAGE, re.M))
    assert {name: {s.strip() for s in row.split(",")} for name, row in rows.items()} == {
        name: {status.value for status in group} for name, group in groups.items()
    }
