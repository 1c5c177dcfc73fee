"""Who the current upstream calls are made for, carried in a context variable.

The edge sets it with the request deadline (the API key's id; ``None`` in dev mode,
where every request is the same anonymous console). Context variables follow tasks,
so a dataloader batch, which only ever holds one request's keys (loaders are per
request), runs with its request's caller. The circuit breakers read it to bound how
much of their window one caller's failures may fill.
"""

from __future__ import annotations

import contextvars

_caller: contextvars.ContextVar[str | None] = contextvars.ContextVar("og_caller", default=None)


def start(caller: str | None) -> None:
    """Make ``caller`` the one this request's upstream calls are made for."""
    _caller.set(caller)


def current() -> str | None:
    """The caller of this request, ``None`` outside one (or without a key)."""
    return _caller.get()
