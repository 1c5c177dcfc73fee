"""One Redis connection policy for every client (sources.cache.redis_connection
.redis_client): each caller's own timeouts, one immediate retry of a connection error,
never of a timeout. The clients are built, never connected."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import UnixDomainSocketConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.auth.store import RedisKeyStore
from sources.cache.redis_connection import RedisConnection, redis_client

URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def clients() -> AsyncIterator[dict[str, tuple[Redis, float]]]:
    """Every kind of client the gateway makes, with the timeout its caller asked for."""
    key_store = RedisKeyStore(URL, timeout_s=0.4)
    cache = RedisConnection(
        URL, timeout_s=0.1, max_connections=8, cooldown_s=1.0, log_interval_s=60.0
    )
    made = {
        "key store": (key_store._client, 0.4),
        "cache": (cache.client, 0.1),
        "start-up check": (redis_client(URL, timeout_s=1.0, retry=False), 1.0),
    }
    yield made
    for client, _ in made.values():
        await client.aclose()


async def _attempts(client: Redis, error: Exception) -> int:
    """How many times the retry policy of the client's connections (as its pool makes
    them, unopened) runs a call that always fails so."""
    attempts = 0

    async def call() -> None:
        nonlocal attempts
        attempts += 1
        raise error

    async def on_failure(_: Exception) -> None:
        pass

    with pytest.raises(type(error)):
        await client.connection_pool.make_connection().retry.call_with_retry(call, on_failure)
    return attempts


async def test_every_client_keeps_its_callers_timeouts(clients):
    for name, (client, timeout_s) in clients.items():
        options = client.connection_pool.connection_kwargs
        assert (options["socket_timeout"], options["socket_connect_timeout"]) == (
            timeout_s,
            timeout_s,
        ), name


async def test_a_connection_error_is_retried_once_and_a_timeout_never(clients):
    for name in ("key store", "cache"):
        client, _ = clients[name]
        assert await _attempts(client, RedisConnectionError("closed by server")) == 2, name
        assert await _attempts(client, RedisTimeoutError("timed out")) == 1, name
    # Start-up's check retries with its own backoff: the client does not.
    client, _ = clients["start-up check"]
    assert await _attempts(client, RedisConnectionError("refused")) == 1


async def test_only_the_cache_pool_is_bounded(clients):
    cache, _ = clients["cache"]
    assert cache.connection_pool.max_connections == 8
    assert cache.connection_pool.timeout == 0.1  # a burst waits this long for a connection
    for name in ("key store", "start-up check"):  # redis-py's own pool: no waiting
        client, _ = clients[name]
        assert not isinstance(client.connection_pool, BlockingConnectionPool), name
    key_store, _ = clients["key store"]
    assert key_store.connection_pool.connection_kwargs["decode_responses"] is True


async def test_a_unix_socket_url_gets_the_same_policy():
    store = RedisKeyStore("unix:///run/redis/redis.sock?db=1", timeout_s=0.4)
    client = store._client
    assert client.connection_pool.connection_class is UnixDomainSocketConnection
    options = client.connection_pool.connection_kwargs
    assert (options["path"], options["db"], options["socket_timeout"]) == (
        "/run/redis/redis.sock",
        1,
        0.4,
    )
    assert await _attempts(client, RedisConnectionError("closed by server")) == 2
    await store.close()
