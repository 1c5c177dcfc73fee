"""Where key records live: Redis when deployed, a JSON file for the demo.

Records never expire in either store: an expired or revoked key stays on record, so
it answers ``API_KEY_EXPIRED`` / ``API_KEY_REVOKED`` rather than "unknown" and the
``keys list`` history is complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import unquote, urlsplit

import msgspec
from redis.exceptions import RedisError

from gateway.auth.keys import KeyRecord
from gateway.settings import key_store_kind, redact_url
from sources.cache.redis_connection import redis_client
from sources.options import REDIS_SCHEMES

T = TypeVar("T")

RECORD_PREFIX = "og:apikey:"  # one JSON document per key: og:apikey:<key_id>
INDEX_KEY = "og:apikeys"  # the set of every key id

_encode = msgspec.json.Encoder().encode
_decode_record = msgspec.json.Decoder(KeyRecord).decode
_decode_file = msgspec.json.Decoder(dict[str, KeyRecord]).decode


class KeyStoreError(Exception):
    """The store cannot be reached, or what it holds cannot be read."""


class KeyStore(Protocol):
    async def get(self, key_id: str) -> KeyRecord | None: ...

    async def put(self, record: KeyRecord) -> None:
        """Insert or replace the record for ``record.key_id``."""
        ...

    async def all(self) -> list[KeyRecord]:
        """Every record, oldest first."""
        ...

    async def close(self) -> None: ...


def _oldest_first(records: list[KeyRecord]) -> list[KeyRecord]:
    return sorted(records, key=lambda record: (record.created_at, record.key_id))


class RedisKeyStore:
    """Records as JSON at ``og:apikey:<key_id>``, their ids in the set ``og:apikeys``."""

    def __init__(self, url: str, *, timeout_s: float = 0.4) -> None:
        """``timeout_s`` caps each call, connecting included."""
        self._client = redis_client(url, timeout_s=timeout_s, decode_responses=True)
        self._deadline_s = timeout_s

    async def get(self, key_id: str) -> KeyRecord | None:
        raw = await self._call(self._client.get(RECORD_PREFIX + key_id))
        return None if raw is None else self._decode(raw)

    async def put(self, record: KeyRecord) -> None:
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.set(RECORD_PREFIX + record.key_id, _encode(record))
            pipe.sadd(INDEX_KEY, record.key_id)
            await self._call(pipe.execute())

    async def all(self) -> list[KeyRecord]:
        key_ids = sorted(await self._call(self._client.smembers(INDEX_KEY)))
        if not key_ids:
            return []
        keys = [RECORD_PREFIX + str(key_id) for key_id in key_ids]  # str already
        raws = await self._call(self._client.mget(keys))
        return _oldest_first([self._decode(raw) for raw in raws if raw is not None])

    async def close(self) -> None:
        await self._client.aclose()

    async def _call(self, operation: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self._deadline_s):
                return await operation
        except (RedisError, OSError) as exc:  # TimeoutError is an OSError
            raise KeyStoreError(f"Redis key store: {type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _decode(raw: bytes | str) -> KeyRecord:
        try:
            return _decode_record(raw)
        except msgspec.DecodeError as exc:
            raise KeyStoreError(f"Redis key store: unreadable record: {exc}") from exc


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """The file's records as of one version of it (mtime, size, inode)."""

    version: tuple[int, int, int] | None  # None: no file
    records: dict[str, KeyRecord]


_NO_FILE = _Snapshot(None, {})


def _version(stat: os.stat_result) -> tuple[int, int, int]:
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


class FileKeyStore:
    """The demo's store: ``{key_id: record}`` in one JSON file, mode 0600.

    Reads come from memory while the file is unchanged (one ``stat`` per call) and
    re-read it once another process (say ``ordergraph keys revoke``) replaced it.
    A write takes an exclusive ``flock`` on ``<file>.lock``, re-reads the file, and
    replaces it atomically (temp file, fsync, ``os.replace``): concurrent writers lose
    nothing and readers never see half a file. All file I/O runs in a worker thread.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._snapshot = _NO_FILE

    async def get(self, key_id: str) -> KeyRecord | None:
        return (await self._records()).get(key_id)

    async def put(self, record: KeyRecord) -> None:
        self._snapshot = await self._in_thread(self._put_sync, record)

    async def all(self) -> list[KeyRecord]:
        return _oldest_first(list((await self._records()).values()))

    async def close(self) -> None:
        """Nothing to release: no file stays open between calls."""

    async def _records(self) -> dict[str, KeyRecord]:
        self._snapshot = await self._in_thread(self._refresh_sync, self._snapshot)
        return self._snapshot.records

    async def _in_thread(self, function: Callable[..., T], *args: object) -> T:
        try:
            return await asyncio.to_thread(function, *args)
        except (OSError, msgspec.DecodeError) as exc:
            raise KeyStoreError(f"key file {self.path}: {exc}") from exc

    def _refresh_sync(self, snapshot: _Snapshot) -> _Snapshot:
        try:
            version = _version(os.stat(self.path))
        except FileNotFoundError:
            return _NO_FILE
        return snapshot if version == snapshot.version else self._read_sync()

    def _read_sync(self) -> _Snapshot:
        try:
            with open(self.path, "rb") as file:
                # The version of the very file read, even if it is replaced meanwhile.
                version = _version(os.fstat(file.fileno()))
                return _Snapshot(version, _decode_file(file.read()))
        except FileNotFoundError:
            return _NO_FILE

    def _put_sync(self, record: KeyRecord) -> _Snapshot:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            records = {**self._read_sync().records, record.key_id: record}
            self._replace_sync(dict(sorted(records.items())))
            return _Snapshot(_version(os.stat(self.path)), records)
        finally:
            os.close(lock_fd)  # releases the lock

    def _replace_sync(self, records: dict[str, KeyRecord]) -> None:
        # mkstemp creates the file 0600 whatever the umask.
        fd, temp_path = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(msgspec.json.format(_encode(records), indent=2))
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp_path, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_path)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # make the rename itself durable
        finally:
            os.close(dir_fd)


def open_key_store(url: str, *, timeout_s: float = 0.4) -> KeyStore:
    """A Redis URL (``redis://…``, ``rediss://…``, ``unix://…``: the cache's schemes) →
    Redis, each call cut off after ``timeout_s``; ``file:///abs/keys.json`` or
    ``file:relative/keys.json`` → a JSON file (see ``gateway.settings.key_store_kind``)."""
    parts = urlsplit(url)
    kind = key_store_kind(url)
    if kind == "redis":
        return RedisKeyStore(url, timeout_s=timeout_s)
    if kind == "file":
        return FileKeyStore(unquote(parts.path))
    shown = redact_url(url)  # never a password
    if parts.scheme == "file":
        raise ValueError(
            f"key store URL {shown!r}: use file:///absolute/path.json or file:relative/path.json"
        )
    schemes = ", ".join(f"{scheme}://" for scheme in sorted(REDIS_SCHEMES))
    raise ValueError(
        f"key store URL {shown!r}: unknown scheme {parts.scheme!r}; use {schemes} or file:"
    )
