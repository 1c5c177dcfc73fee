"""Circuit breaker and retry budget: pure state machines on an injected clock (the
source client that uses them is tested in tests/integration/test_source_client.py)."""

from __future__ import annotations

import pytest

from sources.resilience.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    CallerBreakers,
    CircuitBreaker,
    CircuitOpenError,
)
from sources.resilience.budget import RetryBudget


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _breaker(clock: Clock, moves: list[str]) -> CircuitBreaker:
    return CircuitBreaker(
        window=10, min_calls=4, failure_ratio=0.5, open_s=5, probes=2,
        on_change=moves.append, clock=clock,
    )  # fmt: skip


def _calls(breaker: CircuitBreaker, *outcomes: bool) -> None:
    for ok in outcomes:
        breaker.record(breaker.acquire(), ok)


def test_breaker_opens_on_the_failure_ratio_of_its_window():
    clock, moves = Clock(), []
    breaker = _breaker(clock, moves)
    _calls(breaker, True, False, True)  # too few calls to judge
    assert breaker.state == CLOSED
    _calls(breaker, False)  # 2 of 4 failed
    assert breaker.state == OPEN and moves == [OPEN]
    with pytest.raises(CircuitOpenError):
        breaker.acquire()


def test_breaker_probes_after_the_open_period_and_closes_on_success():
    clock, moves = Clock(), []
    breaker = _breaker(clock, moves)
    _calls(breaker, False, False, False, False)
    clock.now = 5.0
    first, second = breaker.acquire(), breaker.acquire()
    assert breaker.state == HALF_OPEN
    with pytest.raises(CircuitOpenError):
        breaker.acquire()  # only two probes at a time
    breaker.record(first, True)
    breaker.record(second, True)
    assert breaker.state == CLOSED and moves == [OPEN, HALF_OPEN, CLOSED]


def test_a_failed_probe_opens_it_again_and_stale_outcomes_are_ignored():
    clock, moves = Clock(), []
    breaker = _breaker(clock, moves)
    before = breaker.acquire()  # a slow call from the closed period
    _calls(breaker, False, False, False, False)
    clock.now = 5.0
    probe = breaker.acquire()
    breaker.record(before, True)  # arrives late: must not count as a probe
    breaker.record(probe, False)
    assert breaker.state == OPEN
    clock.now = 9.0
    with pytest.raises(CircuitOpenError):
        breaker.acquire()


def test_cancelled_probe_frees_its_slot():
    clock, moves = Clock(), []
    breaker = _breaker(clock, moves)
    _calls(breaker, False, False, False, False)
    clock.now = 5.0
    ticket = breaker.acquire()
    breaker.record(ticket, None)
    _calls(breaker, True, True)
    assert breaker.state == CLOSED


def _caller_calls(breaker: CircuitBreaker, caller: str | None, *outcomes: bool) -> None:
    for ok in outcomes:
        breaker.record(breaker.acquire(), ok, caller)


def test_one_caller_alone_cannot_open_the_breaker():
    """Whatever one key sends, its failures count for at most half of those needed."""
    clock, moves = Clock(), []
    breaker = _breaker(clock, moves)
    _caller_calls(breaker, "key_attacker", *[False] * 50)
    assert breaker.state == CLOSED and moves == []
    _caller_calls(breaker, "key_other", True, True)
    assert breaker.state == CLOSED


def test_failures_of_two_callers_open_it():
    clock, moves = Clock(), []
    breaker = _breaker(clock, moves)  # window 10, min 4, ratio 0.5: 2 of 4 must fail
    _caller_calls(breaker, "key_a", False, False, False)
    assert breaker.state == CLOSED  # key_a counts for at most 1 of the 2 needed
    _caller_calls(breaker, "key_b", False)
    assert breaker.state == OPEN and moves == [OPEN]


def test_failures_without_a_caller_count_in_full():
    """Dev mode and background work (no key) open it as before."""
    clock, moves = Clock(), []
    breaker = _breaker(clock, moves)
    _caller_calls(breaker, None, False, False, False, False)
    assert breaker.state == OPEN


def test_retry_budget_is_ten_percent_of_calls():
    budget = RetryBudget(ratio=0.1, reserve=2, cap=10)
    granted = 0
    for _ in range(1000):
        budget.on_call()
        granted += budget.try_spend()
    assert 100 <= granted <= 102  # 10% plus the small reserve


def test_each_caller_has_a_breaker_of_its_own_and_the_oldest_is_forgotten():
    made: list[CircuitBreaker] = []

    def make() -> CircuitBreaker:
        made.append(CircuitBreaker(window=4, min_calls=2, failure_ratio=0.5))
        return made[-1]

    breakers = CallerBreakers(make, limit=2)
    a = breakers.of("key_a")
    for _ in range(2):
        a.record(a.acquire(), False)
    assert a.state == OPEN and breakers.of("key_b").state == CLOSED
    assert breakers.of("key_a") is a  # kept, and now the most recent
    breakers.of("key_c")  # one too many: key_b, the least recent, goes
    assert len(made) == 3 and breakers.of("key_a") is a
    assert breakers.of("key_b") is not made[1]
