"""Who is calling: the principal an API key stands for, and the vocabularies it uses."""

from __future__ import annotations

from dataclasses import dataclass

from resolvers.scopes import EVERY_ACCOUNT, SCOPES  # declared with the graph they guard

__all__ = [
    "CLIENT_CLASSES",
    "EVERY_ACCOUNT",
    "INTERNAL_DEV",
    "SCOPES",
    "TIERS",
    "Principal",
    "Tier",
]

CLIENT_CLASSES = ("app", "console", "partner")


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
INTERNAL_DEV = Principal("dev-anonymous", EVERY_ACCOUNT, frozenset(SCOPES), "console", "internal")
