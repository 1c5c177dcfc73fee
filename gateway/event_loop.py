"""The event loop every command runs on: uvloop where installed (uvicorn[standard]
brings it). A module of its own so that a command can run its start-up checks before
it imports the stack."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


def run_main(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop, until it ends or Ctrl+C."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    with (
        asyncio.Runner(loop_factory=loop_factory) as runner,
        contextlib.suppress(KeyboardInterrupt),
    ):
        runner.run(main)
