"""Which browser pages may open a live connection (a WebSocket, an event stream) in
dev mode, where a request without a key runs as an internal console.

A WebSocket is not bound by the same-origin policy, so without this check any web
page a developer visits could open ``ws://127.0.0.1:8000/graphql`` and read customers'
data. Allowed: a request without an ``Origin`` (not a browser page), a page of the
gateway itself on a loopback name or address (``localhost``, ``127.0.0.1``, ``[::1]``)
or on the address the server is bound to, on the same port as the request's ``Host``,
and the origins listed in ``OG_ALLOWED_ORIGINS``. A page served under another host
name is refused even when it resolves to this machine (DNS rebinding); list it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def normal_origin(origin: str) -> str | None:
    """``scheme://host:port`` in lower case with the port explicit, or None when
    ``origin`` is not one (``null``, a path, garbage)."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


class OriginPolicy:
    def __init__(self, allowed: Iterable[str]) -> None:
        self._allowed = frozenset(o for o in map(normal_origin, allowed) if o is not None)

    def foreign(self, headers: Mapping[str, str], server: tuple[str, int] | None) -> bool:
        """Whether the request comes from a page that may not open a live connection."""
        origin = headers.get("origin")
        if origin is None:
            return False
        normal = normal_origin(origin)
        if normal is None:
            return True  # "null" (a sandboxed frame, a file:) or not an origin at all
        if normal in self._allowed:
            return False
        parts = urlsplit(normal)
        try:
            host = urlsplit(f"//{headers.get('host', '')}")
            host_port = host.port or DEFAULT_PORTS[parts.scheme]
        except ValueError:
            return True
        if parts.port != host_port:
            return True
        bound = server[0] if server else None
        return not (parts.hostname in LOOPBACK or parts.hostname == bound == host.hostname)
