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


def detached(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """Run ``coro`` as a task free of the current request's deadline."""
    context = contextvars.copy_context()
    context.run(_deadline.set, None)
    return asyncio.create_task(coro, context=context)
