"""What the cache tests share across the tiers (in process, and served where the
simulated sources POST their change events to the gateway): the secret those events
are signed with, settings for a gateway on a shared Redis that takes them, and what
the sources' counters read when the gateway asked them nothing."""

from __future__ import annotations

from typing import Any

from gateway.settings import Settings
from sources.webhooks import generate_secret
from tests.support.gateways import settings_for

SECRET = generate_secret()
NO_REQUESTS = {"oms": 0, "inventory": 0, "carrier": 0, "ticketing": 0}  # SourceStats.requests()


def shared_cache_settings(urls: dict[str, str], cache_url: str, **options: Any) -> Settings:
    """Settings for a gateway over ``urls`` on the cache at ``cache_url`` that takes
    change events signed with :data:`SECRET`."""
    return settings_for(urls, cache_url=cache_url, webhook_secrets=[SECRET], **options)
