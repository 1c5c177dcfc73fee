"""API keys: format, hashing, both stores, authenticating requests, and the keys CLI."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import json
import math
import os
import re
import stat
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from redis.asyncio import Redis
from starlette.datastructures import Headers

from gateway.auth.authenticate import (
    API_KEY_EXPIRED,
    API_KEY_IN_URL,
    API_KEY_INVALID,
    API_KEY_MALFORMED,
    API_KEY_MISSING,
    API_KEY_REVOKED,
    AUTH_UNAVAILABLE,
    Authenticator,
    AuthError,
    principal_for,
)
from gateway.auth.cli import add_keys_commands, run_keys_command
from gateway.auth.keys import (
    KEY_ID_ALPHABET,
    SECRET_ALPHABET,
    KeyRecord,
    generate_key,
    hash_secret,
    parse_key,
)
from gateway.auth.principal import INTERNAL_DEV, SCOPES, Principal
from gateway.auth.store import (
    INDEX_KEY,
    RECORD_PREFIX,
    FileKeyStore,
    KeyStore,
    KeyStoreError,
    RedisKeyStore,
    open_key_store,
)
from gateway.cli import _demo_keys
from gateway.settings import Settings
from sources.options import REDIS_SCHEMES
from tests.support.gateways import in_process_gateway, settings_for
from tests.support.ports import free_socket, hung_server
from tests.support.redis_server import PATIENT_TIMEOUT_S, RedisServer
from tests.support.timing import HANG_S, fastest_async
from tests.support.waiting import eventually

PEPPER = "pepper-for-tests-0123456789abcdef"


def new_key(**overrides: Any) -> tuple[str, KeyRecord]:
    options: dict[str, Any] = {
        "pepper": PEPPER,
        "env": "test",
        "tenant": "acct_webshop",
        "scopes": ["orders:read", "shipments:read"],
        "client_class": "app",
        "tier": "standard",
    }
    return generate_key(**(options | overrides))


def replaced(record: KeyRecord, **changes: Any) -> KeyRecord:
    return msgspec.structs.replace(record, **changes)


# --- format -----------------------------------------------------------------------


def test_key_round_trips_through_parse():
    key, record = new_key(env="live")
    parsed = parse_key(key)
    assert key.startswith(f"og_live_{record.key_id}_")
    assert (parsed.env, parsed.key_id) == ("live", record.key_id)
    assert record.secret_hash == hash_secret(PEPPER, parsed.key_id, parsed.secret)
    assert parsed.secret not in repr(parsed)


GOOD = "og_live_abcdefghij23_" + "A1b2" * 10 + "xyz"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "og_live",
        "og_live_abcdefghij23",
        GOOD.replace("og_", "ok_", 1),
        GOOD.replace("_live_", "_LIVE_"),
        GOOD.replace("_live_", "_l_"),
        GOOD.replace("_live_", "_abcdefghijk_"),
        GOOD.replace("_live_", "__"),
        GOOD.replace("abcdefghij23", "abcdefghij2"),  # key id too short
        GOOD.replace("abcdefghij23", "abcdefghij234"),  # too long
        GOOD.replace("abcdefghij23", "abcdefghij01"),  # 0 and 1: not base32
        GOOD.replace("abcdefghij23", "ABCDEFGHIJ23"),
        GOOD[:-1],  # secret too short
        GOOD + "a",  # too long
        GOOD[:-1] + "_",
        GOOD[:-1] + "-",
        GOOD + "_extra",
        " " + GOOD,
        GOOD + "\n",
        "Bearer " + GOOD,
    ],
)
def test_malformed_keys_do_not_parse(text):
    parse_key(GOOD)  # the table's base is a key
    with pytest.raises(ValueError, match="not an API key") as caught:
        parse_key(text)
    assert "A1b2" not in str(caught.value)  # never quotes the text


def test_secrets_are_long_random_and_split_unambiguously():
    secrets = [parse_key(new_key()[0]).secret for _ in range(200)]
    assert len(set(secrets)) == 200
    assert {len(secret) for secret in secrets} == {43}
    assert 43 * math.log2(len(SECRET_ALPHABET)) >= 256
    assert "_" not in SECRET_ALPHABET
    # 8600 draws: every one of the 62 characters shows up (else the draw is biased).
    assert set("".join(secrets)) == set(SECRET_ALPHABET)


def test_key_ids_are_base32_and_distinct():
    key_ids = [new_key()[1].key_id for _ in range(200)]
    assert len(set(key_ids)) == 200
    assert all(len(key_id) == 12 and set(key_id) <= set(KEY_ID_ALPHABET) for key_id in key_ids)


def test_the_hash_is_keyed_by_the_pepper():
    key, record = new_key()
    parsed = parse_key(key)
    assert hash_secret(PEPPER, parsed.key_id, parsed.secret) == record.secret_hash
    assert hash_secret("another pepper", parsed.key_id, parsed.secret) != record.secret_hash
    assert parsed.secret not in msgspec.json.encode(record).decode()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"pepper": ""}, "pepper is empty"),
        ({"env": "Live"}, "env 'Live'"),
        ({"env": "x"}, "env 'x'"),
        ({"tenant": ""}, "tenant ''"),
        ({"tenant": "acct webshop"}, "tenant"),
        ({"scopes": []}, "at least one"),
        ({"scopes": ["orders:read", "orders:delete"]}, "unknown scope.*orders:delete"),
        ({"client_class": "robot"}, "client class 'robot'"),
        ({"tier": "gold"}, "tier 'gold'"),
        ({"expires_at": datetime.now(UTC) - timedelta(seconds=1)}, "not in the future"),
        ({"expires_at": datetime(2099, 1, 1)}, "timezone-aware"),
    ],
)
def test_generate_key_refuses_bad_input(overrides, message):
    with pytest.raises(ValueError, match=message):
        new_key(**overrides)


def test_internal_keys_and_duplicate_scopes():
    _, record = new_key(tenant="*", scopes=["pii:read", "orders:read", "pii:read"])
    assert record.tenant == "*"
    assert record.scopes == ["pii:read", "orders:read"]


def test_status_expired_and_revoked():
    _, record = new_key()
    now = datetime.now(UTC)
    assert record.status(now) == "active"
    assert replaced(record, expires_at=now).status(now) == "expired"
    assert replaced(record, expires_at=now + timedelta(hours=1)).status(now) == "active"
    assert replaced(record, revoked_at=now).status(now) == "revoked"
    assert replaced(record, revoked_at=now, expires_at=now).status(now) == "revoked"


def test_a_record_with_an_unknown_scope_does_not_decode():
    _, record = new_key()
    raw = msgspec.json.encode(record).replace(b"orders:read", b"orders:nuke")
    with pytest.raises(msgspec.ValidationError, match="orders:nuke"):
        msgspec.json.decode(raw, type=KeyRecord)


def test_principal_and_dev_principal():
    assert INTERNAL_DEV.tenant == "*" and INTERNAL_DEV.tier == "internal"
    assert all(INTERNAL_DEV.has(scope) for scope in SCOPES)
    principal = Principal("k", "acct_webshop", frozenset({"orders:read"}), "app", "free")
    assert principal.has("orders:read") and not principal.has("pii:read")


# --- stores -----------------------------------------------------------------------


@pytest.fixture(params=["file", "redis"])
async def make_store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    redis_server: RedisServer,
    redis_admin: Redis,
) -> AsyncIterator[Callable[[], KeyStore]]:
    """Opens stores on one backend (a fresh file, or the flushed test Redis)."""
    opened: list[KeyStore] = []

    def make() -> KeyStore:
        store: KeyStore
        if request.param == "file":
            store = FileKeyStore(tmp_path / "secrets" / "keys.json")
        else:
            store = RedisKeyStore(redis_server.url, timeout_s=PATIENT_TIMEOUT_S)
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()


async def test_store_contract(make_store):
    store = make_store()
    _, first = new_key(label="first")
    _, second = new_key(tenant="*", client_class="console", tier="internal")
    assert await store.get(first.key_id) is None
    assert await store.all() == []

    await store.put(first)
    await store.put(second)
    assert await store.get(first.key_id) == first
    assert await store.get(second.key_id) == second
    assert await store.all() == [first, second]  # oldest first

    revoked = replaced(first, revoked_at=datetime.now(UTC))
    await store.put(revoked)
    assert await store.get(first.key_id) == revoked
    assert len(await store.all()) == 2

    other = make_store()  # another instance (or process) sees the same records
    assert await other.get(first.key_id) == revoked
    assert await other.all() == [revoked, second]


async def test_store_sees_writes_of_another_instance(make_store):
    reader, writer = make_store(), make_store()
    _, record = new_key()
    await writer.put(record)
    assert await reader.get(record.key_id) == record
    await writer.put(replaced(record, revoked_at=datetime.now(UTC)))
    assert (await reader.get(record.key_id)).revoked_at is not None  # type: ignore[union-attr]


async def test_redis_layout_one_document_per_key_and_no_ttl(
    redis_server: RedisServer, redis_admin: Redis
):
    store = RedisKeyStore(redis_server.url, timeout_s=PATIENT_TIMEOUT_S)
    _, record = new_key()
    await store.put(record)
    await store.close()
    raw = await redis_admin.get(f"{RECORD_PREFIX}{record.key_id}")
    assert msgspec.json.decode(raw, type=KeyRecord) == record
    assert await redis_admin.smembers(INDEX_KEY) == {record.key_id.encode()}
    assert await redis_admin.ttl(f"{RECORD_PREFIX}{record.key_id}") == -1
    assert await redis_admin.ttl(INDEX_KEY) == -1


async def test_redis_store_fails_fast_when_redis_is_down_or_hung():
    with free_socket() as sock:  # bound, not listening: refused
        store = RedisKeyStore(f"redis://127.0.0.1:{sock.getsockname()[1]}/0")
        with pytest.raises(KeyStoreError):
            await store.get("abcdefghij23")
        await store.close()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def failing() -> float:
        store = RedisKeyStore(f"redis://127.0.0.1:{port}/0", timeout_s=0.1)
        started = time.monotonic()
        with pytest.raises(KeyStoreError):
            await store.get("abcdefghij23")
        took = time.monotonic() - started
        await store.close()
        return took

    # The fastest of a few fresh stores: a loaded machine only ever adds time.
    assert await fastest_async(failing, within=0.5) < 0.5
    server.close()


async def test_a_gateway_waits_its_keys_timeout_for_a_hung_store_then_refuses(sim) -> None:
    """OG_KEYS_TIMEOUT_MS reaches the Redis key store: a hung store refuses the request
    (503, retryable) no sooner than that, and never lets it through unchecked."""
    key, _ = new_key()
    async with hung_server() as hung_url:
        settings = settings_for(
            sim.urls, dev_mode=False, key_pepper=PEPPER, keys_url=hung_url, keys_timeout_ms=600
        )
        async with in_process_gateway(settings) as gateway:
            started = time.monotonic()
            async with gateway.session.post(
                f"{gateway.url}/graphql",
                json={"query": "{ __typename }"},
                headers={"Authorization": f"Bearer {key}"},
            ) as resp:
                status, body = resp.status, await resp.json()
            took = time.monotonic() - started
    assert status == 503, body
    assert body["errors"][0]["extensions"]["code"] == "AUTH_UNAVAILABLE"
    # Neither the 400 ms default nor the test gateways' patient one: the setting.
    assert 0.6 <= took < PATIENT_TIMEOUT_S, took


async def _readiness(gateway: Any) -> tuple[int, dict[str, Any]]:
    async with gateway.session.get(f"{gateway.url}/readyz") as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize(
    ("dev_mode", "down"), [(False, (503, "unavailable")), (True, (200, "degraded"))]
)
async def test_readiness_fails_while_the_key_store_is_down_outside_dev_mode(
    sim, dev_mode: bool, down: tuple[int, str]
) -> None:
    """Outside dev mode every request needs its key checked: with the store down each
    is refused (503 AUTH_UNAVAILABLE), so the instance is not ready. In dev mode
    anonymous requests still run."""
    keys = RedisServer()
    await keys.start()
    settings = settings_for(
        sim.urls, dev_mode=dev_mode, key_pepper=PEPPER, keys_url=keys.url, keys_timeout_ms=300
    )
    try:
        async with in_process_gateway(settings) as gateway:
            status, body = await _readiness(gateway)
            assert (status, body["status"]) == (200, "ready"), body
            assert body["key_store"] == {"kind": "redis", "ok": True}
            await keys.stop()

            async def says(expected: tuple[int, str]) -> bool:
                nonlocal body
                status, body = await _readiness(gateway)
                return (status, body["status"]) == expected

            await eventually(lambda: says(down), "not ready without its key store", HANG_S)
            assert body["key_store"]["ok"] is False and body["key_store"]["kind"] == "redis"
            assert "Redis key store" in body["key_store"]["detail"]
            await keys.start()
            await eventually(lambda: says((200, "ready")), "ready with its key store", HANG_S)
    finally:
        await keys.stop()


async def test_readiness_asks_the_key_store_at_most_once_a_while(
    sim, redis_server: RedisServer, redis_admin: Redis
) -> None:
    """Probes from several load balancers share one answer of the key store."""
    from gateway.app import READY_KEY_STORE_EVERY_S

    settings = settings_for(sim.urls, dev_mode=False, key_pepper=PEPPER, keys_url=redis_server.url)
    async with in_process_gateway(settings) as gateway:
        await redis_admin.config_resetstat()
        started = time.monotonic()
        answers = [await _readiness(gateway) for _ in range(3)]
        answers += await asyncio.gather(*(_readiness(gateway) for _ in range(3)))
        took = time.monotonic() - started
        stats = await redis_admin.info("commandstats")
    assert {(status, body["status"]) for status, body in answers} == {(200, "ready")}
    asked = stats.get("cmdstat_get", {}).get("calls", 0)
    assert 1 <= asked <= 1 + took // READY_KEY_STORE_EVERY_S, (asked, took)


async def test_file_store_writes_0600_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "new" / "dir" / "keys.json"
    store = FileKeyStore(path)
    _, first = new_key()
    await store.put(first)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())[first.key_id]["key_id"] == first.key_id
    before = path.read_bytes()

    def crash(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyStoreError, match="disk full"):
        await store.put(new_key()[1])
    monkeypatch.undo()
    assert path.read_bytes() == before  # the old file, whole
    assert sorted(p.name for p in path.parent.iterdir()) == ["keys.json", "keys.json.lock"]


async def test_file_store_concurrent_writers_lose_nothing(tmp_path: Path):
    stores = [FileKeyStore(tmp_path / "keys.json") for _ in range(3)]
    records = [new_key()[1] for _ in range(30)]
    await asyncio.gather(*(stores[i % 3].put(record) for i, record in enumerate(records)))
    assert {r.key_id for r in await FileKeyStore(tmp_path / "keys.json").all()} == {
        r.key_id for r in records
    }


async def test_file_store_reads_from_memory_until_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "keys.json"
    _, record = new_key()
    await FileKeyStore(path).put(record)
    store = FileKeyStore(path)
    reads = 0
    read = store._read_sync

    def counting_read() -> Any:
        nonlocal reads
        reads += 1
        return read()

    monkeypatch.setattr(store, "_read_sync", counting_read)
    for _ in range(3):
        assert await store.get(record.key_id) == record
    assert reads == 1

    # Another writer (say ``ordergraph keys revoke``) revokes the key: the next read
    # notices. A second store on the same file stands for the other process: the store
    # tells a change by the file's (mtime, size, inode), nothing of who wrote it, and
    # writers' locking is test_file_store_concurrent_writers_lose_nothing's.
    other = FileKeyStore(path)
    await other.put(msgspec.structs.replace(record, revoked_at=datetime.now(UTC)))
    assert (await store.get(record.key_id)).status(datetime.now(UTC)) == "revoked"  # type: ignore[union-attr]
    assert reads == 2


async def test_file_store_missing_and_corrupt_files(tmp_path: Path):
    path = tmp_path / "keys.json"
    store = FileKeyStore(path)
    assert await store.all() == []
    path.write_text("{not json")
    with pytest.raises(KeyStoreError, match=r"keys\.json"):
        await store.get("abcdefghij23")


@pytest.mark.parametrize(
    ("url", "kind", "path"),
    [
        ("redis://127.0.0.1:6379/0", RedisKeyStore, None),
        ("rediss://cache.internal:6380/1", RedisKeyStore, None),
        ("unix:///run/redis/redis.sock?db=1", RedisKeyStore, None),  # as the cache takes
        ("file:///var/lib/og/keys.json", FileKeyStore, "/var/lib/og/keys.json"),
        ("file:data/keys.json", FileKeyStore, "data/keys.json"),
        ("file:/tmp/my%20keys.json", FileKeyStore, "/tmp/my keys.json"),
    ],
)
async def test_open_key_store(url, kind, path):
    store = open_key_store(url)
    assert isinstance(store, kind)
    if path is not None:
        assert str(store.path) == path  # type: ignore[attr-defined]
    await store.close()


@pytest.mark.parametrize(
    "url", ["memory://", "http://keys", "file://host/keys.json", "file:", "keys.json", ""]
)
def test_open_key_store_refuses_other_urls(url):
    with pytest.raises(ValueError, match="key store URL"):
        open_key_store(url)


def test_an_unknown_key_store_scheme_is_told_every_scheme_it_may_use():
    with pytest.raises(ValueError, match="unknown scheme 'memcached'") as refused:
        open_key_store("memcached://keys.internal")
    for scheme in sorted(REDIS_SCHEMES):
        assert f"{scheme}://" in str(refused.value)
    assert "file:" in str(refused.value)


# --- authenticating ---------------------------------------------------------------


class MemoryStore:
    """A dict, counting ``get`` calls."""

    def __init__(self) -> None:
        self.records: dict[str, KeyRecord] = {}
        self.gets = 0
        self.down = False

    async def get(self, key_id: str) -> KeyRecord | None:
        self.gets += 1
        if self.down:
            raise KeyStoreError("store down")
        return self.records.get(key_id)

    async def put(self, record: KeyRecord) -> None:
        self.records[record.key_id] = record

    async def all(self) -> list[KeyRecord]:
        return list(self.records.values())

    async def close(self) -> None:
        pass


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def auth(store: MemoryStore, clock: FakeClock) -> Authenticator:
    return Authenticator(store, PEPPER, cache_ttl_s=5.0, clock=clock)


async def stored_key(store: MemoryStore, **overrides: Any) -> tuple[str, KeyRecord]:
    key, record = new_key(**overrides)
    await store.put(record)
    return key, record


async def refused(
    auth: Authenticator, headers: dict[str, str], query: dict[str, str] | None = None
) -> AuthError:
    with pytest.raises(AuthError) as caught:
        await auth.authenticate(headers, query or {})
    return caught.value


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def test_bearer_and_x_api_key(auth, store):
    key, record = await stored_key(store, tenant="acct_partner_north", client_class="partner")
    expected = Principal(
        record.key_id,
        "acct_partner_north",
        frozenset({"orders:read", "shipments:read"}),
        "partner",
        "standard",
    )
    assert await auth.authenticate(bearer(key), {}) == expected
    assert await auth.authenticate({"authorization": f"bEaReR   {key} "}, {}) == expected
    assert await auth.authenticate({"x-api-key": key}, {}) == expected
    assert await auth.authenticate({**bearer(key), "x-api-key": key}, {}) == expected
    # Starlette's case-insensitive headers, as the edge passes them.
    assert await auth.authenticate(Headers({"Authorization": f"Bearer {key}"}), {}) == expected
    assert await auth.authenticate(Headers({"X-Api-Key": key}), {}) == expected


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, API_KEY_MISSING),
        ({"x-request-id": "abc"}, API_KEY_MISSING),
        ({"authorization": "Basic dXNlcjpwYXNz"}, API_KEY_MALFORMED),
        ({"authorization": "Bearer"}, API_KEY_MALFORMED),
        ({"authorization": "Bearer   "}, API_KEY_MALFORMED),
        ({"x-api-key": ""}, API_KEY_MALFORMED),
        ({"authorization": "Bearer og_live_abc"}, API_KEY_MALFORMED),
        ({"x-api-key": "sk_live_0123456789"}, API_KEY_MALFORMED),
    ],
)
async def test_missing_and_malformed(auth, store, headers, code):
    error = await refused(auth, headers)
    assert (error.status, error.code) == (401, code)
    assert store.gets == 0


async def test_unknown_key_and_wrong_secret_look_the_same(auth, store):
    key, _ = await stored_key(store)
    unknown_key, _ = new_key()  # never stored
    wrong_secret = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    other_env = key.replace("og_test_", "og_live_")
    errors = [await refused(auth, bearer(k)) for k in (unknown_key, wrong_secret, other_env)]
    assert {(e.status, e.code, e.message) for e in errors} == {
        (401, API_KEY_INVALID, "the API key is not valid")
    }
    assert store.gets == 3  # failures are not cached
    await refused(auth, bearer(wrong_secret))
    assert store.gets == 4


async def test_another_pepper_does_not_verify(store, clock):
    key, _ = await stored_key(store)
    other = Authenticator(store, "a different pepper", clock=clock)
    assert (await refused(other, bearer(key))).code == API_KEY_INVALID


async def test_expired_and_revoked(auth, store):
    now = datetime.now(UTC)
    expired_key, record = new_key()
    await store.put(replaced(record, expires_at=now - timedelta(seconds=1)))
    revoked_key, record = new_key()
    await store.put(replaced(record, revoked_at=now))
    assert (await refused(auth, bearer(expired_key))).code == API_KEY_EXPIRED
    assert (await refused(auth, {"x-api-key": revoked_key})).code == API_KEY_REVOKED


@pytest.mark.parametrize(
    "query",
    [
        {"api_key": "KEY"},
        {"APIKEY": "KEY"},
        {"key": "KEY"},
        {"token": "og_live_truncated"},
        {"access_token": "KEY"},
        {"debug": "KEY"},
        {"query": "{ order { id } }", "variables": '{"auth": "KEY"}'},
    ],
)
async def test_a_key_in_the_url_is_refused_even_with_a_good_header(auth, store, query):
    key, _ = await stored_key(store)
    query = {name: value.replace("KEY", key) for name, value in query.items()}
    error = await refused(auth, bearer(key), query)
    assert (error.status, error.code) == (401, API_KEY_IN_URL)
    assert key not in error.message


@pytest.mark.parametrize("dev_mode", [False, True])
async def test_a_key_in_the_url_is_refused_in_any_mode_with_its_id(auth, store, dev_mode):
    """Even in dev mode, where a request without a key header runs anonymously; the
    audit trail gets the key's id, so it can be rotated."""
    key, record = await stored_key(store)
    with pytest.raises(AuthError) as caught:
        await principal_for(auth, {}, {"api_key": key}, dev_mode=dev_mode)
    assert (caught.value.status, caught.value.code) == (401, API_KEY_IN_URL)
    assert caught.value.key_id == record.key_id
    assert await principal_for(auth, {}, {}, dev_mode=True) is INTERNAL_DEV


