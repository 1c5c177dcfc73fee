"""A real HTTP proxy on loopback in front of a simulated source, answering some
requests itself: a source that fails on inputs the gateway cannot know are bad."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp import web

# Answers a request itself, or None to forward it to the source.
Intercept = Callable[[web.Request], Awaitable[web.StreamResponse | None]]


@contextlib.asynccontextmanager
async def intercepting_proxy(target: str, intercept: Intercept) -> AsyncIterator[str]:
    """Serve the proxy until the block ends; yields its base URL."""
    target = target.rstrip("/")

    async def handle(request: web.Request) -> web.StreamResponse:
        answer = await intercept(request)
        if answer is not None:
            return answer
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method,
                target + request.rel_url.path_qs,
                data=await request.read(),
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            ) as upstream,
        ):
            return web.Response(
                body=await upstream.read(),
                status=upstream.status,
                content_type=upstream.content_type,
            )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
