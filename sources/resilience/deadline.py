"""The per-request deadline, carried in a context variable.

The edge starts it when a request arrives; every upstream call below gets what
remains of it. Context variables follow tasks, so dataloader batches and gathers
inherit it; background work that outlives the request runs ``detached``.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "og_deadline", default=None
)
# Work no request waits on (sweeps, refreshes): it yields a rate-limited source's
# budget to requests (sources.resilience.throttle.REQUESTS_SHARE).
_background: contextvars.ContextVar[bool] = contextvars.ContextVar("og_background", default=False)


def start(seconds: float) -> None:
    """Set this request's deadline ``seconds`` from now."""
    _deadline.set(time.monotonic() + seconds)


def remaining() -> float | None:
    """Seconds left before the deadline (negative when past), ``None`` without one."""
    at = _deadline.get()
    return None if at is None else at - time.monotonic()


def bounded(limit: float) -> float:
    """``limit`` or the time left, whichever is shorter."""
    left = remaining()
    return limit if left is None else min(limit, left)


def detached(coro: Coroutine[Any, Any, T], *, background: bool = False) -> asyncio.Task[T]:
    """Run ``coro`` as a task free of the current request's deadline; ``background``:
    work no request waits on, which leaves a rate-limited source to requests first."""
    context = contextvars.copy_context()
    context.run(_deadline.set, None)
    context.run(_background.set, background)
    return asyncio.create_task(coro, context=context)


def in_background() -> bool:
    """Whether the running work is ``detached(..., background=True)``."""
    return _background.get()
