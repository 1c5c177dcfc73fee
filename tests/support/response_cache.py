"""The response cache's tests (in process, and served where the sources' change events
reach the gateway): the order view they cache, whether an answer came from the cache,
and settings that turn it on."""

from __future__ import annotations

from typing import Any

from gateway.response_cache import HIT_REPORT
from gateway.settings import Settings
from tests.support.gateways import settings_for

VIEW = """query View($n: String!) { orderByNumber(number: $n) {
  number updatedAt lineItems { sku availability { available } }
} }"""


def hit(body: dict[str, Any]) -> bool:
    """Whether the answer ``body`` was served from the response cache."""
    return body.get("extensions", {}).get("cache") == HIT_REPORT


def response_cached(urls: dict[str, str], **options: Any) -> Settings:
    """``settings_for(urls, **options)`` with the response cache on."""
    return settings_for(urls, response_cache=True, **options)
