"""API keys: their format and storage, authenticating requests, and the ``keys`` CLI."""

from gateway.auth.authenticate import Authenticator, AuthError
from gateway.auth.cli import add_keys_commands, run_keys_command
from gateway.auth.keys import KeyRecord, generate_key, parse_key
from gateway.auth.principal import INTERNAL_DEV, SCOPES, TIERS, Principal, Tier
from gateway.auth.store import KeyStore, KeyStoreError, open_key_store

__all__ = [
    "INTERNAL_DEV",
    "SCOPES",
    "TIERS",
    "AuthError",
    "Authenticator",
    "KeyRecord",
    "KeyStore",
    "KeyStoreError",
    "Principal",
    "Tier",
    "add_keys_commands",
    "generate_key",
    "open_key_store",
    "parse_key",
    "run_keys_command",
]
