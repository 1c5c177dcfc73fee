"""The carrier source served by AfterShip: trackings by number, at most 50 a call.

Settings (docs/adapters.md): ``OG_CARRIER_ADAPTER=aftership``, ``OG_CARRIER_URL``
(``https://api.aftership.com``), the API key as ``OG_CARRIER_CREDENTIAL`` or
``OG_CARRIER_CREDENTIAL_FILE`` (sent as ``as-api-key``), and the webhook secret as
``OG_CARRIER_WEBHOOK_SECRET`` (or ``_FILE``). A 429 is waited out as its
``X-RateLimit-Reset`` says, within the request's deadline (:mod:`sources.clients.http`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

import msgspec

from sources.adapters.aftership import wire
from sources.adapters.aftership.vocabulary import tracking_from_aftership
from sources.clients.http import SourceClient
from sources.events import ChangeEvent, EventType, tracking_key
from sources.options import SourceConfig
from sources.records import Tracking
from sources.webhooks import (
    BODY_INVALID,
    NOT_CONFIGURED,
    SIGNATURE_INVALID,
    VerifiedEvent,
    WebhookError,
    signed_with_any,
)

log = logging.getLogger("ordergraph.sources")

TRACKING_UPDATE = "tracking_update"


class _Numbered(msgspec.Struct):
    """What is left of a tracking that cannot be read: its number, if even that."""

    tracking_number: str


class AfterShipTracking(SourceClient):
    name = "carrier"
    health_path = wire.COURIERS_PATH.lstrip("/")  # AfterShip has no health endpoint

    def __init__(self, config: SourceConfig) -> None:
        if not config.credential:
            raise ValueError("the aftership adapter needs an API key: OG_CARRIER_CREDENTIAL")
        super().__init__(config)
        self.batch_size = min(config.batch_size, wire.MAX_NUMBERS)
        self.auth_headers = {wire.API_KEY_HEADER: config.credential}
        self._decode = msgspec.json.Decoder(wire.Tracking).decode
        self._number_of = msgspec.json.Decoder(_Numbered).decode

    async def trackings(self, numbers: list[str]) -> dict[str, Tracking | None]:
        """By the numbers as asked (AfterShip matches them in any case). A number
        AfterShip does not list has no tracking there; one whose tracking cannot be read
        is left out (an error for that number alone).

        One page holds every tracking of 50 numbers unless a number has more than four
        couriers (200 a page); if AfterShip counts more than it listed, the numbers it
        did not list are left out rather than called unknown.
        """
        params = {"tracking_numbers": ",".join(numbers), "limit": str(wire.MAX_LIMIT)}
        answer = await self.request_json(
            "GET", wire.TRACKINGS_PATH, wire.TrackingsAnswer, params=params, batch_size=len(numbers)
        )
        found: dict[str, Tracking] = {}
        unreadable: set[str] = set()
        for raw in answer.data.trackings:
            self._read(raw, found, unreadable)
        complete = answer.data.count <= len(answer.data.trackings) and "" not in unreadable
        answers: dict[str, Tracking | None] = {}
        for number in numbers:
            key = tracking_key(number)
            if key in found:
                answers[number] = found[key]
            elif complete and key not in unreadable:
                answers[number] = None
        return answers

    def _read(self, raw: msgspec.Raw, found: dict[str, Tracking], unreadable: set[str]) -> None:
        """Add one listed tracking to ``found`` (the first one of a number: AfterShip
        lists one per courier), or its number to ``unreadable`` ("" when even the
        number cannot be read: then no unlisted number can be said to be unknown)."""
        try:
            tracking = tracking_from_aftership(self._decode(raw))
        except (msgspec.DecodeError, ValueError) as exc:
            log.warning("aftership sent an unreadable tracking: %s", exc)
            try:
                unreadable.add(tracking_key(self._number_of(raw).tracking_number))
            except msgspec.DecodeError:
                unreadable.add("")
            return
        found.setdefault(tracking_key(tracking.tracking_number), tracking)

    async def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        """An AfterShip webhook: signed with ``aftership-hmac-sha256`` (base64 of the
        HMAC-SHA256 of the body under the webhook secret), ``tracking_update`` events.

        There is no signed timestamp to bound replays by: the receiver's once-only
        claim on ``event_id`` stops a replay within its window, and a later one only
        drops cache entries again, which is harmless.
        """
        secrets = self._config.webhook_secrets
        if not secrets:
            raise WebhookError(503, NOT_CONFIGURED, "no AfterShip webhook secret is configured")
        sent = next((v for k, v in headers.items() if k.lower() == wire.SIGNATURE_HEADER), None)
        if not sent:
            raise WebhookError(401, SIGNATURE_INVALID, f"missing header {wire.SIGNATURE_HEADER}")
        if not signed_with_any(sent, body, secrets):
            raise WebhookError(401, SIGNATURE_INVALID, "no matching signature")
        try:
            delivery = msgspec.json.decode(body, type=wire.WebhookBody)
        except msgspec.DecodeError as exc:
            raise WebhookError(400, BODY_INVALID, f"not an AfterShip webhook: {exc}") from None
        if delivery.event != TRACKING_UPDATE:
            raise WebhookError(400, BODY_INVALID, f"unexpected event {delivery.event!r}")
        event = ChangeEvent(
            type=EventType.TRACKING_UPDATED,
            occurred_at=datetime.fromtimestamp(delivery.ts, UTC),
            tracking_number=delivery.msg.tracking_number,
        )
        return VerifiedEvent(msg_id=f"aftership:{delivery.event_id}", event=event)