async def test_refused_keys_carry_their_id_and_tenant_never_the_secret(auth, store):
    key, record = await stored_key(store, tenant="acct_x")
    wrong = key[:-4] + "zzzz"
    assert (await refused(auth, bearer(wrong))).key_id == record.key_id  # invalid
    await store.put(replaced(record, revoked_at=datetime.now(UTC)))
    error = await refused(auth, bearer(key))
    assert (error.code, error.key_id, error.tenant) == (API_KEY_REVOKED, record.key_id, "acct_x")
    assert parse_key(key).secret not in repr(vars(error))
    assert (await refused(auth, bearer("og_live_nope"))).key_id is None  # not a key: no id


async def test_demo_keys_are_one_of_each_class_and_work(tmp_path, capsys):
    settings = Settings(keys_url=f"file:{tmp_path}/keys.json", key_pepper=PEPPER)
    await _demo_keys(settings)
    printed = re.findall(r"og_demo_\w+", capsys.readouterr().out)
    store = open_key_store(settings.keys_url)
    try:
        authenticator = Authenticator(store, PEPPER)
        principals = [await authenticator.authenticate(bearer(key), {}) for key in printed]
    finally:
        await store.close()
    assert sorted(p.client_class for p in principals) == ["app", "console", "partner"]
    console = next(p for p in principals if p.client_class == "console")
    assert console.scopes == frozenset(SCOPES) and console.tenant == "*"
    partner = next(p for p in principals if p.client_class == "partner")
    assert partner.tenant != "*"  # a partner sees its own account


