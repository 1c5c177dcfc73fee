"""The operator token guarding /metrics and /readyz's details: compared in constant
time, and an empty presented token never matches, whatever is configured."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from gateway.observability import is_operator

TOKEN = "t" * 32


def _asking(authorization: str | None) -> Request:
    headers = [] if authorization is None else [(b"authorization", authorization.encode())]
    return Request({"type": "http", "method": "GET", "path": "/metrics", "headers": headers})


@pytest.mark.parametrize(
    ("authorization", "admitted"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer  {TOKEN} ", True),
        (None, False),
        ("Bearer", False),
        ("Bearer ", False),
        ("Bearer t", False),
        (f"Basic {TOKEN}", False),
    ],
)
def test_only_the_configured_token_is_an_operator(authorization, admitted):
    assert is_operator(_asking(authorization), TOKEN) is admitted


@pytest.mark.parametrize("configured", ["", " "])
def test_an_empty_presented_token_matches_no_configured_one(configured):
    """Settings refuse an empty OG_ADMIN_TOKEN; this holds even if one slipped past."""
    assert not is_operator(_asking("Bearer "), configured)
    assert not is_operator(_asking("Bearer"), configured)


def test_without_a_token_configured_everyone_is():
    assert is_operator(_asking(None), None)
