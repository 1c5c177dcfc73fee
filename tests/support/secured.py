"""A gateway as production runs it (no dev mode): a key store with one key per case,
and a manifest of trusted documents for partners."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from gateway.app import Components
from gateway.auth.keys import generate_key
from gateway.auth.store import open_key_store
from gateway.settings import Settings
from resolvers.scopes import ALL_SCOPES
from tests.support.gateways import RunningGateway, gateway_at, in_process_gateway, settings_for

PEPPER = "test-pepper-0123456789abcdef"
TENANT_A, TENANT_B = "acct_partner_north", "acct_partner_south"
ORDER_VIEW = """query OrderView($n: String!) { orderByNumber(number: $n) {
  id number customer { name email phone } shippingAddress { city line1 postalCode }
  lineItems { sku availability { available } }
  shipments { trackingNumber tracking { status } }
  tickets { subject }
} }"""
EXCEPTION_QUEUE = """query Queue($after: String, $filter: ExceptionQueueFilter) {
  exceptionQueue(first: 50, after: $after, filter: $filter) {
    nodes { orderId severity codes order { id } }
    pageInfo { hasNextPage endCursor }
} }"""
MANIFEST = {
    "order-by-number": ORDER_VIEW,
    "orders-page": "query Page { orders(first: 20) { nodes { id number } } }",
    "orders-after": "query Next($after: String) "
    "{ orders(first: 20, after: $after) { nodes { id number } pageInfo { endCursor } } }",
    "exception-queue": EXCEPTION_QUEUE,
}
QUEUE_SCOPES = ["orders:read", "shipments:read", "inventory:read", "tickets:read"]
SUPPORT_SCOPES = ["orders:read", "tickets:read", "tickets:write"]

Serve = Callable[..., contextlib.AbstractAsyncContextManager[RunningGateway]]


@dataclass
class Secured:
    gateway: RunningGateway
    keys: dict[str, str] = field(default_factory=dict)
    state: Components | None = None  # the app's process state

    async def post(
        self, payload: Any, *, key: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any], Mapping[str, str]]:
        sent = {"accept": "application/graphql-response+json", **(headers or {})}
        if key is not None:
            sent["authorization"] = f"Bearer {self.keys[key]}"
        async with self.gateway.session.post(
            f"{self.gateway.url}/graphql", json=payload, headers=sent
        ) as resp:
            return resp.status, await resp.json(content_type=None), resp.headers.copy()


KEYS = {
    # name: (class, tenant, scopes, tier, expires in days (negative: expired))
    "console": ("console", "*", sorted(ALL_SCOPES), "internal", None),
    "console_b": ("console", "*", sorted(ALL_SCOPES), "internal", None),  # a bucket apart
    "app": ("app", "*", ["orders:read", "shipments:read", "inventory:read"], "standard", None),
    "app_a": ("app", TENANT_A, ["orders:read", "shipments:read", "tickets:read"], "standard", None),
    "app_b": ("app", TENANT_B, ["orders:read", "shipments:read", "tickets:read"], "standard", None),
    "app_a_pii": ("app", TENANT_A, ["orders:read", "pii:read", "inventory:read"], "standard", None),
    "partner_a": ("partner", TENANT_A, ["orders:read", "shipments:read"], "standard", None),
    "partner_queue_a": ("partner", TENANT_A, QUEUE_SCOPES, "standard", None),
    "app_queue": ("app", "*", QUEUE_SCOPES, "internal", None),  # every account, not staff
    "queue_b": ("app", TENANT_B, QUEUE_SCOPES, "standard", None),
    "writer_a": ("app", TENANT_A, ["orders:read", "orders:write"], "standard", None),
    "support_a": ("app", TENANT_A, SUPPORT_SCOPES, "standard", None),
    "support_all": ("app", "*", SUPPORT_SCOPES, "standard", None),  # every account, not staff
    # write scopes only: may run the mutations, not read what they return
    "order_writer_a": ("app", TENANT_A, ["orders:write"], "standard", None),
    "ticket_writer_a": ("app", TENANT_A, ["tickets:write"], "standard", None),
    "free": ("app", "*", ["orders:read"], "free", None),
    "free_attacker": ("app", "*", ["orders:read"], "free", None),  # spends its own bucket
    "orders_only": ("app", "*", ["orders:read"], "internal", None),
    "no_pii": ("app", "*", sorted(ALL_SCOPES - {"pii:read"}), "internal", None),
    "tickets_only": ("app", "*", ["tickets:read"], "standard", None),
    "expired": ("app", "*", ["orders:read"], "standard", -1),
    "revoked": ("app", "*", ["orders:read"], "standard", None),
}


AUDIT_FIELDS = ("time", "outcome", "code", "keyId", "tenant", "operation", "documentHash",
                "denied", "correlationId")  # fmt: skip


def audit_entries(records: list[logging.LogRecord]) -> list[dict[str, Any]]:
    """The audit lines among ``records``, as the JSON log format writes them."""
    return [
        {name: getattr(record, name) for name in AUDIT_FIELDS}
        for record in records
        if record.name == "ordergraph.audit"
    ]


@contextlib.asynccontextmanager
async def secured_gateway(
    urls: dict[str, str], directory: Path, *, serve: Serve = in_process_gateway, **options: Any
) -> AsyncIterator[Secured]:
    """A production-mode gateway holding ``KEYS``, in process unless ``serve`` says
    otherwise (``running_gateway``: under uvicorn, for WebSockets and event streams)."""
    settings, keys = await secured_settings(urls, directory, **options)
    state = gateway_at(settings)
    async with serve(settings, gateway=state) as gateway:
        yield Secured(gateway, keys, state)


async def secured_settings(
    urls: dict[str, str], directory: Path, **options: Any
) -> tuple[Settings, dict[str, str]]:
    """Production settings with a key store holding ``KEYS`` (shared by every gateway
    started with them), and those keys by name."""
    store_url = f"file:{directory}/keys.json"
    store = open_key_store(store_url)
    keys: dict[str, str] = {}
    for name, (client_class, tenant, scopes, tier, days) in KEYS.items():
        key, record = generate_key(
            pepper=PEPPER, env="test", tenant=tenant, scopes=scopes,
            client_class=client_class, tier=tier,
        )  # fmt: skip
        if days is not None:
            record = msgspec.structs.replace(
                record, expires_at=datetime.now(UTC) + timedelta(days=days)
            )
        if name == "revoked":
            record = msgspec.structs.replace(record, revoked_at=datetime.now(UTC))
        await store.put(record)
        keys[name] = key
    await store.close()
    manifest = directory / "manifest.json"
    manifest.write_text(json.dumps(MANIFEST))
    settings = settings_for(
        urls,
        dev_mode=False,
        key_pepper=PEPPER,
        keys_url=store_url,
        persisted_manifest=str(manifest),
        **options,
    )
    return settings, keys