async def test_unrelated_query_parameters_are_fine(auth, store):
    key, _ = await stored_key(store)
    query = {"query": "{ orders { id } }", "token": "page-2", "key": "value", "og": "og_x"}
    assert (await auth.authenticate(bearer(key), query)).key_id == parse_key(key).key_id


async def test_both_headers_must_agree(auth, store):
    key, _ = await stored_key(store)
    other, _ = await stored_key(store)
    error = await refused(auth, {**bearer(key), "x-api-key": other})
    assert error.code == API_KEY_MALFORMED
    # A non-bearer Authorization (say a proxy's) leaves X-API-Key in charge.
    principal = await auth.authenticate({"authorization": "Basic abc", "x-api-key": key}, {})
    assert principal.key_id == parse_key(key).key_id


async def test_cache_hit_skips_the_store_until_the_ttl(auth, store, clock):
    key, _ = await stored_key(store)
    first = await auth.authenticate(bearer(key), {})
    for _ in range(5):
        assert await auth.authenticate(bearer(key), {}) is first
    assert store.gets == 1
    clock.now += 4.9
    await auth.authenticate({"x-api-key": key}, {})  # same key, other header: same entry
    assert store.gets == 1
    clock.now += 0.2
    await auth.authenticate(bearer(key), {})
    assert store.gets == 2


