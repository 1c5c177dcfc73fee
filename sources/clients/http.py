"""The one HTTP path every source client goes through: a pooled session, explicit
timeouts, msgspec decoding, and upstream failures turned into ``SourceError``."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import msgspec

from sources.errors import SOURCE_BAD_RESPONSE, SOURCE_TIMEOUT, SOURCE_UNAVAILABLE, SourceError

T = TypeVar("T")

_RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """Where a source lives and how long the gateway waits for it."""

    base_url: str
    connect_timeout_s: float = 0.5
    read_timeout_s: float = 2.0
    total_timeout_s: float = 3.0
    max_connections: int = 64
    batch_size: int = 100  # the most ids the source takes in one batch call


def open_session(config: SourceConfig) -> aiohttp.ClientSession:
    """The process-wide session for one source.

    aiohttp's defaults are a 300 s total timeout and no per-host connection limit;
    both are set explicitly here.
    """
    connector = aiohttp.TCPConnector(
        limit=config.max_connections,
        limit_per_host=config.max_connections,
        ttl_dns_cache=300,
    )
    timeout = aiohttp.ClientTimeout(
        total=config.total_timeout_s,
        connect=config.connect_timeout_s,
        sock_read=config.read_timeout_s,
    )
    return aiohttp.ClientSession(
        base_url=config.base_url.rstrip("/") + "/",
        connector=connector,
        timeout=timeout,
        raise_for_status=False,
        skip_auto_headers=("User-Agent",),
        headers={"User-Agent": "ordergraph/0.1"},
    )


class SourceClient:
    """Base of the four clients: one named source behind one session."""

    name: str = "source"

    def __init__(self, config: SourceConfig) -> None:
        """Open the client's session; call from inside the running event loop."""
        self.base_url = config.base_url
        self.batch_size = config.batch_size
        self._session = open_session(config)
        self._decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}

    async def close(self) -> None:
        await self._session.close()

    async def ping(self) -> bool:
        """Whether the source answers its health endpoint with a 200."""
        try:
            async with self._session.get("healthz") as resp:
                return resp.status == 200
        except (TimeoutError, aiohttp.ClientError, OSError):
            return False

    async def get_json(self, path: str, params: Mapping[str, str], into: type[T]) -> T:
        """GET ``path`` and decode the body into ``into``, or raise ``SourceError``."""
        try:
            async with self._session.get(path.lstrip("/"), params=params) as resp:
                body = await resp.read()
                status = resp.status
        except TimeoutError as exc:
            raise SourceError(self.name, SOURCE_TIMEOUT, "timed out", retryable=True) from exc
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
            raise SourceError(
                self.name, SOURCE_UNAVAILABLE, f"unreachable ({type(exc).__name__})", retryable=True
            ) from exc
        if status != 200:
            retryable = status in _RETRYABLE_STATUSES or status >= 500
            code = SOURCE_UNAVAILABLE if retryable else SOURCE_BAD_RESPONSE
            raise SourceError(self.name, code, f"answered HTTP {status}", retryable=retryable)
        return self._decode(body, into)

    def _decode(self, body: bytes, into: type[T]) -> T:
        decoder = self._decoders.get(into)
        if decoder is None:
            decoder = self._decoders[into] = msgspec.json.Decoder(into)
        try:
            return decoder.decode(body)
        except msgspec.DecodeError as exc:  # ValidationError is a DecodeError too
            raise SourceError(
                self.name, SOURCE_BAD_RESPONSE, f"unreadable payload: {exc}", retryable=False
            ) from exc


def id_list(ids: list[str]) -> str:
    """Batch ids as the sources take them: one comma-separated query parameter."""
    return ",".join(ids)
