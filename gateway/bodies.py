"""Reading a request body no larger than a limit, whatever its ``Content-Length``
says: a declared length over the limit is refused before a byte is read, and a body
that grows past it (chunked, or longer than declared) as soon as it does."""

from __future__ import annotations

from starlette.requests import Request


async def read_bounded(request: Request, limit: int) -> bytes | None:
    """The body, or ``None`` when it is larger than ``limit`` bytes. A client that goes
    away meanwhile raises Starlette's ``ClientDisconnect``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)
