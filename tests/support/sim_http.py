"""Plain HTTP calls on the simulated sources, checking the status and decoding the body."""

from __future__ import annotations

from typing import TypeVar

import aiohttp
import msgspec

from sim.cluster import SimCluster
from sources.records import ErrorBody, Order, OrderBatch

T = TypeVar("T")


async def post(
    http: aiohttp.ClientSession, url: str, body: object = None, *, status: int = 200
) -> bytes:
    data = body if isinstance(body, bytes) else b"" if body is None else msgspec.json.encode(body)
    async with http.post(url, data=data) as resp:
        payload = await resp.read()
        assert resp.status == status, payload
        assert resp.content_type == "application/json"
        return payload


async def post_error(
    http: aiohttp.ClientSession, url: str, body: object, status: int, code: str
) -> None:
    error = msgspec.json.decode(await post(http, url, body, status=status), type=ErrorBody)
    assert error.code == code, error


async def get(http: aiohttp.ClientSession, url: str, params: dict[str, str], into: type[T]) -> T:
    async with http.get(url, params=params) as resp:
        assert resp.status == 200
        return msgspec.json.decode(await resp.read(), type=into)


async def fetch_order(cluster: SimCluster, http: aiohttp.ClientSession, order_id: str) -> Order:
    batch = await get(http, cluster.urls["oms"] + "/orders", {"ids": order_id}, OrderBatch)
    (order,) = batch.data
    return order


async def touch(oms_url: str, *order_ids: str) -> None:
    """Mark each order changed, at the OMS's clock (``POST /admin/orders/{id}/touch``)."""
    async with aiohttp.ClientSession() as http:
        for order_id in order_ids:
            async with http.post(f"{oms_url}/admin/orders/{order_id}/touch", json={}) as resp:
                assert resp.status == 200, await resp.text()
