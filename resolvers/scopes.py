"""The scopes an API key can hold; each guards fields of the graph (resolvers.access).

Free of strawberry: API keys and the CLI read them at start, without the graph."""

from __future__ import annotations

SCOPES = (
    "orders:read",
    "shipments:read",
    "inventory:read",
    "tickets:read",
    "pii:read",
    "orders:write",
    "tickets:write",
    "introspection",
)
ALL_SCOPES = frozenset(SCOPES)
# The tenant of internal keys and the scope of their views: every account.
EVERY_ACCOUNT = "*"
