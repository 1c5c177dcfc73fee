"""Serving ASGI apps on loopback for tests, and waiting for a server to be ready."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import uvicorn
from aiohttp import web

from tests.support.ports import free_socket


@contextlib.asynccontextmanager
async def serving(
    app: Any, sock: socket.socket | None = None, **config: Any
) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """Run ``app`` under a real uvicorn on ``sock`` (or a free port) until the block
    ends; yields its base URL and a client session for it."""
    sock = sock or free_socket()
    options: dict[str, Any] = {"lifespan": "on", "log_level": "warning", **config}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    host, port = sock.getsockname()
    # Idle connections are dropped before uvicorn's 5 s keep-alive closes them: a
    # synchronous test can block the loop long enough for a stale socket to be reused.
    connector = aiohttp.TCPConnector(keepalive_timeout=2)
    timeout = aiohttp.ClientTimeout(total=30)
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            yield f"http://{host}:{port}", session
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def served_aiohttp(app: web.Application) -> AsyncIterator[str]:
    """Run the aiohttp ``app`` (a simulated source) on a free loopback port until the
    block ends; yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def wait_ready(
    session: aiohttp.ClientSession,
    url: str,
    process: asyncio.subprocess.Process | None = None,
    timeout_s: float = 30.0,
) -> None:
    """Poll ``url``/readyz until it answers 200; fail if ``process`` exits first."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(f"{url}/readyz") as resp:
                if resp.status == 200:
                    return
        if process is not None and process.returncode is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not become ready in {timeout_s:.0f} s")
