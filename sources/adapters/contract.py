"""The contract test kit: pytest suites that check an adapter against its protocol's
promises (docs/adapters.md). Import a suite into a test module, subclass it with a
name pytest collects, and give it a ``subject`` fixture::

    from sources.adapters.contract import BatchReadContract, Subject

    class TestMyTracking(BatchReadContract):
        @pytest.fixture
        async def subject(self):
            adapter = MyTrackingAdapter(SourceConfig(base_url=...))
            yield Subject(adapter, adapter.trackings, known={...}, unknown=[...])
            await adapter.close()

:class:`BatchReadContract` checks a batch read (found records by key, ``None`` for
what the source does not have, a full batch answered, keys kept as asked; a ticketing
adapter's read through :func:`tickets_with_comments`);
:class:`CaseInsensitiveKeysContract` checks keys that match in any case;
:class:`DownSourceContract` checks that a source that cannot be reached is a
retryable ``SourceError``; :class:`OrderListContract` checks the OMS's order list
(newest first, cursors that chain without gaps or repeats, the limit);
:class:`ChangeEventsContract` checks ``verify_webhook`` on a delivery the source signed
(``Subject.delivery``): a change event that names what changed, and a refusal for a
tampered or unsigned one. Needs pytest
and pytest-asyncio (test dependencies, not the gateway's); for pytest's detailed
assertion messages, call ``pytest.register_assert_rewrite("sources.adapters.contract")``
in your conftest.py before importing it.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from sources.adapters.protocols import OrdersAdapter, SourceAdapter, TicketsAdapter
from sources.adapters.search import OrderSearch
from sources.failures import SOURCE_TIMEOUT, SOURCE_UNAVAILABLE, SourceError
from sources.records import Ticket, read_apart, with_comments
from sources.webhooks import SIGNATURE_INVALID, WebhookError

BatchRead = Callable[[list[str]], Awaitable[Mapping[str, Any]]]
Delivery = Callable[[], tuple[bytes, dict[str, str]]]  # a signed delivery: body, headers


@dataclass
class Subject:
    """An opened adapter, the batch read under test, records its source holds by key
    (``known``), keys it does not have (``unknown``) and what it answers for those:
    ``None`` ("not found"), or an empty value where every key has one (a ticketing
    system answers an order without tickets, or one it never heard of, with []).
    ``delivery`` makes one change-event delivery as the source sends it, signed with a
    secret the adapter was configured with."""

    adapter: SourceAdapter
    read: BatchRead
    known: Mapping[str, Any]
    unknown: list[str] = field(default_factory=list)
    absent: Any = None
    delivery: Delivery | None = None


def tickets_with_comments(adapter: TicketsAdapter) -> BatchRead:
    """A ticketing adapter's batch read as the graph reads it, for
    :class:`BatchReadContract`: each order's tickets with their comments, those the
    adapter reads apart (``comments_by_tickets``) asked in one call."""

    async def read(order_ids: list[str]) -> dict[str, list[Ticket] | None]:
        found = await adapter.tickets_by_orders(order_ids)
        keys = read_apart(t for ts in found.values() for t in ts or ())
        comments = await adapter.comments_by_tickets(keys) if keys else {}
        return {o: None if ts is None else with_comments(ts, comments) for o, ts in found.items()}

    return read


class BatchReadContract:
    """A batch read answers each key it was asked, as it was asked: the record, or
    the subject's ``absent``."""

    async def test_known_keys_answer_their_records(self, subject: Subject) -> None:
        keys = list(subject.known)[: subject.adapter.batch_size]
        assert keys, "the subject names no known key"
        assert await subject.read(keys) == {key: subject.known[key] for key in keys}

    async def test_keys_the_source_does_not_have_answer_absent(self, subject: Subject) -> None:
        assert subject.unknown, "the subject names no unknown key"
        keys = subject.unknown[: subject.adapter.batch_size]
        assert await subject.read(keys) == dict.fromkeys(keys, subject.absent)

    async def test_a_mixed_batch_in_any_order_answers_every_key(self, subject: Subject) -> None:
        keys = [*list(subject.known)[:5], *subject.unknown[:5]]
        random.Random(7).shuffle(keys)
        answer = await subject.read(keys)
        assert set(answer) == set(keys)
        for key in keys:
            assert answer[key] == subject.known.get(key, subject.absent)

    async def test_a_full_batch_is_answered(self, subject: Subject) -> None:
        """``batch_size`` keys at once: the most the gateway's loaders ever send."""
        size = subject.adapter.batch_size
        known = list(subject.known)[:size]
        padding = [f"contract-missing-{n}" for n in range(size - len(known))]
        answer = await subject.read(known + padding)
        assert {key: answer[key] for key in known} == {k: subject.known[k] for k in known}
        assert all(answer[key] == subject.absent for key in padding)


