"""A simulated AfterShip Tracking API (2024-04) over the data set's trackings.

``GET /tracking/2024-04/trackings`` lists trackings, filtered by ``tracking_numbers``
(at most 50, any case), ``limit`` (at most 200) per ``page``, in AfterShip's envelope;
``GET /tracking/2024-04/couriers`` answers the couriers in use. Every call needs the
``as-api-key`` header and counts against the account's per-second limit: beyond it,
429 ``TooManyRequests``; every answer carries ``X-RateLimit-Limit``, ``-Remaining``
and ``-Reset``. Changes come through the carrier's admin route, served here too, and
go out as AfterShip webhooks (``tracking_update``, signed ``aftership-hmac-sha256``).
"""

from __future__ import annotations

import uuid

import msgspec
from aiohttp import web

from sim import carrier
from sim.common import DATASET_KEY, JSON, PARTIAL_BATCH_KEY, STATS_KEY, Handler
from sim.emitter import Render
from sim.routes import Admin, Delivery, Param, Read, Source
from sim.seed import Dataset
from sim.vendors.access import SIM_API_KEY, VendorAccount
from sim.vendors.admission import admitted
from sources.adapters.aftership import wire
from sources.adapters.aftership.adapter import TRACKING_UPDATE
from sources.adapters.aftership.vocabulary import aftership_from_tracking
from sources.events import ChangeEvent
from sources.webhooks import hmac_signature

ESTIMATE_SOURCE = "Carrier EDD"
# What a gateway needs to read this API (gateway settings of the adapter):
CREDENTIAL = SIM_API_KEY
OPTIONS: dict[str, str] = {}


def account() -> VendorAccount:
    """AfterShip's Tracking API (2024-04): 10 calls a second per account."""
    return VendorAccount(limit=10, window_s=1)


class Page(wire.Wire, frozen=True, kw_only=True):
    page: int
    limit: int
    count: int
    trackings: list[wire.Tracking]


class TrackingsAnswer(wire.Wire, frozen=True, kw_only=True):
    meta: wire.Meta
    data: Page


class Courier(wire.Wire, frozen=True, kw_only=True):
    slug: str


class CouriersData(wire.Wire, frozen=True, kw_only=True):
    total: int
    couriers: list[Courier]


class CouriersAnswer(wire.Wire, frozen=True, kw_only=True):
    meta: wire.Meta
    data: CouriersData


def _answer(payload: msgspec.Struct, status: int = 200) -> web.Response:
    return web.Response(body=msgspec.json.encode(payload), status=status, content_type=JSON)


def _error(status: int, kind: str, message: str) -> web.Response:
    meta = wire.Meta(code=status, message=message, type=kind)
    return _answer(wire.ErrorAnswer(meta=meta), status)


def _admitted(handler: Handler) -> Handler:
    """``handler`` behind AfterShip's ``as-api-key`` and rate limit."""
    return admitted(
        handler,
        authorized=lambda request, account: account.knows(request.headers.get(wire.API_KEY_HEADER)),
        refusal=_refusal,
    )


def _refusal(status: int) -> web.Response:
    if status == 401:
        return _error(401, "Unauthorized", "Invalid API key.")
    return _error(429, "TooManyRequests", "You have exceeded the API call rate limit.")


def _bounded(request: web.Request, name: str, default: int, most: int) -> int:
    """The query parameter ``name``, 1 to ``most``; ``ValueError`` for anything else."""
    text = request.query.get(name, str(default))
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise ValueError(f"{name} must be 1 to {most}")
    return int(text)


