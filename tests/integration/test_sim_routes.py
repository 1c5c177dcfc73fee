"""Each running simulated source routes exactly the operations its contract documents."""

from __future__ import annotations

import aiohttp
import pytest

from sim.cluster import SOURCES, start_cluster
from sim.openapi import build_document
from tests.support.gateways import MakeDataset


def documented(source: str) -> set[tuple[str, str]]:
    """(method, path template) of every operation in ``source``'s document."""
    paths = build_document(source)["paths"]
    return {(method.upper(), path) for path, item in paths.items() for method in item}


def _concrete(path: str) -> str:
    """``path`` with every placeholder filled in (no record has that id)."""
    return "/".join("nope" if part.startswith("{") else part for part in path.split("/"))


def _routed(status: int, body: bytes) -> bool:
    """False for the router's own refusal of an unknown path or method."""
    return status not in (404, 405) or b"no route for" not in body


@pytest.mark.parametrize("source", SOURCES)
async def test_running_servers_route_what_is_documented_and_nothing_else(
    source: str, make_dataset: MakeDataset
) -> None:
    """Every documented operation reaches a handler of a running source (its answer
    may be a refusal, never the router's "no route"), and the operations documented
    only by the other sources do not."""
    others = {op for other in SOURCES if other != source for op in documented(other)}
    foreign = others - documented(source)
    assert foreign  # the sources do not all serve the same routes
    dataset = make_dataset(seed=3, orders=5, customers=5)
    async with await start_cluster(dataset) as cluster, aiohttp.ClientSession() as http:
        base = cluster.urls[source]
        for method, path in sorted(documented(source) | foreign):
            async with http.request(method, base + _concrete(path)) as resp:
                routed = _routed(resp.status, await resp.read())
            assert routed == ((method, path) in documented(source)), (source, method, path)