async def test_revocation_takes_effect_after_the_cache_ttl(auth, store, clock):
    key, record = await stored_key(store)
    await auth.authenticate(bearer(key), {})
    await store.put(replaced(record, revoked_at=datetime.now(UTC)))
    await auth.authenticate(bearer(key), {})  # still cached
    clock.now += 5.0
    assert (await refused(auth, bearer(key))).code == API_KEY_REVOKED
    assert (await refused(auth, bearer(key))).code == API_KEY_REVOKED  # not cached either


async def test_the_cache_never_outlives_the_key(auth, store, clock):
    key, record = await stored_key(store)
    await store.put(replaced(record, expires_at=datetime.now(UTC) + timedelta(seconds=0.2)))
    await auth.authenticate(bearer(key), {})
    await asyncio.sleep(0.25)
    clock.now += 0.25  # well within the 5 s TTL
    assert (await refused(auth, bearer(key))).code == API_KEY_EXPIRED


async def test_a_store_failure_is_503_and_not_cached(auth, store):
    key, _ = await stored_key(store)
    store.down = True
    error = await refused(auth, bearer(key))
    assert (error.status, error.code) == (503, AUTH_UNAVAILABLE)
    store.down = False
    assert (await auth.authenticate(bearer(key), {})).key_id == parse_key(key).key_id


