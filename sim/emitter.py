"""Background delivery of signed change events from a simulated source to a receiver."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp
import msgspec

from sources.events import EVENTS_BY_SOURCE, ChangeEvent
from sources.webhooks import check_secret, new_msg_id, sign

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=3.0, sock_connect=1.0)


# One delivery of an event: (event, delivery id, secret) -> (body, headers). Called
# per attempt, so a signature may carry the attempt's time.
Render = Callable[[ChangeEvent, str, str], tuple[bytes, dict[str, str]]]


def standard_webhook(event: ChangeEvent, msg_id: str, secret: str) -> tuple[bytes, dict[str, str]]:
    """The native sources' delivery: the event itself, as a signed Standard Webhook."""
    body = msgspec.json.encode(event)
    return body, sign(secret, body, msg_id=msg_id)


class Emitter(Protocol):
    """What an app's admin routes deliver their change events through."""

    def emit(self, event: ChangeEvent) -> None: ...

    async def close(self, drain_s: float = 2.0) -> None: ...


@dataclass(frozen=True)
class WebhookTarget:
    """Where one source delivers its events (``<webhook_url>/<source>``), its secret, and
    the shape of a delivery (a vendor's own, for a simulated vendor API)."""

    url: str
    secret: str = field(repr=False)
    render: Render = standard_webhook
    standard: bool = True  # the secret is a Standard Webhooks one (whsec_…)


class WebhookEmitter:
    """POSTs change events to one target, each in its own background task.

    ``emit`` returns at once. A delivery is retried with backoff on connection errors,
    timeouts and 5xx answers, re-signed per attempt under the same ``webhook-id``;
    failures are logged, never raised. One client session serves every delivery.
    """

    def __init__(
        self,
        target: WebhookTarget,
        *,
        retries: int = 2,
        backoff_s: float = 0.2,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    ) -> None:
        if target.standard:
            check_secret(target.secret)
        self.target = target
        self._retries = retries
        self._backoff_s = backoff_s
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._closed = False

    def emit(self, event: ChangeEvent) -> None:
        """Schedule delivery of ``event`` on the running loop."""
        if self._closed:
            log.warning("webhook emitter for %s is closed: dropped %s", self.target.url, event)
            return
        task = asyncio.get_running_loop().create_task(self._deliver(event))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def close(self, drain_s: float = 2.0) -> None:
        """Give pending deliveries up to ``drain_s`` seconds, cancel the rest, close."""
        self._closed = True
        if self._pending:
            _, late = await asyncio.wait(set(self._pending), timeout=drain_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _deliver(self, event: ChangeEvent) -> None:
        msg_id = new_msg_id()
        try:
            for attempt in range(self._retries + 1):
                if attempt:
                    await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
                outcome = await self._post(event, msg_id)
                if outcome is None:
                    return
                log.warning(
                    "webhook %s %s to %s failed (attempt %d): %s",
                    msg_id,
                    event.type.value,
                    self.target.url,
                    attempt + 1,
                    outcome,
                )
        except Exception:  # a delivery must never take the server down
            log.exception("webhook %s to %s crashed", msg_id, self.target.url)
            return
        log.error("webhook %s to %s given up", msg_id, self.target.url)

    async def _post(self, event: ChangeEvent, msg_id: str) -> str | None:
        """One attempt: ``None`` when done (delivered or refused for good), else why."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        body, headers = self.target.render(event, msg_id, self.target.secret)
        headers["content-type"] = "application/json"
        try:
            async with self._session.post(self.target.url, data=body, headers=headers) as resp:
                if resp.status < 500:
                    if resp.status >= 300:
                        log.warning("webhook %s refused: HTTP %d", msg_id, resp.status)
                    return None
                return f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"{type(exc).__name__}: {exc}"


class EventRouter:
    """The emitters of several sources behind one app (a vendor API serving orders and
    inventory): each event goes out through the emitter of the source that sends it."""

    def __init__(self, emitters: dict[str, WebhookEmitter]) -> None:
        self._by_type = {
            kind: emitter
            for source, emitter in emitters.items()
            for kind in EVENTS_BY_SOURCE[source]
        }
        self._emitters = list(dict.fromkeys(emitters.values()))

    def emit(self, event: ChangeEvent) -> None:
        emitter = self._by_type.get(event.type)
        if emitter is not None:
            emitter.emit(event)

    async def close(self, drain_s: float = 2.0) -> None:
        for emitter in self._emitters:
            await emitter.close(drain_s)
