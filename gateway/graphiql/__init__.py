"""GraphiQL in dev mode, served whole by the gateway: our page (``graphiql.html``)
and the pinned builds it loads, shipped in the package under ``vendor/`` (its
README names each package, version and licence). No request leaves the machine.

Assets live at ``/graphiql/<package>-<version>/<file>``: the version is in the URL,
so they are cached for a year. Only the files found under ``vendor/`` at start are
served, looked up by name, so no path can reach anything else.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

HERE = Path(__file__).parent
VENDOR = HERE / "vendor"  # third-party builds, copied unchanged
ASSET_PATH = "/graphiql/{package}/{file}"
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
IMMUTABLE = "public, max-age=31536000, immutable"


def page_html() -> str:
    """The GraphiQL page: it loads same-origin assets only."""
    return (HERE / "graphiql.html").read_text(encoding="utf-8")


def content_security_policy(html: str) -> str:
    """A policy for the page under which the browser itself refuses to load or send
    anything beyond this origin: scripts are the served files and the page's own
    inline script (by hash); GraphiQL styles elements inline and embeds its fonts."""
    inline = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()}'"
        for code in inline
    )
    return (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"
    )


class GraphiQLAssets:
    """Serves the shipped GraphiQL assets (``.js`` and ``.css`` under ``vendor/``)."""

    def __init__(self, root: Path = VENDOR) -> None:
        self._files = {
            f"{path.parent.name}/{path.name}": path
            for path in root.glob("*/*")
            if path.suffix in CONTENT_TYPES and path.is_file()
        }

    @property
    def names(self) -> frozenset[str]:
        """``<package>-<version>/<file>`` of every asset served."""
        return frozenset(self._files)

    def route(self) -> Route:
        return Route(ASSET_PATH, self.serve, methods=["GET"])  # GET answers HEAD too

    async def serve(self, request: Request) -> Response:
        name = f"{request.path_params['package']}/{request.path_params['file']}"
        path = self._files.get(name)
        if path is None:
            return PlainTextResponse("not found", 404)
        return FileResponse(
            path,
            media_type=CONTENT_TYPES[path.suffix],
            headers={"cache-control": IMMUTABLE, "x-content-type-options": "nosniff"},
        )