async def test_logs_name_the_key_id_never_the_key(auth, store, caplog):
    caplog.set_level("DEBUG")
    key, record = await stored_key(store)
    parsed = parse_key(key)
    await auth.authenticate(bearer(key), {})
    await refused(auth, bearer(key[:-1] + ("x" if key[-1] != "x" else "y")))
    await refused(auth, bearer(key), {"api_key": key})
    await store.put(replaced(record, revoked_at=datetime.now(UTC)))
    await refused(Authenticator(store, PEPPER), bearer(key))
    assert record.key_id in caplog.text
    assert parsed.secret[:12] not in caplog.text
    assert record.secret_hash not in caplog.text


async def test_a_cache_hit_costs_microseconds(auth, store):
    key, _ = await stored_key(store)
    headers = Headers({"Authorization": f"Bearer {key}"})
    await auth.authenticate(headers, {})
    rounds = 2000

    async def cpu_of_rounds() -> float:
        started = time.thread_time()  # CPU time: other processes do not add to it
        for _ in range(rounds):
            await auth.authenticate(headers, {})
        return time.thread_time() - started

    # The fastest of a few tries: a loaded machine only ever adds time.
    per_call_us = await fastest_async(cpu_of_rounds, within=rounds * 50e-6) / rounds * 1e6
    assert per_call_us < 50, f"{per_call_us:.1f} µs per cached authentication"


