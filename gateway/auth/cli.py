"""``ordergraph keys …``: create, list, revoke and rotate API keys.

A new key is printed once and never again: the store keeps only a keyed hash of it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

import msgspec

from gateway.auth.keys import KeyRecord, generate_key, is_key_id, parse_key
from gateway.auth.principal import CLIENT_CLASSES, EVERY_ACCOUNT, SCOPES, TIERS

if TYPE_CHECKING:
    from gateway.auth.store import KeyStore

DEFAULT_TIERS = {"app": "standard", "console": "internal", "partner": "standard"}
# The table's columns; --json adds rotated_to.
KEY_ID_HELP = "the key's 12-character id, as `keys list` shows it"
LIST_COLUMNS = ("id", "tenant", "scopes", "class", "tier", "created", "expires", "status", "label")


def add_keys_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``keys`` and its sub-commands (``args.keys_command``) to a CLI."""
    keys = subparsers.add_parser(
        "keys",
        help="create, list, revoke and rotate API keys",
        epilog="The key store is OG_KEYS_URL (default file:.ordergraph/keys.json, or "
        "redis://…); key hashes are keyed with OG_KEY_PEPPER (at least 32 bytes, required "
        "except by `keys pepper`, which makes one). All settings: docs/settings.md",
    )
    commands = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")

    create = commands.add_parser("create", help="create a key and print it, once")
    create.add_argument(
        "--tenant",
        required=True,
        help=f"the account the key acts for; {EVERY_ACCOUNT!r}: internal (required)",
    )
    create.add_argument(
        "--scopes", required=True, help=f"comma-separated, of: {', '.join(SCOPES)} (required)"
    )
    create.add_argument(
        "--class",
        dest="client_class",
        required=True,
        choices=CLIENT_CLASSES,
        help="the kind of client: %(choices)s (required)",
    )
    create.add_argument(
        "--tier",
        choices=list(TIERS),
        help="rate limit tier (default: "
        + ", ".join(f"{cls} → {tier}" for cls, tier in DEFAULT_TIERS.items())
        + ")",
    )
    create.add_argument(
        "--env", default="live", help="shown in the key: live, test, … (default %(default)s)"
    )
    create.add_argument(
        "--expires-in-days",
        type=float,
        metavar="DAYS",
        help="the key expires DAYS from now (default: never)",
    )
    create.add_argument("--label", help="a note for people, e.g. who holds the key (default: none)")

    commands.add_parser(
        "pepper",
        help="print a fresh OG_KEY_PEPPER (needs no settings); keys made under one pepper "
        "only work with it",
    )

    listing = commands.add_parser("list", help="every key and its status (never a secret)")
    listing.add_argument("--json", action="store_true", help="as a JSON array (default: a table)")

    revoke = commands.add_parser("revoke", help="refuse a key from now on")
    revoke.add_argument("key_id", metavar="KEY_ID", help=KEY_ID_HELP)

    rotate = commands.add_parser(
        "rotate", help="replace a key; the old one keeps working for a grace period"
    )
    rotate.add_argument("key_id", metavar="KEY_ID", help=KEY_ID_HELP)
    rotate.add_argument(
        "--grace-hours",
        type=float,
        default=24.0,
        help="how long the old key keeps working, in hours (default %(default)g)",
    )


async def run_keys_command(
    args: argparse.Namespace,
    store: KeyStore,
    pepper: str,
    out: TextIO,
    *,
    err: TextIO | None = None,
) -> int:
    """Run ``args.keys_command``; 0 done, 2 bad input (said on ``err``, default stderr),
    1 the store failed."""
    # Here, not at the top: the store brings redis, and building the parser (every
    # ordergraph command does) must not.
    from gateway.auth.store import KeyStoreError

    err = sys.stderr if err is None else err
    command = _COMMANDS[args.keys_command]
    try:
        await command(args, store, pepper, out)
    except ValueError as exc:
        print(f"ordergraph keys {args.keys_command}: {exc}", file=err)
        return 2
    except KeyStoreError as exc:
        print(f"ordergraph keys {args.keys_command}: {exc}", file=err)
        return 1
    return 0


async def _create(args: argparse.Namespace, store: KeyStore, pepper: str, out: TextIO) -> None:
    expires_at = None
    if args.expires_in_days is not None:
        if args.expires_in_days <= 0:
            raise ValueError("--expires-in-days must be positive")
        expires_at = datetime.now(UTC) + timedelta(days=args.expires_in_days)
    key, record = generate_key(
        pepper=pepper,
        env=args.env,
        tenant=args.tenant,
        scopes=[scope.strip() for scope in args.scopes.split(",") if scope.strip()],
        client_class=args.client_class,
        tier=args.tier or DEFAULT_TIERS[args.client_class],
        expires_at=expires_at,
        label=args.label,
    )
    await store.put(record)
    _show_new_key(out, "Created API key", key, record)


