"""Run-time fault injection for the simulated sources' data endpoints.

A :class:`FaultSpec` says how a source misbehaves; :class:`Faults` holds a source's
current spec and random generator and draws, per data request, which fault (if any)
applies. The shared middleware in :mod:`sim.common` acts on the draw, so
every failure reaches the client as a real HTTP or TCP failure would:

* ``errorRate``: an ErrorBody with ``errorStatus`` (code ``INJECTED_FAULT``);
* ``hang``: no answer; the connection stays open until the client gives up (the
  handler notices within :data:`HANG_POLL_S`) or the source shuts down (reset then);
* ``reset``: the TCP connection is aborted with an RST before any response byte, so
  aiohttp clients raise ``ClientOSError`` (errno ECONNRESET). Note that aiohttp resends
  an idempotent request once after a dropped connection: a GET fails only when both
  attempts are reset, and both reach the source;
* ``garbage``: 200, ``application/json``, a truncated JSON body;
* ``partialBatch``: a batch endpoint silently drops every other found record,
  starting with the first, without listing them in ``notFound`` (other endpoints
  answer normally).

``latencyMs``/``jitterMs`` add to the source's configured latency on every data call.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import math
import random
import socket
import struct
from dataclasses import dataclass, field
from typing import Annotated

import msgspec
from aiohttp import web

Rate = Annotated[float, msgspec.Meta(ge=0, le=1)]
Millis = Annotated[float, msgspec.Meta(ge=0)]
ErrorStatus = Annotated[int, msgspec.Meta(ge=400, le=599)]


def _doc(description: str) -> msgspec.Meta:
    return msgspec.Meta(description=description)


HANG_POLL_S = 0.1
GARBAGE = b'{"data": [{"id": "'  # what a cut-off upstream answer looks like
_LINGER_RST = struct.pack("ii", 1, 0)  # SO_LINGER on with 0 s: close() sends an RST


class FaultSpec(
    msgspec.Struct,
    rename="camel",
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    omit_defaults=True,
):
    """How a source misbehaves on its data endpoints; {} is no fault.

    errorRate is drawn first; of the requests it spares, the share rate gets one of
    hang, reset, garbage and partialBatch (chosen at random when several are on).
    seed reseeds the source's generator so a sequence of draws can be repeated.
    """

    latency_ms: Annotated[Millis, _doc("Added to the configured latency.")] = 0.0
    jitter_ms: Annotated[Millis, _doc("Uniform extra latency, 0 to this many ms.")] = 0.0
    error_rate: Annotated[Rate, _doc("Share of data requests answered errorStatus.")] = 0.0
    error_status: Annotated[ErrorStatus, _doc("Status of injected errors.")] = 503
    hang: Annotated[bool, _doc("Never answer; keep the connection open.")] = False
    reset: Annotated[bool, _doc("Abort the connection (TCP RST), no response.")] = False
    garbage: Annotated[bool, _doc("Answer 200 with a body that is not JSON.")] = False
    partial_batch: Annotated[
        bool, _doc("Batch endpoints drop every other found record, unreported.")
    ] = False
    rate: Annotated[
        Rate, _doc("Share of data requests that hang, reset, garbage or partialBatch hit.")
    ] = 1.0
    seed: Annotated[int | None, _doc("Reseeds the source's fault generator.")] = None


class Fault(enum.Enum):
    """What happens to one data request."""

    ERROR = "error"
    HANG = "hang"
    RESET = "reset"
    GARBAGE = "garbage"
    PARTIAL = "partial"


@dataclass
class Faults:
    """A source's current faults, its generator and the shutdown signal for hangs."""

    spec: FaultSpec = field(default_factory=FaultSpec)
    rng: random.Random = field(default_factory=random.Random)
    closing: asyncio.Event = field(default_factory=asyncio.Event)

    def set(self, spec: FaultSpec) -> None:
        self.spec = spec
        if spec.seed is not None:
            self.rng.seed(spec.seed)

    def delay_seconds(self) -> float:
        spec = self.spec
        jitter = self.rng.uniform(0, spec.jitter_ms) if spec.jitter_ms > 0 else 0.0
        return (spec.latency_ms + jitter) / 1000

    def draw(self) -> Fault | None:
        spec = self.spec
        if spec.error_rate > 0 and self.rng.random() < spec.error_rate:
            return Fault.ERROR
        kinds = [
            kind
            for kind, on in (
                (Fault.HANG, spec.hang),
                (Fault.RESET, spec.reset),
                (Fault.GARBAGE, spec.garbage),
                (Fault.PARTIAL, spec.partial_batch),
            )
            if on
        ]
        if kinds and self.rng.random() < spec.rate:
            return self.rng.choice(kinds)
        return None


def reset_connection(request: web.Request) -> web.Response:
    """Abort the request's connection with a TCP RST; no response byte is sent.

    Returns a placeholder for the middleware chain: aiohttp fails to write it to the
    aborted transport and treats that as a client disconnect, without logging.
    """
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
        transport.abort()
    return web.Response(status=500)


async def hang(request: web.Request, closing: asyncio.Event) -> web.Response:
    """Never answer: wait until the client disconnects or ``closing`` is set.

    aiohttp does not cancel handlers when a client goes away, so the transport is
    polled; on shutdown the connection is reset so the server need not wait for it.
    """
    while not closing.is_set() and _connected(request):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closing.wait(), HANG_POLL_S)
    return reset_connection(request)


def _connected(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and not transport.is_closing()


_FLAGS = {"hang": "hang", "reset": "reset", "garbage": "garbage", "partial": "partialBatch"}
_VALUES = {"latency": "latencyMs", "jitter": "jitterMs", "seed": "seed"}
_ITEMS = (
    "error[=rate][@status], latency=ms, jitter=ms, seed=n, hang[=rate], reset[=rate], "
    "garbage[=rate] or partial[=rate]"
)


def parse_fault_spec(text: str) -> FaultSpec:
    """A spec from comma-separated items, as the ``--fault`` command-line option takes.

    Items: ``error[=rate][@status]`` (rate 1 when omitted), ``latency=ms``,
    ``jitter=ms``, ``seed=n`` and ``hang``, ``reset``, ``garbage``, ``partial``, each
    with an optional ``=rate`` (one rate shared by the four). Raises
    :class:`ValueError` on bad input.
    """
    fields: dict[str, object] = {}
    for item in (part.strip() for part in text.split(",")):
        head, at, status = item.partition("@")
        name, has_value, value = (part.strip() for part in head.partition("="))
        if name == "error":
            fields["errorRate"] = _number(value, item) if has_value else 1.0
            if at:
                fields["errorStatus"] = _integer(status, item)
        elif name in _FLAGS and not at:
            fields[_FLAGS[name]] = True
            if has_value:
                rate = _number(value, item)
                if fields.setdefault("rate", rate) != rate:
                    raise ValueError(
                        f"hang, reset, garbage and partial share one rate: {item!r} "
                        f"conflicts with rate {fields['rate']}"
                    )
        elif name in _VALUES and has_value and not at:
            fields[_VALUES[name]] = (
                _integer(value, item) if name == "seed" else _number(value, item)
            )
        else:
            raise ValueError(f"invalid fault item {item!r}: expected {_ITEMS}")
    try:
        return msgspec.convert(fields, FaultSpec)
    except msgspec.ValidationError as exc:
        raise ValueError(f"invalid faults {text!r}: {exc}") from None


def _number(text: str, item: str) -> float:
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(f"invalid number in fault item {item!r}")
    return number


def _integer(text: str, item: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"invalid integer in fault item {item!r}") from None