def test_an_empty_pepper_is_refused(store):
    with pytest.raises(ValueError, match="pepper"):
        Authenticator(store, "")


# --- CLI --------------------------------------------------------------------------


def parse_cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ordergraph")
    add_keys_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["keys", *argv])


class Cli:
    """Runs ``ordergraph keys …`` against one key file, keeping what it printed."""

    def __init__(self, path: Path, pepper: str = PEPPER) -> None:
        self.store = FileKeyStore(path)
        self.pepper = pepper
        self.printed: list[str] = []

    async def __call__(self, *argv: str, code: int = 0) -> str:
        out, err = io.StringIO(), io.StringIO()
        result = await run_keys_command(parse_cli(*argv), self.store, self.pepper, out, err=err)
        assert result == code, out.getvalue() + err.getvalue()
        self.printed += [out.getvalue(), err.getvalue()]
        return out.getvalue() if code == 0 else err.getvalue()

    async def create(self, *argv: str) -> str:
        """A new key's text, from the output."""
        output = await self(*argv)
        keys = re.findall(r"og_\w+", output)
        assert len(keys) == 1, output
        assert "cannot be shown again" in output
        return keys[0]


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "keys.json")


async def test_cli_create_list_revoke(cli: Cli):
    key = await cli.create(
        *("create", "--tenant", "acct_webshop", "--scopes", "orders:read, pii:read"),
        *("--class", "app", "--expires-in-days", "30", "--label", "webshop backend"),
    )
    auth = Authenticator(cli.store, PEPPER, cache_ttl_s=0)
    principal = await auth.authenticate(bearer(key), {})
    key_id = parse_key(key).key_id
    assert principal == Principal(
        key_id, "acct_webshop", frozenset({"orders:read", "pii:read"}), "app", "standard"
    )
    assert key.startswith("og_live_")

    table = await cli("list")
    assert re.search(rf"{key_id}\s+acct_webshop\s+orders:read,pii:read\s+app\s+standard", table)
    assert "active" in table and "webshop backend" in table
    (row,) = json.loads(await cli("list", "--json"))
    assert row["id"] == key_id and row["status"] == "active" and row["label"] == "webshop backend"
    lifetime = datetime.fromisoformat(row["expires"]) - datetime.fromisoformat(row["created"])
    assert abs(lifetime - timedelta(days=30)) < timedelta(seconds=5)

    assert "Revoked" in await cli("revoke", key_id)
    assert "already revoked" in await cli("revoke", key_id)
    assert (await refused(auth, bearer(key))).code == API_KEY_REVOKED
    assert json.loads(await cli("list", "--json"))[0]["status"] == "revoked"

    record = await cli.store.get(key_id)
    assert record is not None
    printed = "".join(cli.printed)
    assert record.secret_hash not in printed
    assert printed.count(parse_key(key).secret) == 1  # once, when created


