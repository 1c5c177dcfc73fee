"""Who is calling: the principal an API key stands for, and the vocabularies it uses."""

from __future__ import annotations

from dataclasses import dataclass

from resolvers.scopes import SCOPES  # declared with the graph they guard

__all__ = ["ALL_TENANTS", "CLIENT_CLASSES", "INTERNAL_DEV", "SCOPES", "TIERS", "Principal", "Tier"]

CLIENT_CLASSES = ("app", "console", "partner")
ALL_TENANTS = "*"  # the tenant of internal keys: every account


@dataclass(frozen=True, slots=True)
class Tier:
    """A token bucket: ``capacity`` requests in a burst, refilled at ``refill_per_s``."""

    capacity: float
    refill_per_s: float


TIERS: dict[str, Tier] = {
    "free": Tier(200, 20),
    "standard": Tier(1000, 50),
    "premium": Tier(4000, 200),
    "internal": Tier(20000, 1000),
}


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    tenant: str  # an account id, or "*" for internal use
    scopes: frozenset[str]
    client_class: str
    tier: str

    def has(self, scope: str) -> bool:
        return scope in self.scopes


# Dev mode only (no keys configured): everything, as an internal console.
INTERNAL_DEV = Principal("dev-anonymous", ALL_TENANTS, frozenset(SCOPES), "console", "internal")
