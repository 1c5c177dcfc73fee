"""GraphiQL's page and assets over plain HTTP: every asset the page references is
served by the gateway itself, unchanged, with its content type and a long cache; the
page names no other host; nothing else under ``/graphiql`` is reachable; and none of
it is served where GraphiQL is not."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from gateway.graphiql import GraphiQLAssets
from tests.support.gateways import in_process_gateway, settings_for

HTML = {"accept": "text/html"}
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}


class _Assets(HTMLParser):
    """``(url, integrity)`` of every script and stylesheet the page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.found.append((values["src"] or "", values.get("integrity")))
        if tag == "link" and values.get("rel") == "stylesheet":
            self.found.append((values.get("href") or "", values.get("integrity")))


async def _page(gateway) -> str:
    async with gateway.session.get(f"{gateway.url}/graphql", headers=HTML) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        return await resp.text()


async def test_the_browser_is_told_to_load_and_send_nothing_elsewhere(served):
    async with served.session.get(f"{served.url}/graphql", headers=HTML) as resp:
        policy = resp.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'" and directives["connect-src"] == "'self'"
    assert directives["script-src"].startswith("'self' 'sha256-")  # the inline script only
    assert "unsafe-eval" not in policy and "http" not in policy and "*" not in policy


def _assets(html: str) -> list[tuple[str, str | None]]:
    parser = _Assets()
    parser.feed(html)
    return parser.found


async def test_every_asset_the_page_loads_is_served_unchanged(served):
    assets = _assets(await _page(served))
    assert len(assets) == 6  # react, react-dom, graphiql js+css, explorer js+css
    for url, integrity in assets:
        assert url.startswith("/graphiql/") and not url.startswith("//"), url
        async with served.session.get(f"{served.url}{url}") as resp:
            assert resp.status == 200, url
            body = await resp.read()
            suffix = url[url.rindex(".") :]
            assert resp.content_type == CONTENT_TYPES[suffix], (url, resp.content_type)
            assert resp.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert resp.headers["x-content-type-options"] == "nosniff"
        # The exact builds strawberry's page pins: the browser checks this too.
        digest = base64.b64encode(hashlib.sha384(body).digest()).decode()
        assert integrity == f"sha384-{digest}", url


async def test_the_page_names_no_other_host(served):
    html = await _page(served)
    assert "graphiql" in html.lower() and "unpkg" not in html and "Cookies" not in html
    gateway_host = urlsplit(served.url).netloc
    for url in re.findall(r"https?://[^\s\"'`<>)]+", html, re.IGNORECASE):
        assert urlsplit(url).netloc == gateway_host, url
    assert not re.search(r"https?://", html, re.IGNORECASE), "the page needs no absolute URL"
    for url in re.findall(r"\b(?:src|href)=\"([^\"]*)\"", html):
        assert url.startswith("/graphiql/") or url == "data:,", url  # same origin, no "//host"


async def test_only_the_shipped_assets_are_reachable(served):
    referenced = {url.removeprefix("/graphiql/") for url, _ in _assets(await _page(served))}
    assert GraphiQLAssets().names == referenced  # nothing shipped that the page does not load
    for path in (
        "/graphiql/graphiql-3.8.3/LICENSE",
        "/graphiql/graphiql-3.8.3/nothing.js",
        "/graphiql/vendor/README",
        "/graphiql/graphiql-3.8.3/..%2F..%2F__init__.py",
        "/graphiql/..%2F..%2Fapp.py/x.js",
        "/graphiql/%2e%2e/__init__.py",
        "/graphiql/graphiql.html",
    ):
        async with served.session.get(f"{served.url}{path}") as resp:
            assert resp.status == 404, path
            assert b"GraphiQL" not in await resp.read()


@pytest.mark.parametrize("options", [{"dev_mode": False}, {"dev_mode": True, "graphiql": False}])
async def test_no_assets_where_graphiql_is_not_served(sim, options):
    async with (
        in_process_gateway(settings_for(sim.urls, **options)) as other,
        other.session.get(f"{other.url}/graphiql/react-18.2.0/react.production.min.js") as resp,
    ):
        assert resp.status == 404, options
