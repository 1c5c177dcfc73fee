"""A private ``redis-server`` on a free loopback port (or only on a unix socket), for
tests that need a real Redis."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from tests.support.ports import free_port_block

READY_TIMEOUT_S = 5.0
# A RedisBackend timeout for tests of what Redis answers, not how soon: the default
# 100 ms covers the whole call, connecting included, and a loaded host's late event loop
# ran past it (the backend then serves a miss, or refuses a claim). Timeout tests set
# their own.
PATIENT_TIMEOUT_S = 2.0


class RedisServer:
    """Start with ``await start()``; ``stop()`` terminates, ``kill()`` SIGKILLs, and
    ``start()`` again restarts it on the same port. Nothing is persisted.

    ``unix_socket``: it listens on no TCP port, only on a socket in its own folder
    (``socket_path``, ``url`` ``unix://…``, both set by each start)."""

    def __init__(self, *, unix_socket: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server not found on PATH: the cache tests need a real Redis "
                "(apt-get install redis-server)"
            )
        self.binary = binary
        self.unix_socket = unix_socket
        self.socket_path: Path | None = None
        # Not an ephemeral port a connection may take; none on a unix socket.
        self.port: int = 0 if unix_socket else free_port_block(1)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        if self._process is not None:
            raise RuntimeError(f"redis-server on port {self.port} is already running")
        # Under /tmp, short: a socket's path may be 107 bytes at most.
        self._dir = tempfile.TemporaryDirectory(prefix="og-redis-")
        log_file = Path(self._dir.name) / "redis.log"
        listen: tuple[str, ...] = ("--port", str(self.port), "--bind", "127.0.0.1")
        if self.unix_socket:
            self.socket_path = Path(self._dir.name) / "redis.sock"
            self.url = f"unix://{self.socket_path}?db=0"
            listen = ("--port", "0", "--unixsocket", str(self.socket_path))
            listen += ("--unixsocketperm", "700")
        self._process = await asyncio.create_subprocess_exec(
            self.binary,
            *listen,
            *("--save", "", "--appendonly", "no"),
            *("--dir", self._dir.name, "--logfile", str(log_file)),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await asyncio.wait_for(self._wait_ready(), READY_TIMEOUT_S)
        except (TimeoutError, RuntimeError) as exc:
            log = log_file.read_text() if log_file.exists() else ""
            await self.kill()
            raise RuntimeError(f"redis-server on port {self.port} did not start:\n{log}") from exc

    async def flush(self) -> None:
        """Delete every key (FLUSHALL)."""
        reader, writer = await self._connect()
        try:
            writer.write(b"FLUSHALL\r\n")
            if await reader.readline() != b"+OK\r\n":
                raise RuntimeError("FLUSHALL failed")
        finally:
            writer.close()
            await writer.wait_closed()

    async def stop(self) -> None:
        """Terminate (SIGTERM) and wait."""
        await self._end(kill=False)

    async def kill(self) -> None:
        """SIGKILL and wait: clients see their connections drop."""
        await self._end(kill=True)

    async def _end(self, *, kill: bool) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            if kill:
                process.kill()
            else:
                process.terminate()
            await process.wait()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    async def _wait_ready(self) -> None:
        while not await self._pings():
            if self._process is None or self._process.returncode is not None:
                raise RuntimeError("redis-server exited")
            await asyncio.sleep(0.02)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.socket_path is not None:
            return await asyncio.open_unix_connection(self.socket_path)
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def _pings(self) -> bool:
        try:
            reader, writer = await self._connect()
            try:
                writer.write(b"PING\r\n")
                return await reader.readline() == b"+PONG\r\n"
            finally:
                writer.close()
                await writer.wait_closed()
        except OSError:
            return False
