"""The graphql-transport-ws protocol's rules, driven with a raw WebSocket client:
each violation closes the socket with the protocol's code."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gateway.auth.authenticate import Authenticator
from gateway.auth.keys import generate_key, parse_key
from gateway.auth.principal import Principal
from gateway.auth.store import open_key_store
from tests.support.gateways import running_gateway
from tests.support.live_clients import order_watch, sse_stream, within, ws_send, ws_url
from tests.support.secured import PEPPER, Secured, audit_entries, secured_gateway
from tests.support.timing import HANG_S

PROTOCOL = "graphql-transport-ws"
TYPENAME = {"query": "{ __typename }"}


@pytest_asyncio.fixture(scope="module")
async def secured(sim, tmp_path_factory) -> AsyncIterator[Secured]:
    directory = tmp_path_factory.mktemp("ws-keys")
    async with secured_gateway(
        sim.urls,
        directory,
        serve=running_gateway,
        ws_init_timeout_ms=300,
        live_max_subscriptions=2,
        live_key_recheck_ms=200,
        key_trust_ms=300,
    ) as running:
        yield running


async def _closed_with(ws: ClientConnection) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(3):
            while True:
                await ws.recv()
    assert ws.close_code is not None
    return ws.close_code, ws.close_reason or ""


async def _received(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(3):
        return json.loads(await ws.recv())  # type: ignore[no-any-return]


def _open(secured: Secured) -> Any:
    return connect(ws_url(secured.gateway.url), subprotocols=[PROTOCOL])


async def _acknowledged(ws: ClientConnection, key: str) -> None:
    await ws_send(ws, {"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
    assert await _received(ws) == {"type": "connection_ack"}


async def test_subscribe_before_the_ack_is_4401(secured):
    async with _open(secured) as ws:
        await ws_send(ws, {"type": "subscribe", "id": "1", "payload": TYPENAME})
        assert await _closed_with(ws) == (4401, "Unauthorized")


@pytest.mark.parametrize("key", ["revoked", "expired", "bogus", None])
async def test_a_refused_key_at_connection_init_is_4403(secured, key):
    payload = {} if key is None else {"authorization": f"Bearer {secured.keys.get(key, key)}"}
    async with _open(secured) as ws:
        await ws_send(ws, {"type": "connection_init", "payload": payload})
        code, reason = await _closed_with(ws)
    assert code == 4403 and reason.startswith("Forbidden")


async def test_a_key_in_the_url_is_refused_even_with_a_good_one_in_init(secured):
    url = f"{ws_url(secured.gateway.url)}?api_key={secured.keys['app']}"
    async with connect(url, subprotocols=[PROTOCOL]) as ws:
        await ws_send(
            ws, {"type": "connection_init", "payload": {"x-api-key": secured.keys["app"]}}
        )
        assert await _closed_with(ws) == (4403, "Forbidden: API_KEY_IN_URL")


async def test_no_connection_init_in_time_is_4408(secured):
    async with _open(secured) as ws:
        assert await _closed_with(ws) == (4408, "Connection initialisation timeout")


async def test_a_second_connection_init_is_4429(secured):
    async with _open(secured) as ws:
        await _acknowledged(ws, secured.keys["app"])
        await ws_send(ws, {"type": "connection_init"})
        assert await _closed_with(ws) == (4429, "Too many initialisation requests")


async def test_an_id_in_use_is_4409(secured, dataset):
    async with _open(secured) as ws:
        await _acknowledged(ws, secured.keys["console"])
        # A query completes at once and frees its id; a live subscription keeps it.
        for _ in range(2):
            await ws_send(ws, {"type": "subscribe", "id": "s", "payload": TYPENAME})
            assert (await _received(ws))["type"] == "next"
            assert await _received(ws) == {"type": "complete", "id": "s"}
        await ws_send(ws, {"type": "subscribe", "id": "s", "payload": order_watch(dataset)})
        assert (await _received(ws))["type"] == "next"
        await ws_send(ws, {"type": "subscribe", "id": "s", "payload": TYPENAME})
        assert await _closed_with(ws) == (4409, "Subscriber for s already exists")


async def test_past_its_subscription_cap_a_connection_gets_an_error(secured, dataset, caplog):
    key = secured.keys["console"]
    async with _open(secured) as ws:
        await _acknowledged(ws, key)
        for op_id in ("1", "2"):  # the cap is 2 here
            await ws_send(ws, {"type": "subscribe", "id": op_id, "payload": order_watch(dataset)})
            assert (await _received(ws))["id"] == op_id
        with caplog.at_level(logging.INFO, logger="ordergraph.audit"):
            await ws_send(ws, {"type": "subscribe", "id": "3", "payload": order_watch(dataset)})
            refused = await _received(ws)
        assert (refused["type"], refused["id"]) == ("error", "3")
        assert refused["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
        (line,) = audit_entries(caplog.records)
        assert (line["code"], line["keyId"]) == ("TOO_MANY_SUBSCRIPTIONS", parse_key(key).key_id)
        # Frees a slot as the gateway reads it, before the next message (read in order).
        await ws_send(ws, {"type": "complete", "id": "1"})
        await ws_send(ws, {"type": "subscribe", "id": "4", "payload": order_watch(dataset)})
        assert (await _received(ws))["type"] == "next"


@pytest.mark.parametrize(
    "frame", ["not json", json.dumps({"type": "nope"}), json.dumps([1, 2])], ids=str
)
async def test_a_malformed_message_is_4400(secured, frame):
    async with _open(secured) as ws:
        await ws.send(frame)
        code, _ = await _closed_with(ws)
    assert code == 4400


async def test_a_binary_frame_is_4400(secured):
    async with _open(secured) as ws:
        await ws.send(b"\x00\x01")
        assert (await _closed_with(ws))[0] == 4400


async def test_another_subprotocol_is_4406(secured):
    async with connect(ws_url(secured.gateway.url), subprotocols=["graphql-ws"]) as ws:
        assert (await _closed_with(ws))[0] == 4406


async def test_ping_is_answered_with_pong(secured):
    async with _open(secured) as ws:
        await _acknowledged(ws, secured.keys["app"])
        await ws_send(ws, {"type": "ping"})
        assert await _received(ws) == {"type": "pong"}


async def test_a_limit_breaking_document_is_an_error_message_not_a_close(secured):
    deep = "{ " + "orders(first: 1) { nodes { " * 6 + "id" + " } }" * 6 + " }"
    async with _open(secured) as ws:
        await _acknowledged(ws, secured.keys["console"])
        await ws_send(ws, {"type": "subscribe", "id": "d", "payload": {"query": deep}})
        message = await _received(ws)
        assert message["type"] == "error" and message["id"] == "d"
        assert message["payload"][0]["extensions"]["code"] == "MAX_DEPTH_EXCEEDED"
        await ws_send(ws, {"type": "ping"})  # the connection lives on
        assert await _received(ws) == {"type": "pong"}


@contextlib.asynccontextmanager
async def _key_to_revoke(secured: Secured) -> AsyncIterator[tuple[str, Callable[[], Any]]]:
    """A new console key, and what revokes it."""
    assert secured.state is not None
    store = open_key_store(secured.state.settings.keys_url)
    key, record = generate_key(
        pepper=PEPPER, env="test", tenant="*", scopes=["orders:read"],
        client_class="console", tier="standard",
    )  # fmt: skip
    await store.put(record)

    async def revoke() -> None:
        await store.put(msgspec.structs.replace(record, revoked_at=datetime.now(UTC)))

    try:
        yield key, revoke
    finally:
        await store.close()


# A verified key is trusted in-process for OG_KEY_TRUST_MS (0.3 s here, 5 s by default);
# the next recheck after that (every 0.2 s) refuses it.
async def test_a_key_revoked_while_connected_closes_the_socket_with_4403(secured, dataset):
    async with _key_to_revoke(secured) as (key, revoke), _open(secured) as ws:
        await _acknowledged(ws, key)
        await ws_send(ws, {"type": "subscribe", "id": "s", "payload": order_watch(dataset)})
        assert (await _received(ws))["type"] == "next"
        await revoke()
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(3):  # well under the default trust of 5 s
                while True:
                    await ws.recv()
    assert (ws.close_code, ws.close_reason) == (4403, "Forbidden: API_KEY_REVOKED")


async def test_a_key_revoked_while_streaming_ends_the_event_stream(secured, dataset):
    async with (
        _key_to_revoke(secured) as (key, revoke),
        sse_stream(secured.gateway.url, order_watch(dataset), key) as events,
    ):
        assert (await within(events, 5))[0] == "next"
        await revoke()
        async with asyncio.timeout(3):  # well under the default trust of 5 s
            rest = [event async for event in events]
    assert rest[-1] == ("complete", None)
    assert rest[0][1]["errors"][0]["extensions"]["code"] == "API_KEY_REVOKED"


# --- a key store that cannot answer: one recheck forgiven, two in a row end the stream ---

# Each key check in turn, from the moment the stream is watched: the store cannot
# answer the first (nothing ends), answers the second (the count starts again), cannot
# answer the third (still nothing ends: one in a row) nor the fourth (two in a row: the
# stream ends, so no fifth check is made).
ONE_FORGIVEN_THEN_TWO_IN_A_ROW = [True, False, True, True]


@contextlib.contextmanager
def _key_store_down(
    secured: Secured, directory: Path, unanswered: Iterable[bool]
) -> Iterator[list[bool]]:
    """The running gateway's key checks, each in turn against a store that cannot be
    read (a directory for its file, with no verification remembered from before) where
    ``unanswered`` says so, else against its own store, as they all are once
    ``unanswered`` runs out. Yields the checks made so far (True: unanswered)."""
    assert secured.state is not None and secured.state.authenticator is not None
    running = secured.state.authenticator
    answering = running.authenticate
    outage = Authenticator(open_key_store(f"file:{directory}"), PEPPER)
    script = iter(unanswered)
    made: list[bool] = []

    async def authenticate(headers: Mapping[str, str], query: Mapping[str, str]) -> Principal:
        down = next(script, False)
        made.append(down)
        return await (outage.authenticate if down else answering)(headers, query)

    running.authenticate = authenticate  # type: ignore[method-assign]
    try:
        yield made
    finally:
        del running.authenticate


def _ended_unchecked(records: list[logging.LogRecord], key: str) -> list[logging.LogRecord]:
    """The warnings that a stream on ``key`` was ended because its key went unchecked."""
    key_id = parse_key(key).key_id
    return [
        record
        for record in records
        if record.levelno == logging.WARNING
        and "could not be checked" in record.getMessage()
        and key_id in record.getMessage()
    ]


async def test_a_key_store_that_cannot_answer_two_rechecks_in_a_row_ends_the_event_stream(
    secured, dataset, tmp_path, caplog
):
    """Retryably (a last ``next`` with AUTH_UNAVAILABLE, then ``complete``), as a
    warning, and no denial: no request was refused."""
    key = secured.keys["console"]
    async with sse_stream(secured.gateway.url, order_watch(dataset), key) as events:
        assert (await within(events, 5))[0] == "next"
        with (
            caplog.at_level(logging.INFO),
            _key_store_down(secured, tmp_path, ONE_FORGIVEN_THEN_TWO_IN_A_ROW) as made,
        ):
            async with asyncio.timeout(HANG_S):  # rechecked every 0.2 s
                rest = [event async for event in events]
    assert made == ONE_FORGIVEN_THEN_TWO_IN_A_ROW  # ended at the fourth check, not before
    assert rest[-1] == ("complete", None)
    event, body = rest[-2]
    assert event == "next"
    assert body["errors"][0]["extensions"] == {"code": "AUTH_UNAVAILABLE", "retryable": True}
    assert len(_ended_unchecked(caplog.records, key)) == 1
    assert audit_entries(caplog.records) == []


async def test_a_key_store_that_cannot_answer_two_rechecks_in_a_row_closes_the_socket_1013(
    secured, dataset, tmp_path, caplog
):
    """1013 Try Again Later naming AUTH_UNAVAILABLE, as a warning, and no denial."""
    key = secured.keys["console"]
    async with _open(secured) as ws:
        await _acknowledged(ws, key)
        await ws_send(ws, {"type": "subscribe", "id": "s", "payload": order_watch(dataset)})
        assert (await _received(ws))["type"] == "next"
        with (
            caplog.at_level(logging.INFO),
            _key_store_down(secured, tmp_path, ONE_FORGIVEN_THEN_TWO_IN_A_ROW) as made,
        ):
            closed = await _closed_with(ws)  # rechecked every 0.2 s
    assert made == ONE_FORGIVEN_THEN_TWO_IN_A_ROW  # closed at the fourth check, not before
    assert closed == (1013, "Try again later: AUTH_UNAVAILABLE")
    assert len(_ended_unchecked(caplog.records, key)) == 1
    assert audit_entries(caplog.records) == []


async def test_a_key_store_outage_closes_a_new_connection_1013_try_again_later(
    secured, tmp_path, caplog
):
    """Not 4403 Forbidden: nothing is wrong with the key, and the same connection_init
    may succeed once the store answers. A denial in the audit trail, as over HTTP."""
    key = secured.keys["console"]
    with (
        caplog.at_level(logging.INFO, logger="ordergraph.audit"),
        _key_store_down(secured, tmp_path, itertools.repeat(True)),
    ):
        async with _open(secured) as ws:
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}
            await ws_send(ws, init)
            assert await _closed_with(ws) == (1013, "Try again later: AUTH_UNAVAILABLE")
    (line,) = audit_entries(caplog.records)
    assert line["code"] == "AUTH_UNAVAILABLE"
    async with _open(secured) as ws:  # the store answers again
        await _acknowledged(ws, key)


async def test_a_key_store_outage_refuses_new_websocket_operations_only(
    secured, dataset, tmp_path, caplog
):
    """A new operation gets an error (a denial in the audit trail, as over HTTP); the
    connection and its subscription live on."""
    key = secured.keys["console"]
    async with _open(secured) as ws:
        await _acknowledged(ws, key)
        await ws_send(ws, {"type": "subscribe", "id": "s", "payload": order_watch(dataset)})
        assert (await _received(ws))["type"] == "next"
        with caplog.at_level(logging.INFO, logger="ordergraph.audit"):
            with _key_store_down(secured, tmp_path, itertools.repeat(True)):
                await ws_send(ws, {"type": "subscribe", "id": "q", "payload": TYPENAME})
                refused = await _received(ws)
            assert (refused["type"], refused["id"]) == ("error", "q")
            assert refused["payload"][0]["extensions"]["code"] == "AUTH_UNAVAILABLE"
            await ws_send(ws, {"type": "subscribe", "id": "q", "payload": TYPENAME})
            assert (await _received(ws))["type"] == "next"  # the store answers again
            await ws_send(ws, {"type": "subscribe", "id": "s", "payload": TYPENAME})
            assert await _closed_with(ws) == (4409, "Subscriber for s already exists")
    (line,) = audit_entries(caplog.records)
    assert (line["code"], line["keyId"]) == ("AUTH_UNAVAILABLE", parse_key(key).key_id)
