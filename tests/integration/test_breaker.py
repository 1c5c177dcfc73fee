"""The circuit breaker through the real edge, counted at the source's /__stats:
repeated failures stop the calls, and after recovery half-open probes close it."""

from __future__ import annotations

import asyncio
from collections import Counter

from aiohttp import web

from sim.cluster import start_cluster
from sim.faults import FaultSpec
from tests.support.gateways import in_process_gateway, settings_for
from tests.support.proxy import intercepting_proxy
from tests.support.secured import secured_gateway

QUERY = "query($n: String!) { orderByNumber(number: $n) { lineItems { availability { sku } } } }"
NO_CACHE = {"cache_ttl_ms": 0, "cache_stale_ms": 0, "cache_keep_ms": 0, "cache_negative_ttl_ms": 0}
OPEN_MS = 2000


async def test_breaker_opens_on_failures_and_closes_after_probes(make_dataset):
    dataset = make_dataset(orders=300)
    number = next(o.number for o in dataset.orders.values() if o.lines)
    async with await start_cluster(dataset) as cluster:
        # Open long enough that five fail-fast answers fit in it on a loaded machine.
        options = {
            **NO_CACHE,
            "breaker_min_calls": 5,
            "breaker_open_ms": OPEN_MS,
            "retry_attempts": 1,
        }
        async with in_process_gateway(settings_for(cluster.urls, options)) as gateway:

            async def ask() -> set[str]:
                body = await gateway.query(QUERY, {"n": number})
                return {error["extensions"]["code"] for error in body.get("errors", [])}

            cluster.set_faults("inventory", FaultSpec(error_rate=1.0, error_status=503))
            for _ in range(5):
                assert await ask() == {"SOURCE_UNAVAILABLE"}
            assert cluster.stats("inventory").requests == 5

            cluster.reset_stats()
            for _ in range(5):
                assert await ask() == {"CIRCUIT_OPEN"}
            assert cluster.stats("inventory").requests == 0  # failing fast

            cluster.set_faults("inventory", None)  # the source recovers
            await asyncio.sleep(OPEN_MS / 1000 + 0.1)  # the open period ends
            for _ in range(3):  # half-open: three successful probes close it
                assert await ask() == set()
            for _ in range(5):
                assert await ask() == set()
            assert cluster.stats("inventory").requests == 8


class PoisonedOms:
    """Answers 500 to any order-number lookup holding ``POISON``: an input the gateway
    cannot know is bad (it has the right shape), which makes the source fail."""

    POISON = "99999"

    def __init__(self) -> None:
        self.poisoned = 0

    async def intercept(self, request: web.Request) -> web.StreamResponse | None:
        if self.POISON not in request.query.get("numbers", ""):
            return None
        self.poisoned += 1
        return web.json_response({"code": "BOOM", "message": "internal"}, status=500)


ORDERS_PAGE = "{ orders(first: 5) { nodes { id } } }"
BY_NUMBER = "query($n: String!) { orderByNumber(number: $n) { id } }"


async def test_one_key_failing_the_oms_does_not_open_it_for_another_tenant(make_dataset, tmp_path):
    """One key sends 500 well-formed numbers that make the OMS fail
    (no pacing: as fast as the machine lets it, a few seconds here) while a key of
    another tenant lists orders. The other tenant's every answer is clean: the
    attacker's failures alone never open the OMS breaker (they did after ~20 calls);
    they open the attacker's own, which then spares the source."""
    dataset = make_dataset(orders=300)
    proxy = PoisonedOms()
    async with (
        await start_cluster(dataset) as cluster,
        intercepting_proxy(cluster.urls["oms"], proxy.intercept) as proxy_url,
    ):
        urls = {**cluster.urls, "oms": proxy_url}
        # The point is the breaker, not speed: a deadline far above the default's 800 ms
        # and source timeouts far above theirs, so a machine busy with other tests does
        # not time the victim's reads, or the attacker's, out (SOURCE_TIMEOUT).
        patient = {"connect_timeout_ms": 3000, "read_timeout_ms": 5000, "total_timeout_ms": 5000}
        async with secured_gateway(
            urls, tmp_path, request_deadline_ms=5000, source_options=patient
        ) as secured:
            attacker_codes: Counter[str] = Counter()
            victim_answers: list[dict] = []
            attacking = True

            async def attack(worker: int) -> None:
                for i in range(worker, 500, 10):
                    _, body, _ = await secured.post(
                        {"query": BY_NUMBER, "variables": {"n": f"{PoisonedOms.POISON}{i:04d}"}},
                        key="app_b",
                    )
                    for error in body.get("errors", []):
                        attacker_codes[error["extensions"]["code"]] += 1

            async def list_orders() -> None:
                # A client reading now and then: a cached answer comes back at once, and a
                # loop with no pause would only measure this process's spare CPU.
                while attacking:
                    _, body, _ = await secured.post({"query": ORDERS_PAGE}, key="app_a")
                    victim_answers.append(body)
                    await asyncio.sleep(0.01)

            victim = asyncio.create_task(list_orders())
            await asyncio.gather(*(attack(worker) for worker in range(10)))
            attacking = False
            await victim
            _, body, _ = await secured.post({"query": ORDERS_PAGE}, key="app_a")
            victim_answers.append(body)

            assert secured.state is not None
            assert secured.state.cached is not None
            assert secured.state.cached.upstreams.oms.breaker.state == "closed"
            # The attacker's own breaker opened: it is failed fast, the source spared.
            assert attacker_codes["CIRCUIT_OPEN"] > 0, attacker_codes
            assert attacker_codes["CIRCUIT_OPEN"] + attacker_codes["SOURCE_UNAVAILABLE"] == 500, (
                attacker_codes
            )
            assert proxy.poisoned == attacker_codes["SOURCE_UNAVAILABLE"] < 500
            assert len(victim_answers) > 1
            failed = [body for body in victim_answers if "errors" in body]
            assert failed == [], failed[:1]
            assert all(body["data"]["orders"]["nodes"] for body in victim_answers)


async def test_a_single_key_through_a_real_outage_is_failed_fast(make_dataset, tmp_path):
    """With the OMS failing every call, one key's own breaker opens (a deployment with a
    single key still fails fast); the shared breaker does not, so another tenant's key
    still reaches the source until its own failures say otherwise."""
    dataset = make_dataset(orders=300)
    async with (
        await start_cluster(dataset) as cluster,
        secured_gateway(cluster.urls, tmp_path) as secured,
    ):
        cluster.set_faults("oms", FaultSpec(error_rate=1.0, error_status=500))

        async def codes(key: str) -> set[str]:
            _, body, _ = await secured.post({"query": ORDERS_PAGE}, key=key)
            return {error["extensions"]["code"] for error in body.get("errors", [])}

        seen = [await codes("app_a") for _ in range(30)]
        assert {"CIRCUIT_OPEN"} in seen, seen
        cluster.reset_stats()
        assert await codes("app_a") == {"CIRCUIT_OPEN"}
        assert cluster.stats("oms").requests == 0  # failing fast for that key
        assert await codes("app_b") == {"SOURCE_UNAVAILABLE"}
        assert cluster.stats("oms").requests >= 1  # the other tenant still asks
