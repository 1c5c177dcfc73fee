"""sources.resilience.throttle: how long a source's 429 asks the gateway to wait
(Retry-After in seconds or as an HTTP date, else AfterShip's X-RateLimit-Reset, else a
second), and the pacer that holds calls while the source's limit is spent. Measured
against the wall clock, as the source's limit is."""

from __future__ import annotations

import math
import time
from email.utils import formatdate

import pytest
from multidict import CIMultiDict

from sources.resilience.throttle import (
    DEFAULT_THROTTLE_WAIT_S,
    MAX_STATED_WAIT_S,
    Pacer,
    rate_limit,
    throttle_wait,
)


def headers(**values: str) -> CIMultiDict[str]:
    return CIMultiDict({name.replace("_", "-"): value for name, value in values.items()})


@pytest.mark.parametrize(
    ("sent", "wait_s"),
    [
        ({"Retry_After": "2"}, 2.0),
        ({"retry_after": "0.25"}, 0.25),
        ({}, DEFAULT_THROTTLE_WAIT_S),
        ({"Retry_After": "soon"}, DEFAULT_THROTTLE_WAIT_S),
        ({"X_RateLimit_Reset": "never"}, DEFAULT_THROTTLE_WAIT_S),
        # not a finite, non-negative number: not read
        ({"Retry_After": "-3"}, DEFAULT_THROTTLE_WAIT_S),
        ({"Retry_After": "inf"}, DEFAULT_THROTTLE_WAIT_S),
        ({"Retry_After": "NaN"}, DEFAULT_THROTTLE_WAIT_S),
        ({"Retry_After": "-inf", "X_RateLimit_Reset": "2"}, 2.0),
        ({"X_RateLimit_Reset": "inf"}, DEFAULT_THROTTLE_WAIT_S),
        ({"X_RateLimit_Reset": "nan"}, DEFAULT_THROTTLE_WAIT_S),
        ({"X_RateLimit_Reset": "-5"}, DEFAULT_THROTTLE_WAIT_S),
        # finite but beyond reason: the bound
        ({"Retry_After": "1e9"}, MAX_STATED_WAIT_S),
        ({"Retry_After": "1e400"}, DEFAULT_THROTTLE_WAIT_S),  # float() reads inf
        ({"X_RateLimit_Reset": "9e18"}, MAX_STATED_WAIT_S),
    ],
)
def test_stated_waits(sent, wait_s):
    assert throttle_wait(headers(**sent)) == pytest.approx(wait_s, abs=0.01)


def test_a_retry_after_date_and_a_reset_time_are_waits_from_now():
    in_3_s = time.time() + 3
    assert 1.5 < throttle_wait(headers(Retry_After=formatdate(in_3_s, usegmt=True))) <= 3
    assert 2.5 < throttle_wait(headers(X_RateLimit_Reset=str(int(in_3_s) + 1))) <= 4
    assert throttle_wait(headers(X_RateLimit_Reset=str(int(time.time()) - 10))) == 0.0


def test_retry_after_wins_over_the_reset_time():
    sent = headers(Retry_After="1", X_RateLimit_Reset=str(int(time.time()) + 30))
    assert throttle_wait(sent) == 1.0


def test_a_pacer_holds_calls_while_the_limit_is_spent():
    pacer = Pacer()
    assert pacer.wait_s() == 0.0
    pacer.note(headers(X_RateLimit_Remaining="3", X_RateLimit_Reset=str(int(time.time()) + 5)))
    assert pacer.wait_s() == 0.0  # calls left: nothing held
    pacer.note(headers(X_RateLimit_Remaining="0"))
    assert pacer.wait_s() == 0.0  # spent, but no reset time to hold to
    pacer.note(headers(X_RateLimit_Remaining="0", X_RateLimit_Reset=str(int(time.time()) + 3)))
    assert 2.0 < pacer.wait_s() <= 3.0
    pacer.hold(0.5)  # a shorter 429 does not shorten the hold
    assert pacer.wait_s() > 2.0


def test_a_429_holds_every_call():
    pacer = Pacer()
    pacer.hold(0.5)
    assert 0.4 < pacer.wait_s() <= 0.5


def test_background_calls_leave_the_requests_their_share_of_the_limit():
    """Under half of X-RateLimit-Limit left, a call no request waits on holds off until
    the reset; requests go on until the limit is spent."""
    pacer = Pacer()
    reset = str(int(time.time()) + 3)
    pacer.note(headers(X_RateLimit_Limit="10", X_RateLimit_Remaining="5", X_RateLimit_Reset=reset))
    assert pacer.wait_s(background=True) == 0.0  # half left: background may still call
    pacer.note(headers(X_RateLimit_Limit="10", X_RateLimit_Remaining="4", X_RateLimit_Reset=reset))
    assert 2.0 < pacer.wait_s(background=True) <= 3.0
    assert pacer.wait_s() == 0.0  # requests are not held
    pacer.note(headers(X_RateLimit_Remaining="2", X_RateLimit_Reset=reset))  # no limit said
    assert pacer.wait_s() == 0.0


IN_30_S = "<a Unix time 30 s from now>"


