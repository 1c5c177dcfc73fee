"""Which browser pages may use the gateway (``/graphql`` over HTTP, event streams and
WebSockets) in dev mode, where a request without a key runs as an internal console.

A WebSocket is not bound by the same-origin policy, so without this check any web
page a developer visits could open ``ws://127.0.0.1:8000/graphql`` and read customers'
data; and a page under a host name rebound to 127.0.0.1 (DNS rebinding) is the
gateway's own origin to the browser, free to POST mutations and read the answers.
Allowed: a request from no browser page (no ``Origin``, no ``Sec-Fetch-Site``: curl, a
server), a page of the gateway itself on a loopback name or address (``localhost``,
``127.0.0.1``, ``[::1]``) or on the address the server is bound to, on the same port
as the request's ``Host``, and the origins listed in ``OG_ALLOWED_ORIGINS``. A page
served under another host name is refused even when it resolves to this machine;
list it. A browser sends no ``Origin`` with a same-origin GET, only
``Sec-Fetch-Site``: that page is on the ``Host`` the request names, judged the same way.
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
        """Whether the request comes from a page that may not use the gateway."""
        origin = headers.get("origin")
        if origin is None:
            if "sec-fetch-site" not in headers:
                return False  # not from a browser's page
            origin = f"http://{headers.get('host', '')}"  # a same-origin GET's page
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