async def _list(args: argparse.Namespace, store: KeyStore, pepper: str, out: TextIO) -> None:
    now = datetime.now(UTC)
    rows = [_summary(record, now) for record in await store.all()]
    if args.json:
        out.write(msgspec.json.format(msgspec.json.encode(rows), indent=2).decode() + "\n")
        return
    if not rows:
        print("No API keys.", file=out)
        return
    table = [[_cell(row[column]) for column in LIST_COLUMNS] for row in rows]
    widths = [
        max(len(column), *(len(line[i]) for line in table)) for i, column in enumerate(LIST_COLUMNS)
    ]
    for line in [[column.upper() for column in LIST_COLUMNS], *table]:
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        print("  ".join(cells).rstrip(), file=out)


async def _revoke(args: argparse.Namespace, store: KeyStore, pepper: str, out: TextIO) -> None:
    record = await _existing(store, args.key_id)
    if record.revoked_at is not None:
        print(f"API key {record.key_id} was already revoked {_when(record.revoked_at)}.", file=out)
        return
    await store.put(msgspec.structs.replace(record, revoked_at=datetime.now(UTC)))
    print(
        f"Revoked API key {record.key_id}. Gateways refuse it within seconds "
        "(each caches a verified key briefly).",
        file=out,
    )


async def _rotate(args: argparse.Namespace, store: KeyStore, pepper: str, out: TextIO) -> None:
    """A new key with the same attributes and lifetime; the old one expires after the grace
    period (or sooner, if it already would) and names its successor."""
    if args.grace_hours < 0:
        raise ValueError("--grace-hours must not be negative")
    old = await _existing(store, args.key_id)
    now = datetime.now(UTC)
    status = old.status(now)
    if status != "active":
        raise ValueError(f"API key {old.key_id} is {status}; create a new key instead")
    if old.rotated_to is not None:
        raise ValueError(f"API key {old.key_id} was already rotated to {old.rotated_to}")
    lifetime = None if old.expires_at is None else old.expires_at - old.created_at
    key, new = generate_key(
        pepper=pepper,
        env=old.env,
        tenant=old.tenant,
        scopes=old.scopes,
        client_class=old.client_class,
        tier=old.tier,
        expires_at=None if lifetime is None else now + lifetime,
        label=old.label,
    )
    grace_end = now + timedelta(hours=args.grace_hours)
    old_expiry = grace_end if old.expires_at is None else min(old.expires_at, grace_end)
    await store.put(new)
    await store.put(msgspec.structs.replace(old, expires_at=old_expiry, rotated_to=new.key_id))
    _show_new_key(out, f"Rotated API key {old.key_id} to", key, new)
    print(f"The old key {old.key_id} keeps working until {_when(old_expiry)}.", file=out)


_Command = Callable[[argparse.Namespace, "KeyStore", str, TextIO], Awaitable[None]]
_COMMANDS: dict[str, _Command] = {
    "create": _create,
    "list": _list,
    "revoke": _revoke,
    "rotate": _rotate,
}


async def _existing(store: KeyStore, text: str) -> KeyRecord:
    """The record for a key id, or for a whole key pasted instead (never echoed)."""
    try:
        key_id = parse_key(text).key_id
    except ValueError:
        key_id = text
    if not is_key_id(key_id):
        raise ValueError("KEY_ID: give the 12-character key id (as `keys list` shows)")
    record = await store.get(key_id)
    if record is None:
        raise ValueError(f"no API key with id {key_id}")
    return record


def _show_new_key(out: TextIO, headline: str, key: str, record: KeyRecord) -> None:
    print(
        f"{headline} {record.key_id}: tenant {record.tenant}, class {record.client_class}, "
        f"tier {record.tier}, scopes {','.join(record.scopes)}, "
        f"expires {_when(record.expires_at)}\n\n    {key}\n\n"
        "Copy it now: it cannot be shown again (only a hash of it is stored).",
        file=out,
    )


def _summary(record: KeyRecord, now: datetime) -> dict[str, Any]:
    """What ``list`` shows of a record: everything but its secret hash."""
    return {
        "id": record.key_id,
        "tenant": record.tenant,
        "scopes": record.scopes,
        "class": record.client_class,
        "tier": record.tier,
        "created": record.created_at,
        "expires": record.expires_at,
        "status": record.status(now),
        "label": record.label,
        "rotated_to": record.rotated_to,
    }


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(value)
    if isinstance(value, datetime):
        return _when(value)
    return "-" if value is None else str(value)


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")