@pytest.mark.parametrize(
    ("sent", "stated"),
    [
        # AfterShip's Tracking API: the reset a Unix time
        ({"X_RateLimit_Limit": "10", "X_RateLimit_Remaining": "4", "X_RateLimit_Reset": IN_30_S},
         (10, 4, 30.0)),
        # the IETF draft's (Zendesk's list endpoints): seconds from now
        ({"ratelimit_limit": "700", "ratelimit_remaining": "0", "ratelimit_reset": "41"},
         (700, 0, 41.0)),
        # the same name with a Unix time (AfterShip's Commerce API): the value tells
        ({"ratelimit_limit": "10", "ratelimit_remaining": "9", "ratelimit_reset": IN_30_S},
         (10, 9, 30.0)),
        ({"X_RateLimit_Remaining": "0", "X_RateLimit_Reset": "2"}, (None, 0, 2.0)),
        # Zendesk's on every answer: no reset, taken as a second from now
        ({"X_Rate_Limit": "700", "X_Rate_Limit_Remaining": "300"},
         (700, 300, DEFAULT_THROTTLE_WAIT_S)),
        # the first spelling found wins
        ({"X_Rate_Limit_Remaining": "1", "ratelimit_remaining": "2", "ratelimit_reset": "5"},
         (None, 2, 5.0)),
        ({}, None),
        ({"X_RateLimit_Remaining": "0"}, None),  # no reset
        ({"ratelimit_remaining": "many", "ratelimit_reset": "5"}, None),
        ({"X_Rate_Limit": "lots", "X_Rate_Limit_Remaining": "3"}, None),
    ],
)  # fmt: skip
def test_the_limit_is_read_in_the_spelling_the_source_answers_with(sent, stated):
    now = time.time()
    unix_in_30_s = str(int(now) + 30)
    read = rate_limit(headers(**{k: unix_in_30_s if v == IN_30_S else v for k, v in sent.items()}))
    if stated is None or read is None:
        assert read == stated
        return
    limit, remaining, reset_in_s = stated
    assert (read.limit, read.remaining) == (limit, remaining)
    assert read.reset - now == pytest.approx(reset_in_s, abs=1.0)  # a Unix time is whole


def test_a_reset_stated_in_seconds_is_a_wait_too():
    assert 1.5 < throttle_wait(headers(X_RateLimit_Reset="2")) <= 2.0


def test_zendesks_headers_hold_background_calls_a_second_at_a_time():
    pacer = Pacer()
    pacer.note(headers(X_Rate_Limit="700", X_Rate_Limit_Remaining="350"))
    assert pacer.wait_s(background=True) == 0.0
    pacer.note(headers(X_Rate_Limit="700", X_Rate_Limit_Remaining="349"))
    assert 0.5 < pacer.wait_s(background=True) <= DEFAULT_THROTTLE_WAIT_S
    assert pacer.wait_s() == 0.0


def test_a_reset_in_milliseconds_is_read_as_such():
    """A Unix time in milliseconds, read as seconds, would be 57,000 years away."""
    in_3_s_ms = str(int((time.time() + 3) * 1000))
    assert 2.0 < throttle_wait(headers(X_RateLimit_Reset=in_3_s_ms)) <= 3.0
    stated = rate_limit(headers(X_RateLimit_Remaining="0", X_RateLimit_Reset=in_3_s_ms))
    assert stated is not None and 2.0 < stated.reset - time.time() <= 3.0


@pytest.mark.parametrize("reset", ["inf", "nan", "-1"])
def test_an_unreadable_reset_states_no_limit(reset):
    assert rate_limit(headers(X_RateLimit_Remaining="0", X_RateLimit_Reset=reset)) is None


@pytest.mark.parametrize(
    "sent",
    [
        {"X_RateLimit_Remaining": "0", "X_RateLimit_Reset": "1e11"},  # a Unix time 3170 AD
        {"X_RateLimit_Remaining": "0", "X_RateLimit_Reset": "1e300"},
        {"ratelimit_remaining": "0", "ratelimit_reset": "999999999"},  # seconds from now
        {"X_RateLimit_Limit": "10", "X_RateLimit_Remaining": "0", "X_RateLimit_Reset": "1e11"},
    ],
)
def test_no_stated_reset_holds_calls_beyond_the_bound(sent):
    pacer = Pacer()
    pacer.note(headers(**sent))
    for background in (False, True):
        assert MAX_STATED_WAIT_S - 1 < pacer.wait_s(background=background) <= MAX_STATED_WAIT_S


@pytest.mark.parametrize(
    ("asked_s", "held_s"),
    [
        (math.inf, MAX_STATED_WAIT_S),
        (1e9, MAX_STATED_WAIT_S),
        (math.nan, DEFAULT_THROTTLE_WAIT_S),
        (-math.inf, 0.0),
        (-2.0, 0.0),
        (0.5, 0.5),
    ],
)
def test_no_wait_asked_holds_calls_beyond_the_bound(asked_s, held_s):
    """What a 429 in all but status asks (Shopify's THROTTLED: its cost over its
    restore rate, which a shop's numbers may make endless) is bounded the same way."""
    pacer = Pacer()
    assert pacer.hold(asked_s) == held_s
    assert held_s - 0.1 < pacer.wait_s() <= held_s
