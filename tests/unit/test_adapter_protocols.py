"""What an orders adapter must have, and what it may say: an adapter written before
``cancels_lines`` existed is still an OrdersAdapter, and cancels lines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sources.adapters.protocols import OrdersAdapter, cancels_lines


class WrittenBefore:
    """Every member an orders adapter had before ``cancels_lines``."""

    name = "oms"
    base_url = "http://oms.internal"
    batch_size = 100
    breaker: Any = None

    async def ping(self) -> bool:
        return True

    async def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> Any: ...

    async def close(self) -> None: ...

    async def orders_by_ids(self, ids: list[str]) -> Any: ...

    async def orders_by_numbers(self, numbers: list[str]) -> Any: ...

    async def search_orders(self, search: Any, *, limit: int, cursor: str | None = None) -> Any: ...

    async def cancel_order(self, order_id: str, reason: Any, lines: Any = None) -> Any: ...

    async def change_shipping_address(self, order_id: str, address: Any) -> Any: ...


class WholeOrdersOnly(WrittenBefore):
    cancels_lines = False


def test_an_adapter_that_does_not_say_is_an_orders_adapter_that_cancels_lines() -> None:
    adapter = WrittenBefore()
    assert isinstance(adapter, OrdersAdapter)
    assert cancels_lines(adapter)


def test_an_adapter_may_say_it_cancels_whole_orders_only() -> None:
    assert not cancels_lines(WholeOrdersOnly())
