"""Our order search as Shopify's orders ``query:`` and back
(sources/adapters/shopify/search.py), and the check of each page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sim.seed import Dataset
from sources.adapters.search import OrderSearch
from sources.adapters.shopify.search import (
    OrderQuery,
    numbers_query,
    order_query,
    parse_order_query,
)
from sources.records import FinancialStatus, FulfillmentStatus


@pytest.fixture(scope="module")
def dataset(make_dataset) -> Dataset:
    return make_dataset(orders=300)


FULL_SEARCH = OrderSearch(
    customer_id="cus_27800",
    account_id="acct_webshop",
    statuses=(FulfillmentStatus.UNFULFILLED, FulfillmentStatus.ON_HOLD),
    financial_statuses=(FinancialStatus.PAID,),
    updated_since=datetime(2026, 11, 1, tzinfo=UTC),
    placed_from=datetime(2026, 10, 1, 2, tzinfo=timezone(timedelta(hours=2))),
    placed_to=datetime(2026, 11, 1, 12, 30, 0, 250000, tzinfo=UTC),
)


def test_a_search_is_shopifys_query():
    assert order_query(FULL_SEARCH) == (
        "(fulfillment_status:unfulfilled OR fulfillment_status:on_hold)"
        " AND financial_status:paid"
        " AND updated_at:>='2026-11-01T00:00:00Z'"
        " AND created_at:>='2026-10-01T00:00:00Z'"
        " AND created_at:<'2026-11-01T12:30:00.250000Z'"
        " AND customer_id:27800"
        " AND source_name:acct_webshop"
    )


def test_the_simulated_api_reads_the_query_back():
    assert parse_order_query(order_query(FULL_SEARCH)) == OrderQuery(search=FULL_SEARCH)


@pytest.mark.parametrize(
    ("status", "word"),
    [
        (FulfillmentStatus.UNFULFILLED, "unfulfilled"),
        (FulfillmentStatus.PARTIALLY_FULFILLED, "partial"),
        (FulfillmentStatus.FULFILLED, "fulfilled"),
        (FulfillmentStatus.SCHEDULED, "scheduled"),
        (FulfillmentStatus.ON_HOLD, "on_hold"),
        (FulfillmentStatus.REQUEST_DECLINED, "request_declined"),
    ],
)
def test_each_fulfillment_status_is_a_filter_value(status: FulfillmentStatus, word: str):
    query = f"fulfillment_status:{word}"
    assert order_query(OrderSearch(statuses=(status,))) == query
    assert parse_order_query(query).search.statuses == (status,)


@pytest.mark.parametrize("status", list(FinancialStatus), ids=lambda s: s.name)
def test_each_financial_status_is_a_filter_value(status: FinancialStatus):
    query = f"financial_status:{status.name.lower()}"
    assert order_query(OrderSearch(financial_statuses=(status,))) == query
    assert parse_order_query(query).search.financial_statuses == (status,)


def test_in_progress_has_no_filter_value_so_the_page_is_checked(dataset: Dataset):
    search = OrderSearch(
        statuses=(FulfillmentStatus.IN_PROGRESS, FulfillmentStatus.UNFULFILLED),
        financial_statuses=(FinancialStatus.PAID,),
    )
    assert order_query(search) == "financial_status:paid"
    matched = {o.fulfillment_status for o in dataset.orders.values() if search.matches(o)}
    assert matched == {FulfillmentStatus.IN_PROGRESS, FulfillmentStatus.UNFULFILLED}


@pytest.mark.parametrize("customer_id", ["cus_does_not_exist", "cus_", "cus_١٢"])
def test_a_customer_no_shopify_customer_can_be_is_refused(customer_id: str):
    """The adapter then answers an empty page without asking Shopify."""
    with pytest.raises(ValueError):
        order_query(OrderSearch(customer_id=customer_id))


def test_order_numbers_are_names():
    assert numbers_query(["1001"]) == "name:'#1001'"
    query = numbers_query(["1001", "1002"])
    assert query == "(name:'#1001' OR name:'#1002')"
    assert parse_order_query(query) == OrderQuery(search=OrderSearch(), numbers=("1001", "1002"))
    assert parse_order_query("name:1003").numbers == ("1003",)
    with pytest.raises(ValueError):
        numbers_query([])


def test_a_value_with_quotes_and_spaces_is_quoted_and_escaped():
    search = OrderSearch(account_id="Acme's shop (EU)")
    assert order_query(search) == r"source_name:'Acme\'s shop (EU)'"
    assert parse_order_query(order_query(search)).search == search


def test_nothing_to_filter_is_an_empty_query():
    assert order_query(OrderSearch()) == ""
    assert parse_order_query("  ") == OrderQuery(search=OrderSearch())


def test_the_parser_takes_either_quote_and_an_implied_and():
    parsed = parse_order_query(
        ' financial_status:voided  updated_at:>="2026-11-01T00:00:00+01:00" '
    )
    assert parsed.search == OrderSearch(
        financial_statuses=(FinancialStatus.VOIDED,),
        updated_since=datetime(2026, 10, 31, 23, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    "query",
    [
        "tag:vip",
        "financial_status:unknown_word",
        "fulfillment_status:in_progress",
        "NOT financial_status:paid",
        "-financial_status:paid",
        "financial_status:paid OR financial_status:voided",
        "(financial_status:paid OR fulfillment_status:fulfilled)",
        "(financial_status:paid",
        "financial_status:paid)",
        "(financial_status:paid AND financial_status:voided)",
        "financial_status:paid AND financial_status:voided",
        "updated_at:>='2026-11-01T00:00:00'",
        "updated_at:>=2026",
        "(updated_at:>='2026-11-01T00:00:00Z' OR updated_at:>='2026-11-02T00:00:00Z')",
        "created_at:<=2026-11-01",
        "financial_status:",
        "paid",
        "AND financial_status:paid",
        "customer_id:cus 1",
    ],
)
def test_the_parser_refuses_what_is_not_the_subset(query: str):
    with pytest.raises(ValueError):
        parse_order_query(query)


def test_order_matches_each_filter(dataset: Dataset):
    order = next(iter(dataset.orders.values()))
    placed, updated = order.placed_at, order.updated_at
    assert OrderSearch().matches(order)
    for search in (
        OrderSearch(customer_id=order.customer.id),
        OrderSearch(account_id=order.account_id),
        OrderSearch(statuses=(order.fulfillment_status,)),
        OrderSearch(financial_statuses=(order.financial_status,)),
        OrderSearch(updated_since=updated),
        OrderSearch(placed_from=placed, placed_to=placed + timedelta(seconds=1)),
    ):
        assert search.matches(order), search
    for search in (
        OrderSearch(customer_id="cus_0"),
        OrderSearch(account_id="acct_other"),
        OrderSearch(statuses=(FulfillmentStatus.REQUEST_DECLINED,)),
        OrderSearch(updated_since=updated + timedelta(seconds=1)),
        OrderSearch(placed_from=placed + timedelta(seconds=1)),
        OrderSearch(placed_to=placed),
    ):
        assert not search.matches(order), search
