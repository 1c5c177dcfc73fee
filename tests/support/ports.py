"""Free loopback ports for servers started by tests and benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
from collections.abc import AsyncIterator
from pathlib import Path


def free_socket() -> socket.socket:
    """A socket bound to a free loopback port (not listening). Made as a TCP socket by
    name: asyncio turns Nagle off (``TCP_NODELAY``) only on connections it accepts on
    such a one, and uvicorn writes a response's head and body apart, so each response
    waited about 40 ms for the client's delayed ACK."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def block_range() -> range:
    """Where port blocks are taken: below the kernel's ephemeral range, whose ports it
    hands to outgoing connections and to ``bind(0)`` (a block there was taken by another
    test's connection between asking and binding), and split between pytest-xdist
    workers, so that two workers never ask for the same ports."""
    top = int(EPHEMERAL.read_text().split()[0]) if EPHEMERAL.exists() else 32768
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    stripe = (top - 10000) // workers
    return range(10000 + worker * stripe, 10000 + (worker + 1) * stripe)


def free_port_block(size: int) -> int:
    """A port whose next ``size - 1`` ports are free too, at the time of asking."""
    ports = block_range()
    for _ in range(100):
        base = random.randint(ports.start, ports.stop - size)
        try:
            for port in range(base, base + size):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no block of {size} free ports")


def refusing_url() -> tuple[str, socket.socket]:
    """A loopback URL where connections are refused, and the socket holding its port
    (bound, never listening); keep the socket open while the URL is in use."""
    sock = free_socket()
    host, port = sock.getsockname()
    return f"http://{host}:{port}", sock


@contextlib.asynccontextmanager
async def hung_server(heard: asyncio.Event | None = None) -> AsyncIterator[str]:
    """A loopback server that accepts connections and never answers, as
    ``redis://…``: a hung Redis. ``heard`` is set once it has read a client's bytes."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            if heard is not None:
                heard.set()
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.close()
        await server.wait_closed()


class SlowLink:
    """A loopback TCP proxy to a server whose answers reach the client ``delay_s``
    late (changeable at any time): a slow network between them."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.delay_s = 0.0
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port
        )
        await asyncio.gather(
            self._pipe(reader, upstream_writer, delayed=False),
            self._pipe(upstream_reader, writer, delayed=True),
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, delayed: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                if delayed and self.delay_s:
                    await asyncio.sleep(self.delay_s)
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def slow_link(target_port: int) -> AsyncIterator[SlowLink]:
    """A :class:`SlowLink` to ``target_port`` on loopback, until the block ends."""
    link = SlowLink(target_port)
    server = await asyncio.start_server(link.handle, "127.0.0.1", 0)
    link.port = server.sockets[0].getsockname()[1]
    try:
        yield link
    finally:
        server.close()
        await server.wait_closed()
