"""How late this process's event loop runs what is due.

A small task sleeps ``interval_s`` at a time and notes how much later than asked it
woke: while the loop is saturated, everything ready to run waits about that long,
calls in flight included. Two readings of it:

- :meth:`LoopLag.sustained`: the lag the loop has kept up over its last few ticks
  (the smallest of them), so that one pause (a garbage collection, a long import)
  is not taken for saturation; the gateway sheds new requests above a threshold.
- :meth:`LoopLag.worst_since`: the worst lag measured since a moment, the tick under
  way included; a call that timed out asks it about its last tick, to tell whether
  the loop, rather than whom it waited for, made it late.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

INTERVAL_S = 0.01
SUSTAINED_TICKS = 3  # a lag held over this many ticks in a row is saturation


class LoopLag:
    def __init__(self, interval_s: float = INTERVAL_S, keep: int = 256) -> None:
        self.interval_s = interval_s
        self._ticks: deque[tuple[float, float]] = deque(maxlen=keep)  # (due, woke)
        self._due: float | None = None  # when the tick under way is due
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="loop-lag")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def sustained(self) -> float:
        """The smallest lag of the last ``SUSTAINED_TICKS`` ticks (0 before there are
        that many): how late the loop has been throughout them."""
        if len(self._ticks) < SUSTAINED_TICKS:
            return 0.0
        recent = list(self._ticks)[-SUSTAINED_TICKS:]
        return min(woke - due for due, woke in recent)

    def worst_since(self, since: float) -> float:
        """The largest lag of the ticks that woke after ``since`` (``time.monotonic``),
        and of the tick under way if it is overdue."""
        now = time.monotonic()
        worst = 0.0 if self._due is None else max(0.0, now - self._due)
        for due, woke in reversed(self._ticks):
            if woke <= since:
                break
            worst = max(worst, woke - due)
        return worst

    async def _run(self) -> None:
        while True:
            self._due = time.monotonic() + self.interval_s
            await asyncio.sleep(self.interval_s)
            self._ticks.append((self._due, time.monotonic()))
