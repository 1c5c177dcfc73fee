"""What the four simulated sources' handlers share: the app's state, JSON answers and
errors, id lists and request bodies."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import msgspec
from aiohttp import web

from sim.emitter import Emitter
from sim.faults import Faults
from sim.seed import Dataset
from sim.stats import Stats
from sim.vendors.access import VendorAccount
from sources.clock import Clock
from sources.records import MAX_BATCH, ErrorBody

StructT = TypeVar("StructT", bound=msgspec.Struct)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

JSON = "application/json"


@dataclass
class Latency:
    """Simulated response time of data endpoints: fixed plus uniform jitter, in ms."""

    fixed_ms: float = 0.0
    jitter_ms: float = 0.0
    rng: random.Random = field(default_factory=random.Random)

    def seconds(self) -> float:
        jitter = self.rng.uniform(0, self.jitter_ms) if self.jitter_ms > 0 else 0.0
        return max(0.0, self.fixed_ms + jitter) / 1000


SOURCE_KEY = web.AppKey("source", str)
DATASET_KEY = web.AppKey("dataset", Dataset)  # read live: tests may change it in place
STATS_KEY = web.AppKey("stats", Stats)
LATENCY_KEY = web.AppKey("latency", Latency)
OPENAPI_KEY = web.AppKey("openapi", bytes)
EMITTER_KEY = web.AppKey("emitter", Emitter)
CLOCK_KEY = web.AppKey("clock", Clock)
FAULTS_KEY = web.AppKey("faults", Faults)
ACCOUNT_KEY = web.AppKey("account", VendorAccount)  # who a vendor API admits, how often
PARTIAL_BATCH_KEY = web.RequestKey("partial_batch", bool)  # set when drawn for this request


def json_response(payload: object, status: int = 200) -> web.Response:
    """Encode ``payload`` (records, dicts, lists) with msgspec as application/json."""
    return web.Response(body=msgspec.json.encode(payload), status=status, content_type=JSON)


def error_response(status: int, code: str, message: str) -> web.Response:
    return json_response(ErrorBody(code=code, message=message), status=status)


def bad_request(message: str, code: str = "BAD_REQUEST") -> web.HTTPBadRequest:
    """A 400 carrying an :class:`ErrorBody`; ``raise`` it from a handler."""
    body = msgspec.json.encode(ErrorBody(code=code, message=message)).decode()
    return web.HTTPBadRequest(text=body, content_type=JSON)


def parse_id_list(
    request: web.Request, param: str, normalize: Callable[[str], str] | None = None
) -> list[str]:
    """The distinct ids of a comma-separated query parameter, in request order.

    Repeated parameters are joined; blanks are dropped. Missing/empty or more than
    ``MAX_BATCH`` distinct ids raise a 400.
    """
    raw = [part.strip() for value in request.query.getall(param, []) for part in value.split(",")]
    ids = [i for i in dict.fromkeys(normalize(p) if normalize else p for p in raw) if i]
    if not ids:
        raise bad_request(f"query parameter '{param}' is required: a comma-separated list of ids")
    if len(ids) > MAX_BATCH:
        raise bad_request(
            f"at most {MAX_BATCH} ids per call, got {len(ids)}", code="BATCH_TOO_LARGE"
        )
    return ids


async def read_body(request: web.Request, body: type[StructT]) -> StructT:
    """The request's JSON body as ``body`` (an empty body counts as ``{}``); 400 if bad."""
    raw = await request.read()
    try:
        return msgspec.json.decode(raw if raw.strip() else b"{}", type=body)
    except msgspec.DecodeError as exc:
        raise bad_request(f"invalid body: {exc}") from None
