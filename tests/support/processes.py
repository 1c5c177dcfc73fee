"""``ordergraph`` run as a user runs it: a ``python -m gateway`` subprocess whose
output is read as it is printed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.support.serving import wait_ready

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Command:
    """A running ``ordergraph`` command and what it printed so far (stdout and stderr)."""

    process: asyncio.subprocess.Process
    output: str = ""
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while chunk := await self.process.stdout.read(4096):
            self.output += chunk.decode()
            self._changed.set()
        self._changed.set()

    async def printed(self, text: str, timeout_s: float = 30.0) -> str:
        """The output once it contains ``text``; fail if the command exits first."""
        async with asyncio.timeout(timeout_s):
            while text not in self.output:
                if self.process.stdout is not None and self.process.stdout.at_eof():
                    raise AssertionError(f"exited without printing {text!r}:\n{self.output}")
                self._changed.clear()
                await self._changed.wait()
        return self.output

    async def ready(self, session: aiohttp.ClientSession, url: str) -> None:
        """Once the gateway at ``url`` is ready; what the command printed if it exits."""
        try:
            await wait_ready(session, url, self.process)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; it printed:\n{self.output}") from None


# What every gateway process a test starts runs with, unless the test says otherwise:
# logs at WARNING, and no shedding on loop lag (tests/e2e/test_overload.py turns it
# on): on a machine busy with the rest of the suite, it would refuse the test's requests.
QUIET = {"OG_LOG_LEVEL": "WARNING", "OG_MAX_LOOP_LAG_MS": "0"}


@contextlib.asynccontextmanager
async def ordergraph(*args: str, env: Mapping[str, str] | None = None) -> AsyncIterator[Command]:
    """Run ``ordergraph *args`` (unbuffered, ``QUIET`` unless ``env`` says otherwise)
    until the block ends, then stop it with SIGTERM."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "gateway", *args),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **QUIET, **(env or {}), "PYTHONUNBUFFERED": "1"},
    )
    command = Command(process)
    reader = asyncio.create_task(command._read())
    try:
        yield command
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), timeout=15)
        await reader