async def test_cli_tier_defaults_by_class(cli: Cli):
    for client_class, tier in [
        ("app", "standard"),
        ("console", "internal"),
        ("partner", "standard"),
    ]:
        await cli.create(
            "create", "--tenant", "*", "--scopes", "orders:read", "--class", client_class
        )
        assert json.loads(await cli("list", "--json"))[-1]["tier"] == tier
    await cli.create(
        *("create", "--tenant", "*", "--scopes", "orders:read", "--class", "app"),
        *("--tier", "premium", "--env", "test"),
    )
    assert json.loads(await cli("list", "--json"))[-1]["tier"] == "premium"


async def test_cli_rotate_keeps_both_keys_during_the_grace_period(cli: Cli):
    old_key = await cli.create(
        "create", "--tenant", "acct_marketplace", "--scopes", "orders:read", "--class", "partner"
    )
    old_id = parse_key(old_key).key_id
    output = await cli("rotate", old_id, "--grace-hours", "2")
    (new_key_text,) = re.findall(r"og_\w+", output)
    new_id = parse_key(new_key_text).key_id
    assert "cannot be shown again" in output and f"{old_id} keeps working until" in output

    auth = Authenticator(cli.store, PEPPER, cache_ttl_s=0)
    old_principal = await auth.authenticate(bearer(old_key), {})
    new_principal = await auth.authenticate(bearer(new_key_text), {})
    assert old_principal == dataclasses.replace(new_principal, key_id=old_id)

    old = await cli.store.get(old_id)
    assert old is not None and old.rotated_to == new_id and old.expires_at is not None
    assert abs(old.expires_at - datetime.now(UTC) - timedelta(hours=2)) < timedelta(minutes=1)
    assert "already rotated" in await cli("rotate", old_id, code=2)

    # A zero grace period retires the old key at once.
    output = await cli("rotate", new_id, "--grace-hours", "0")
    newest_key = re.findall(r"og_\w+", output)[0]
    assert (await refused(auth, bearer(new_key_text))).code == API_KEY_EXPIRED
    assert (await auth.authenticate(bearer(newest_key), {})).tenant == "acct_marketplace"


