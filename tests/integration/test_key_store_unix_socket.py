"""A key store on a Redis reached over a unix socket (``unix://``), as the cache may be:
the settings take the URL, keys are kept and read through it, and ``serve`` waits for
it at start-up like any Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from gateway.auth.authenticate import Authenticator
from gateway.auth.keys import generate_key
from gateway.auth.store import INDEX_KEY, RECORD_PREFIX, RedisKeyStore, open_key_store
from gateway.settings import Settings, SettingsError, load_settings
from gateway.startup import check_startup
from tests.support.redis_server import PATIENT_TIMEOUT_S, RedisServer

PEPPER = "pepper-for-tests-0123456789abcdef"


@pytest.fixture
async def redis_socket() -> AsyncIterator[Path]:
    """The socket of a private redis-server listening on no TCP port, only on it."""
    server = RedisServer(unix_socket=True)
    await server.start()
    try:
        assert server.socket_path is not None
        yield server.socket_path
    finally:
        await server.stop()


async def test_a_unix_socket_key_store_keeps_and_reads_keys(redis_socket: Path):
    url = f"unix://{redis_socket}?db=2"
    settings = load_settings({"OG_KEYS_URL": url, "OG_KEY_PEPPER": PEPPER})
    store = open_key_store(settings.keys_url, timeout_s=PATIENT_TIMEOUT_S)
    assert isinstance(store, RedisKeyStore)
    key, record = generate_key(
        pepper=PEPPER,
        env="test",
        tenant="acct_webshop",
        scopes=["orders:read"],
        client_class="app",
        tier="standard",
    )
    try:
        await store.put(record)
        assert await store.get(record.key_id) == record
        assert await store.all() == [record]
        principal = await Authenticator(store, PEPPER).authenticate(
            {"authorization": f"Bearer {key}"}, {}
        )
        assert (principal.key_id, principal.tenant) == (record.key_id, "acct_webshop")
    finally:
        await store.close()
    # Kept in that Redis, in the database the URL names.
    async with Redis(unix_socket_path=str(redis_socket), db=2) as admin:
        assert await admin.smembers(INDEX_KEY) == {record.key_id.encode()}
        assert await admin.exists(RECORD_PREFIX + record.key_id) == 1


async def test_serve_waits_for_a_unix_socket_key_store(redis_socket: Path):
    settings = Settings(keys_url=f"unix://{redis_socket}", key_pepper=PEPPER)
    await check_startup(settings)  # it answers
    gone = Settings(
        keys_url=f"unix://{redis_socket.with_name('gone.sock')}",
        key_pepper=PEPPER,
        startup_timeout_ms=200,
    )
    with pytest.raises(SettingsError, match=r"^OG_KEYS_URL: Redis at unix://.* did not answer"):
        await check_startup(gone)
