"""The key pepper (``OG_KEY_PEPPER``): made by ``ordergraph keys pepper``, checked at start.

Free of redis and the server: the CLI prints a new one without importing either."""

from __future__ import annotations

import secrets

from gateway.settings import SettingsError

MIN_PEPPER_BYTES = 32  # what `ordergraph keys pepper` prints is longer


def generate_pepper() -> str:
    """A new ``OG_KEY_PEPPER``: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(MIN_PEPPER_BYTES)


def pepper_problem(pepper: str | None) -> str | None:
    """Why ``pepper`` cannot key the API key hashes (never showing it), or None."""
    if not pepper:
        return "not set: outside dev mode API keys are hashed with it"
    size = len(pepper.encode())
    if size < MIN_PEPPER_BYTES:
        return f"{size} bytes; at least {MIN_PEPPER_BYTES} are needed"
    return None


def check_pepper(pepper: str | None) -> None:
    problem = pepper_problem(pepper)
    if problem is not None:
        raise SettingsError(f"OG_KEY_PEPPER: {problem} (make one: ordergraph keys pepper)")