async def _trackings(request: web.Request) -> web.Response:
    dataset = request.app[DATASET_KEY]
    asked = [
        part.strip().upper()
        for value in request.query.getall("tracking_numbers", [])
        for part in value.split(",")
        if part.strip()
    ]
    numbers = list(dict.fromkeys(asked))
    if len(numbers) > wire.MAX_NUMBERS:
        message = f"tracking_numbers takes at most {wire.MAX_NUMBERS} numbers"
        return _error(400, "BadRequest", message)
    try:
        limit = _bounded(request, "limit", 100, wire.MAX_LIMIT)
        page = _bounded(request, "page", 1, 1_000_000)
    except ValueError as exc:
        return _error(400, "BadRequest", str(exc))
    if numbers:
        request.app[STATS_KEY].record_batch(wire.TRACKINGS_PATH, len(numbers))
        matched = [dataset.trackings[n] for n in numbers if n in dataset.trackings]
    else:
        matched = list(dataset.trackings.values())
    if request.get(PARTIAL_BATCH_KEY):
        del matched[::2]
    shown = matched[(page - 1) * limit : page * limit]
    data = Page(
        page=page,
        limit=limit,
        count=len(matched),
        trackings=[aftership_from_tracking(t, estimate_source=ESTIMATE_SOURCE) for t in shown],
    )
    return _answer(TrackingsAnswer(meta=wire.Meta(code=200), data=data))


async def _couriers(request: web.Request) -> web.Response:
    slugs = sorted({t.carrier_code for t in request.app[DATASET_KEY].trackings.values()})
    data = CouriersData(total=len(slugs), couriers=[Courier(slug=s) for s in slugs])
    return _answer(CouriersAnswer(meta=wire.Meta(code=200), data=data))


def webhook(dataset: Dataset, source: str) -> Render:
    """How the simulated AfterShip delivers a change of ``source`` (the carrier's): the
    tracking as it now is."""

    def render(event: ChangeEvent, msg_id: str, secret: str) -> tuple[bytes, dict[str, str]]:
        number = event.tracking_number or ""
        body = msgspec.json.encode(
            wire.WebhookBody(
                event=TRACKING_UPDATE,
                event_id=str(uuid.UUID(hex=msg_id.removeprefix("msg_"))),
                ts=int(event.occurred_at.timestamp()),
                msg=aftership_from_tracking(
                    dataset.trackings[number], estimate_source=ESTIMATE_SOURCE
                ),
            )
        )
        return body, {wire.SIGNATURE_HEADER: hmac_signature(secret, body)}

    return render


_KEY = Param(
    wire.API_KEY_HEADER, "The account's API key.", {"type": "string"}, True, location="header"
)

SOURCE = Source(
    name="aftership",
    title="OrderGraph simulated AfterShip Tracking API (2024-04)",
    description="The carrier's trackings in AfterShip's shapes, keys, limits and webhooks.",
    routes=(
        Read(
            path=wire.TRACKINGS_PATH,
            operation_id="getTrackings",
            summary="Get trackings",
            description="Trackings in AfterShip's envelope, filtered by tracking_numbers "
            "(comma-separated, at most 50, any case); limit (1 to 200, default 100) per page. "
            "401 without a known as-api-key; 429 beyond the account's per-second limit.",
            response=TrackingsAnswer,
            handler=_admitted(_trackings),
            params=(
                _KEY,
                Param("tracking_numbers", "Comma-separated tracking numbers.", {"type": "string"}),
                Param("limit", "Trackings per page (1 to 200).", {"type": "integer"}),
                Param("page", "Page number, from 1.", {"type": "integer"}),
            ),
        ),
        Read(
            path=wire.COURIERS_PATH,
            operation_id="getUserCouriers",
            summary="Get user activated couriers",
            description="The couriers of the account's trackings.",
            response=CouriersAnswer,
            handler=_admitted(_couriers),
            params=(_KEY,),
        ),
        *(route for route in carrier.SOURCE.routes if isinstance(route, Admin)),
    ),
    serves=("carrier",),
    delivers=Delivery(
        body=wire.WebhookBody,
        headers=(
            (
                wire.SIGNATURE_HEADER,
                "Base64 of the HMAC-SHA256 of the body under the account's webhook secret.",
            ),
        ),
        signed="Event tracking_update, msg the tracking as it now is; "
        "signed with aftership-hmac-sha256.",
    ),
)
