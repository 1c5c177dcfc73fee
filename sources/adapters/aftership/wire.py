"""AfterShip's JSON, as far as the gateway reads it (Tracking API 2024-04).

Shapes follow AfterShip's API reference ("Get trackings", models Tracking and
Checkpoint, "Body Envelope", "Webhook Specifications"): snake_case names, every
answer in the envelope ``{"meta": {"code", "message", "type"}, "data": {...}}``.
Fields AfterShip may leave out or send as null are optional; fields the gateway does
not read are not declared, so msgspec skips them.
"""

from __future__ import annotations

import msgspec

API_VERSION = "2024-04"
TRACKINGS_PATH = f"/tracking/{API_VERSION}/trackings"
COURIERS_PATH = f"/tracking/{API_VERSION}/couriers"
API_KEY_HEADER = "as-api-key"
SIGNATURE_HEADER = "aftership-hmac-sha256"
MAX_NUMBERS = 50  # tracking_numbers per "Get trackings" call
MAX_LIMIT = 200  # trackings per page


class Wire(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Base of AfterShip's objects: snake_case, as sent."""


class Checkpoint(Wire, frozen=True, kw_only=True):
    # As the carrier gives it, in the checkpoint's time zone: YYYY-MM-DD,
    # YYYY-MM-DDTHH:mm:ss (no offset) or YYYY-MM-DDTHH:mm:ssZ (with one).
    checkpoint_time: str
    tag: str
    subtag: str | None = None
    subtag_message: str | None = None
    message: str | None = None
    location: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country_iso3: str | None = None  # ISO 3166-1 alpha-3


class EstimatedDelivery(Wire, frozen=True, kw_only=True):
    """An estimated delivery date (EDD): one time (``specific``) or a range."""

    type: str | None = None  # "specific" or "range"
    source: str | None = None  # e.g. "Carrier EDD", "AfterShip EDD"
    datetime: str | None = None
    datetime_min: str | None = None
    datetime_max: str | None = None


class Tracking(Wire, frozen=True, kw_only=True):
    id: str | None = None
    tracking_number: str
    slug: str  # the courier's code, e.g. "ups"
    tag: str
    subtag: str | None = None
    subtag_message: str | None = None
    checkpoints: list[Checkpoint] = []
    first_estimated_delivery: EstimatedDelivery | None = None
    latest_estimated_delivery: EstimatedDelivery | None = None
    order_promised_delivery_date: str | None = None  # YYYY-MM-DD, no time zone
    first_attempted_at: str | None = None
    signed_by: str | None = None
    updated_at: str  # YYYY-MM-DDTHH:mm:ssZ, UTC


class Meta(Wire, frozen=True, kw_only=True):
    code: int
    message: str | None = None
    type: str | None = None


class TrackingsPage(Wire, frozen=True, kw_only=True):
    page: int = 1
    limit: int = 100
    count: int = 0  # trackings that match, over every page
    trackings: list[msgspec.Raw] = []  # decoded one by one: a bad one costs itself only


class TrackingsAnswer(Wire, frozen=True, kw_only=True):
    meta: Meta
    data: TrackingsPage


class ErrorAnswer(Wire, frozen=True, kw_only=True):
    meta: Meta
    data: dict[str, object] = {}


class WebhookBody(Wire, frozen=True, kw_only=True):
    """A webhook delivery: ``msg`` is the tracking as it is now."""

    event: str  # "tracking_update"
    event_id: str  # UUID v4: one per event, the same on every retry
    ts: int  # when the event occurred, Unix seconds
    is_tracking_first_tag: bool = False
    msg: Tracking
