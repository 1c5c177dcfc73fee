"""``/metrics`` cannot be grown by a client, and it and ``/readyz``'s details are the
operator's once ``OG_ADMIN_TOKEN`` is set."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway import observability
from gateway.observability import OTHER, OperationLabels
from sim.cluster import SimCluster
from tests.support.gateways import RunningGateway, in_process_gateway, settings_for
from tests.support.secured import Secured, secured_gateway

TOKEN = "operator-token-for-tests-0123456789"


def test_operation_labels_are_a_bounded_set() -> None:
    labels = OperationLabels(limit=3)
    assert [labels.label(f"Op{i}") for i in range(5)] == ["Op0", "Op1", "Op2", "other", "other"]
    assert labels.label("Op1") == "Op1"  # a name it knows keeps its label
    assert labels.label(None) == "anonymous"
    assert labels.label("Op9", trusted_id="orders-page") == "doc:orders-page"


def test_label_sets_sharing_a_directory_admit_the_limit_together(tmp_path: Path) -> None:
    """Two workers, then one that replaces them, over one metrics directory: together
    they admit ``limit`` names, each keeping the names another admitted."""
    first, second = (OperationLabels(limit=3, directory=str(tmp_path)) for _ in range(2))
    assert [first.label("A"), second.label("B"), second.label("A")] == ["A", "B", "A"]
    assert first.label("C") == "C"
    assert [first.label("D"), second.label("D"), second.label("C")] == [OTHER, OTHER, "C"]
    replacement = OperationLabels(limit=3, directory=str(tmp_path))
    assert [replacement.label(name) for name in "EABC"] == [OTHER, "A", "B", "C"]


@pytest.fixture
def fresh_labels(monkeypatch: pytest.MonkeyPatch) -> OperationLabels:
    """The process's label set, fresh for this test, so the names other tests use
    keep their labels, and this test's names do not use up theirs. Its bound is a
    tenth of the product's (200), so that going past it five times over takes 120
    queries, not 1,200: the unit test above pins how the bound works."""
    labels = OperationLabels(limit=20)
    monkeypatch.setattr(observability, "OPERATION_LABELS", labels)
    return labels


async def _metrics(gateway: RunningGateway) -> str:
    async with gateway.session.get(f"{gateway.url}/metrics") as resp:
        assert resp.status == 200
        return await resp.text()


async def test_names_past_the_bound_do_not_grow_metrics(
    sim: SimCluster, fresh_labels: OperationLabels
) -> None:
    """Before the bound, 3,000 names took /metrics from 33 KB to 742 KB (about 240
    bytes a name). Names past the bound share ``other``: five times the bound's worth
    of new names (100: some 24 KB unbounded) grow the page by no more than ``other``'s
    own series."""
    async with in_process_gateway(settings_for(sim.urls)) as gateway:
        await _named(gateway, [f"Fill{i}" for i in range(fresh_labels.limit)])  # the bound
        full = len(await _metrics(gateway))
        await _named(gateway, [f"Probe{i}" for i in range(5 * fresh_labels.limit)])
        text = await _metrics(gateway)
    assert "Probe" not in text
    assert 'operation="other"' in text
    # ``other``'s own series and growing counter values: a few hundred bytes.
    assert len(text) - full < 2_000, len(text) - full


async def _named(gateway: RunningGateway, names: list[str]) -> None:
    """One operation per name, 20 at a time."""
    for start in range(0, len(names), 20):
        bodies = await asyncio.gather(
            *(gateway.query(f"query {name} {{ __typename }}") for name in names[start : start + 20])
        )
        assert all(body["data"] == {"__typename": "Query"} for body in bodies)


@pytest.fixture(scope="module")
async def secured(
    sim: SimCluster, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Secured]:
    directory: Path = tmp_path_factory.mktemp("operator")
    async with secured_gateway(sim.urls, directory, admin_token=TOKEN) as secured:
        yield secured


async def _get(secured: Secured, path: str, token: str | None) -> tuple[int, str]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with secured.gateway.session.get(f"{secured.gateway.url}{path}", headers=headers) as resp:
        return resp.status, await resp.text()


async def test_metrics_need_the_operator_token(secured: Secured) -> None:
    status, text = await _get(secured, "/metrics", None)
    assert status == 401 and "og_" not in text
    status, _ = await _get(secured, "/metrics", "not-the-token")
    assert status == 401
    status, _ = await _get(secured, "/metrics", secured.keys["console"])  # an API key is not it
    assert status == 401
    status, text = await _get(secured, "/metrics", TOKEN)
    assert status == 200 and "og_http_requests_total" in text


async def test_readyz_details_need_the_operator_token(secured: Secured) -> None:
    status, text = await _get(secured, "/readyz", None)
    assert (status, text) == (200, '{"status":"ready"}')
    status, text = await _get(secured, "/readyz", TOKEN)
    assert status == 200
    assert '"sources"' in text and '"config"' in text
    assert TOKEN not in text  # the token is no configuration detail


async def test_without_a_token_both_stay_open(served: RunningGateway) -> None:
    async with served.session.get(f"{served.url}/readyz") as resp:
        assert resp.status == 200
        assert "sources" in await resp.json()
    assert "og_http_requests_total" in await _metrics(served)