async def test_cli_rotate_keeps_the_lifetime(cli: Cli):
    key = await cli.create(
        *("create", "--tenant", "*", "--scopes", "introspection", "--class", "console"),
        *("--expires-in-days", "10"),
    )
    output = await cli("rotate", key)  # the whole key works as KEY_ID too, unechoed
    assert output.count(key) == 0
    rows = json.loads(await cli("list", "--json"))
    new = next(row for row in rows if row["id"] != parse_key(key).key_id)
    lifetime = datetime.fromisoformat(new["expires"]) - datetime.fromisoformat(new["created"])
    assert abs(lifetime - timedelta(days=10)) < timedelta(seconds=5)


CREATE = ["create", "--tenant", "a", "--scopes", "orders:read", "--class", "app"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["create", "--tenant", "a", "--scopes", "orders:nuke", "--class", "app"], "orders:nuke"),
        (["create", "--tenant", "a", "--scopes", " , ", "--class", "app"], "at least one"),
        (["create", "--tenant", "a b", "--scopes", "orders:read", "--class", "app"], "tenant"),
        ([*CREATE, "--env", "X"], "env"),
        ([*CREATE, "--expires-in-days", "0"], "positive"),
        (["revoke", "abcdefghij23"], "no API key with id abcdefghij23"),
        (["revoke", "og_live_partial_secret"], "12-character key id"),
        (["rotate", "abcdefghij23"], "no API key"),
        (["rotate", "abcdefghij23", "--grace-hours", "-1"], "negative"),
    ],
)
async def test_cli_bad_input_exits_2(cli: Cli, argv, message):
    error = await cli(*argv, code=2)
    assert message in error
    assert "partial_secret" not in error


async def test_cli_refuses_rotating_a_revoked_key_and_an_empty_pepper(cli: Cli, tmp_path: Path):
    key = await cli.create(*CREATE)
    await cli("revoke", parse_key(key).key_id)
    assert "revoked" in await cli("rotate", parse_key(key).key_id, code=2)
    no_pepper = Cli(tmp_path / "keys.json", pepper="")
    assert "pepper" in await no_pepper(*CREATE, code=2)


async def test_cli_store_failure_exits_1(tmp_path: Path):
    (tmp_path / "keys.json").write_text("[]")
    cli = Cli(tmp_path / "keys.json")
    assert "keys.json" in await cli("list", code=1)


async def test_cli_list_without_keys(cli: Cli):
    assert "No API keys" in await cli("list")
    assert json.loads(await cli("list", "--json")) == []
