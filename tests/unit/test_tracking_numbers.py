"""Tracking numbers are case-insensitive: a change event naming a number in another
letter case than the OMS holds drops what was cached under it and concerns the live
subscriptions of its order. (The exception queue's map: test_exception_store.py; the
whole path, from the webhook: tests/integration/test_tracking_number_case.py and
tests/e2e/test_tracking_number_case.py.)"""

from __future__ import annotations

import itertools

import pytest

from resolvers.subscription import _Interest
from sources.events import ChangeEvent, EventType, tracking_tag
from tests.support.builders import line, order, shipment
from tests.support.gateways import FIXED_NOW

NUMBER = "1Za1e2740114885012"
SPELLINGS = (NUMBER.lower(), NUMBER.upper(), NUMBER)
PAIRS = list(itertools.product(SPELLINGS, repeat=2))  # (as the OMS holds it, as named)


def _tracking_event(number: str) -> ChangeEvent:
    return ChangeEvent(
        type=EventType.TRACKING_UPDATED, occurred_at=FIXED_NOW, tracking_number=number
    )


@pytest.mark.parametrize(("held", "named"), PAIRS)
def test_an_event_drops_the_tag_its_number_is_cached_under_in_any_case(
    held: str, named: str
) -> None:
    # The cache tags a tracking with the number as the order asked for it.
    assert _tracking_event(named).tags() == [tracking_tag(held)]


@pytest.mark.parametrize(("held", "named"), PAIRS)
def test_an_event_in_any_case_concerns_the_subscribers_of_the_parcels_order(
    held: str, named: str
) -> None:
    interest = _Interest.of(order([line()], shipments=[shipment(held, ("l1", 1))]))
    assert interest.wants(_tracking_event(named))
    assert not interest.wants(_tracking_event("1Z999AA10123456784"))
    assert not interest.wants(ChangeEvent(type=EventType.TICKET_UPDATED, occurred_at=FIXED_NOW))