class CaseInsensitiveKeysContract:
    """For a source whose keys match in any case (tracking numbers): a key asked in
    another case answers its record, under the key as asked (the gateway looks the
    answer up by what it asked)."""

    async def test_a_key_in_another_case_answers_under_the_key_asked(
        self, subject: Subject
    ) -> None:
        key = next(iter(subject.known))
        asked = key.lower() if key != key.lower() else key.upper()
        assert await subject.read([asked]) == {asked: subject.known[key]}


class DownSourceContract:
    """A source that cannot be reached is a retryable ``SourceError``, never another
    exception and never an empty answer. ``subject.adapter`` points at an address
    nothing listens on."""

    async def test_an_unreachable_source_is_a_retryable_source_error(
        self, subject: Subject
    ) -> None:
        key = next(iter(subject.known), None) or subject.unknown[0]
        with pytest.raises(SourceError) as raised:
            await subject.read([key])
        assert raised.value.code in {SOURCE_UNAVAILABLE, SOURCE_TIMEOUT}
        assert raised.value.retryable
        assert await subject.adapter.ping() is False


class OrderListContract:
    """The OMS's order list: newest first, pages that chain by cursor without gaps
    or repeats, at most ``limit`` orders a page. ``orders`` is an ``OrdersAdapter``
    whose source holds at least ``3 * limit`` orders."""

    limit = 7

    async def test_pages_chain_newest_first_without_repeats(self, orders: OrdersAdapter) -> None:
        seen: list[Any] = []
        cursor = None
        for _ in range(3):
            page = await orders.search_orders(OrderSearch(), limit=self.limit, cursor=cursor)
            assert 0 < len(page.edges) <= self.limit
            seen += [edge.node for edge in page.edges]
            assert page.page_info.has_next_page
            cursor = page.page_info.end_cursor
        ids = [order.id for order in seen]
        assert len(set(ids)) == len(ids), "an order listed twice"
        placed = [order.placed_at for order in seen]
        assert placed == sorted(placed, reverse=True), "not newest first"
        whole = await orders.search_orders(OrderSearch(), limit=3 * self.limit)
        assert [edge.node.id for edge in whole.edges] == ids, "pages skipped an order"

    async def test_an_order_listed_is_the_order_read_by_id(self, orders: OrdersAdapter) -> None:
        page = await orders.search_orders(OrderSearch(), limit=self.limit)
        listed = {edge.node.id: edge.node for edge in page.edges}
        assert await orders.orders_by_ids(list(listed)) == listed


class ChangeEventsContract:
    """A delivery the source signed is a change event naming what changed (its cache
    tags); one whose body was changed on the way, or that carries no signature, is
    refused with 401 before its body is trusted."""

    def _delivery(self, subject: Subject) -> tuple[bytes, dict[str, str]]:
        assert subject.delivery is not None, "the subject makes no delivery"
        return subject.delivery()

    async def test_a_signed_delivery_is_a_change_event(self, subject: Subject) -> None:
        body, headers = self._delivery(subject)
        verified = await subject.adapter.verify_webhook(body, headers)
        assert verified.msg_id, "a delivery needs an id to be claimed once"
        assert verified.event.tags(), "the event names nothing to refresh"

    async def test_a_tampered_delivery_is_refused(self, subject: Subject) -> None:
        body, headers = self._delivery(subject)
        tampered = body[:-1] + (b" " if body[-1:] != b" " else b"\n")
        with pytest.raises(WebhookError) as refused:
            await subject.adapter.verify_webhook(tampered, headers)
        assert (refused.value.status, refused.value.code) == (401, SIGNATURE_INVALID)

    async def test_an_unsigned_delivery_is_refused(self, subject: Subject) -> None:
        body, _ = self._delivery(subject)
        with pytest.raises(WebhookError) as refused:
            await subject.adapter.verify_webhook(body, {"content-type": "application/json"})
        assert (refused.value.status, refused.value.code) == (401, SIGNATURE_INVALID)
