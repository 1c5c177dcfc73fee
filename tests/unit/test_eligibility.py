"""Table tests of what an order still accepts: cancel, cancel lines, change address."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from domain import eligibility as E
from domain.eligibility import ChangeEligibility, Decision, cancellable_quantities
from domain.eligibility import change_eligibility as decide
from resolvers.types.change_eligibility import ChangeReason
from sim.seed import Dataset
from sources.records import FulfillmentOrderStatus as FO
from tests.support.builders import fulfillment, line, order
from tests.support.eligibility_cases import (
    CASES,
    OK,
    OMS_REASON_CODES,
    REASON_CODES,
    SHIP_L1,
    carrying,
    no,
)


@pytest.mark.parametrize(("name", "record", "expected"), CASES, ids=[c[0] for c in CASES])
def test_change_eligibility(name, record, expected):
    assert decide(record) == ChangeEligibility(*expected)


def test_the_table_covers_every_reason_code():
    seen = {d.reason_code for _, _, decisions in CASES for d in decisions}
    assert seen - {None} == REASON_CODES


def test_every_reason_code_is_a_change_reason_of_the_graph():
    assert {reason.value for reason in ChangeReason} == REASON_CODES | OMS_REASON_CODES


@pytest.mark.parametrize(("name", "record", "expected"), CASES, ids=[c[0] for c in CASES])
def test_an_oms_that_cancels_whole_orders_only_refuses_every_line_cancel(name, record, expected):
    """Whatever the order's state, unless it is closed (cancelled, nothing left): the
    OMS's own limit is said first, as it holds for good. The other changes are as
    the table says."""
    cancel, cancel_lines, change_address = expected
    closed = cancel_lines.reason_code in (E.ALREADY_CANCELLED, E.NOTHING_TO_CANCEL)
    lines = cancel_lines if closed else no(E.LINE_CANCEL_NOT_SUPPORTED)
    decided = decide(record, oms_cancels_lines=False)
    assert decided == ChangeEligibility(cancel, lines, change_address)


@pytest.mark.parametrize(
    ("name", "record", "expected"),
    [
        ("not started", order([line(ordered=3)], [carrying(fulfillment(), l1=3)]), {"l1": 3}),
        (
            "the shipped unit is not cancellable",
            order(
                [line(ordered=3, shipped=1)],
                [carrying(fulfillment(FO.CLOSED), l1=1), carrying(fulfillment(), l1=2)],
                SHIP_L1,
            ),
            {"l1": 2},
        ),
        (
            "already cancelled units are not counted twice",
            order([line(ordered=3, cancelled=2)], [carrying(fulfillment(), l1=3)]),
            {"l1": 1},
        ),
        (
            "only the stoppable location's share",
            order(
                [line(ordered=2), line("l2")],
                [
                    carrying(fulfillment(FO.IN_PROGRESS), l1=1, l2=1),
                    carrying(fulfillment(FO.ON_HOLD), l1=1),
                ],
            ),
            {"l1": 1},
        ),
        (
            "units shipped from a held fulfillment order are not cancellable",
            order(
                [line(ordered=3, shipped=1)],
                [
                    carrying(fulfillment(FO.ON_HOLD), l1=2),
                    carrying(fulfillment(FO.IN_PROGRESS), l1=1),
                ],
                [replace(SHIP_L1[0], fulfillment_order_id="fo-ON_HOLD")],
            ),
            {"l1": 1},
        ),
        ("being picked", order([line()], [fulfillment(FO.IN_PROGRESS)]), {}),
        ("cancelled order", order([line()], cancelled=True), {}),
    ],
)
def test_cancellable_quantities(name, record, expected):
    assert cancellable_quantities(record) == expected


# --- the seeded data set ---------------------------------------------------------------


def test_seeded_orders(dataset: Dataset):
    for record in dataset.orders.values():
        decisions = decide(record)
        for decision in (decisions.cancel, decisions.cancel_lines, decisions.change_address):
            assert decision.reason_code in REASON_CODES | {None}, record.number
            if decision.allowed:
                assert decision.reason_code in (None, E.REQUIRES_WAREHOUSE_APPROVAL)
        if record.cancelled_at is not None:
            denied = no(E.ALREADY_CANCELLED)
            assert decisions == ChangeEligibility(denied, denied, denied), record.number
            assert cancellable_quantities(record) == {}


@pytest.mark.parametrize(
    ("scenario", "cancel"),
    [
        ("just_placed", OK),
        ("payment_hold", OK),
        ("processing", no(E.IN_FULFILLMENT)),
        ("delivered", no(E.ALREADY_SHIPPED)),
        ("returned", no(E.ALREADY_SHIPPED)),
        ("cancelled", no(E.ALREADY_CANCELLED)),
    ],
)
def test_seeded_scenarios(dataset: Dataset, scenario: str, cancel: Decision):
    for order_id in dataset.order_ids(scenario):
        assert decide(dataset.orders[order_id]).cancel == cancel, scenario
