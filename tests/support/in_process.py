"""The gateway app in process: its lifespan run by asgi-lifespan, requests sent through
``httpx.ASGITransport``, no server and no port.

Tests talk to a gateway through the small part of ``aiohttp.ClientSession`` they use
(``session.get(url) as resp``, ``resp.status``, ``await resp.json()``), so a test runs
unchanged against a real uvicorn (``tests.support.gateways.running_gateway``) or the
app in process (``in_process_gateway``). Only URLs under the gateway's base URL go
into the app; any other (a simulated source's) goes over loopback as before."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Generator
from types import TracebackType
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from tests.support.tls import SHARED_TLS

BASE_URL = "http://gateway.test"
LIFESPAN_TIMEOUT_S = 30.0  # start-up waits for the sources and Redis on a loaded machine


class ContentTypeError(ValueError):
    """``json()`` on a body that is not declared JSON (as aiohttp refuses it)."""


class Response:
    """What the tests read of an aiohttp response."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.headers = response.headers
        self.content_type = response.headers.get("content-type", "").split(";")[0].strip()

    async def read(self) -> bytes:
        return self._response.content

    async def text(self) -> str:
        return self._response.text

    async def json(self, *, content_type: str | None = "application/json") -> Any:
        if content_type is not None and content_type not in self.content_type:
            raise ContentTypeError(f"not JSON: {self.content_type!r}")
        return json.loads(self._response.content)


class _Request:
    """Awaitable, or an async context manager, like aiohttp's request."""

    def __init__(self, client: httpx.AsyncClient, method: str, url: str, **options: Any) -> None:
        data = options.pop("data", None)
        if isinstance(data, bytes | str):
            options["content"] = data
        elif data is not None:
            options["data"] = data
        self._send = client.request(method, url, **options)

    def __await__(self) -> Generator[Any, None, Response]:
        return self._respond().__await__()

    async def _respond(self) -> Response:
        return Response(await self._send)

    async def __aenter__(self) -> Response:
        return await self._respond()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class Session:
    """An aiohttp-shaped session over one httpx client."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    def request(self, method: str, url: str, **options: Any) -> _Request:
        return _Request(self._client, method, url, **options)

    def get(self, url: str, **options: Any) -> _Request:
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> _Request:
        return self.request("POST", url, **options)

    def put(self, url: str, **options: Any) -> _Request:
        return self.request("PUT", url, **options)

    def delete(self, url: str, **options: Any) -> _Request:
        return self.request("DELETE", url, **options)


@contextlib.asynccontextmanager
async def in_process(app: Any) -> AsyncIterator[tuple[str, Session]]:
    """Run ``app``'s lifespan until the block ends; yields its base URL and a session
    that sends requests for it into the app."""
    async with (
        LifespanManager(
            app, startup_timeout=LIFESPAN_TIMEOUT_S, shutdown_timeout=LIFESPAN_TIMEOUT_S
        ) as manager,
        httpx.AsyncClient(
            mounts={BASE_URL: httpx.ASGITransport(manager.app)},
            timeout=httpx.Timeout(30.0),
            verify=SHARED_TLS,
        ) as client,
    ):
        yield BASE_URL, Session(client)
