"""Each route of a simulated source, declared once.

A declaration says how the route is served and how it is documented: :func:`serve`
turns it into the aiohttp route, :mod:`sim.openapi` into its part of the source's
contract, so the two cannot drift. The kind of declaration decides the rest:

- :class:`Read`: a ``GET`` data endpoint;
- :class:`Change`: a ``POST`` data endpoint that changes or creates a record through
  an :data:`~sim.changes.Apply` and honours ``Idempotency-Key``;
- :class:`Admin`: ``POST /admin/...``, a change made by the test or demo driving the
  source, never by the gateway;
- :class:`Service`: what every source serves besides its data (health, its contract,
  stats, faults).

Data endpoints (reads and changes) are counted in ``/__stats``, delayed by the
configured latency and subject to the injected faults (:mod:`sim.faults`); admin and
service routes are not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import msgspec
from aiohttp import web

from sim.changes import Apply, ChangeError
from sim.common import (
    CLOCK_KEY,
    DATASET_KEY,
    EMITTER_KEY,
    FAULTS_KEY,
    JSON,
    LATENCY_KEY,
    PARTIAL_BATCH_KEY,
    STATS_KEY,
    Handler,
    error_response,
    json_response,
    parse_id_list,
    read_body,
)
from sim.faults import GARBAGE, Fault, hang, reset_connection
from sim.idempotency import honour_idempotency_keys
from sim.seed import Dataset
from sources.events import EventType
from sources.records import MAX_BATCH

T = TypeVar("T")
REF = "#/components/schemas/{name}"


@dataclass(frozen=True)
class Param:
    """A documented parameter."""

    name: str
    description: str
    schema: dict[str, Any]
    required: bool = False
    comma_list: bool = False  # array sent as one comma-separated value
    location: str = "query"  # or "path", "header"


def id_list(name: str, what: str) -> Param:
    """The comma-separated id list of a batch endpoint."""
    return Param(
        name=name,
        description=(
            f"Comma-separated {what} (at most {MAX_BATCH} distinct values per call; "
            "duplicates are ignored). More than "
            f"{MAX_BATCH} answers 400 with code BATCH_TOO_LARGE."
        ),
        schema={
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "minItems": 1,
            "maxItems": MAX_BATCH,
        },
        required=True,
        comma_list=True,
    )


def path_param(name: str, description: str) -> Param:
    return Param(name, description, {"type": "string"}, required=True, location="path")


def time_param(name: str, description: str) -> Param:
    return Param(name, description, {"type": "string", "format": "date-time"})


def enum_list_param(name: str, enum_name: str, description: str) -> Param:
    schema = {"type": "array", "items": {"$ref": REF.format(name=enum_name)}, "minItems": 1}
    return Param(name, description, schema, comma_list=True)


@dataclass(frozen=True, kw_only=True)
class Read:
    """``GET path``: a data endpoint answering ``response`` (400 on bad parameters, 404
    for an unknown record named by a path parameter). A simulated vendor API also
    declares its own writes (and Shopify's GraphQL) as data endpoints with another
    ``method`` and a handler of their own."""

    path: str
    operation_id: str
    summary: str
    description: str
    response: type[msgspec.Struct]
    handler: Handler
    params: tuple[Param, ...] = ()
    method: str = "GET"


@dataclass(frozen=True, kw_only=True)
class Change:
    """``POST path``: a data endpoint applying its JSON ``body`` to the record named by
    ``key`` (or creating one: no key), answering the changed record (201 when
    ``created``, 202 when the change was only recorded, as ``accepted`` describes)."""

    method: ClassVar[str] = "POST"
    path: str
    operation_id: str
    summary: str
    description: str  # names the events the change emits
    key: Param | None
    apply: Apply[Any]
    body: type[msgspec.Struct]
    response: type[msgspec.Struct]
    conflict: str | None = None  # when the change can be refused with 409
    accepted: str | None = None
    created: bool = False
    not_found: str = "Unknown record (code NOT_FOUND)."


@dataclass(frozen=True, kw_only=True)
class Admin:
    """``POST path``: applies its JSON ``body`` to the record named by ``key`` and
    emits ``event``."""

    method: ClassVar[str] = "POST"
    path: str
    operation_id: str
    summary: str
    description: str
    key: Param
    apply: Apply[Any]
    body: type[msgspec.Struct]
    response: type[msgspec.Struct]
    event: EventType
    conflict: str | None = None  # when the change can be refused with 409


@dataclass(frozen=True)
class Answer:
    """One documented answer of a :class:`Service` route."""

    status: str
    description: str
    schema: type[msgspec.Struct] | dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class Service:
    """A route every source serves besides its data, documented answer by answer."""

    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    answers: tuple[Answer, ...]
    description: str | None = None
    tag: str | None = None
    body: type[msgspec.Struct] | None = None  # optional JSON body


Route = Read | Change | Admin | Service


@dataclass(frozen=True)
class Delivery:
    """How a source delivers its change events: the body and the signature's headers
    (name, description), and how it is signed."""

    body: type[msgspec.Struct]
    headers: tuple[tuple[str, str], ...]
    signed: str


@dataclass(frozen=True)
class Source:
    """One simulated source: its contract's title and description, and its own routes.

    A simulated vendor API ``serves`` native sources' data (``("carrier",)``) in its
    vendor's shapes and ``delivers`` their changes the vendor's way."""

    name: str
    title: str
    description: str
    routes: tuple[Route, ...]
    serves: tuple[str, ...] = ()
    delivers: Delivery | None = None  # None: the native Standard Webhooks

    @property
    def data(self) -> tuple[str, ...]:
        """The native sources whose data this one serves (a native source: its own)."""
        return self.serves or (self.name,)


def batch(
    path: str,
    ids: Param,
    lookup: Callable[[Dataset, str], T | None],
    *,
    operation_id: str,
    summary: str,
    response: type[msgspec.Struct],
    normalize: Callable[[str], str] | None = None,
    note: str | None = None,
) -> Read:
    """``GET path?ids=a,b`` (``ids``: an :func:`id_list`): look every id up, answer
    ``response(data=found, not_found=missing)`` (``data`` alone for a response without
    ``notFound``, whose lookup answers every id). Its description says so; ``note`` adds
    to it.

    Under an injected partial-batch fault every other found record, starting with the
    first, is dropped and not reported in ``not_found``.
    """
    lists_missing = "not_found" in {field.name for field in msgspec.structs.fields(response)}
    if lists_missing:
        found = "The records found, in request order"
        description = f"{found}; {ids.name} it does not know are listed in notFound."
    else:
        description = f"One entry for each of {ids.name}, in request order."
    if note is not None:
        description = f"{description} {note}"

    async def handler(request: web.Request) -> web.Response:
        dataset = request.app[DATASET_KEY]
        found: list[T] = []
        missing: list[str] = []
        keys = parse_id_list(request, ids.name, normalize)
        request.app[STATS_KEY].record_batch(path, len(keys))
        for key in keys:
            item = lookup(dataset, key)
            if item is None:
                missing.append(key)
            else:
                found.append(item)
        if request.get(PARTIAL_BATCH_KEY):
            del found[::2]
        answer = response(data=found, not_found=missing) if lists_missing else response(data=found)
        return json_response(answer)

    return Read(
        path=path,
        operation_id=operation_id,
        summary=summary,
        description=description,
        response=response,
        handler=handler,
        params=(ids,),
    )


def serve(route: Route) -> web.RouteDef:
    """The aiohttp route serving ``route``."""
    match route:
        case Read():
            handler = _metered(route.path, route.handler)
        case Change():
            success = 201 if route.created else 200
            applying = _applying(route.apply, route.body, success)
            handler = _metered(route.path, honour_idempotency_keys(applying))
        case Admin():
            handler = _applying(route.apply, route.body, 200)
        case Service():
            handler = route.handler
    if route.method == "GET":
        return web.get(route.path, handler)  # and HEAD
    return web.route(route.method, route.path, handler)


def _applying(apply: Apply[Any], body: type[msgspec.Struct], success: int) -> Handler:
    """Apply the JSON body to the record named by the path's placeholder (``""`` for a
    path without one) and answer the changed record with ``success``, or 202 when the
    change was only recorded; its event goes out in the background. An empty body
    counts as ``{}``; a bad body answers 400, a :class:`ChangeError` its own status."""

    async def handler(request: web.Request) -> web.Response:
        key = next(iter(request.match_info.values()), "")
        payload = await read_body(request, body)
        try:
            record, event = apply(
                request.app[DATASET_KEY], key, payload, request.app[CLOCK_KEY].now()
            )
        except ChangeError as exc:
            return error_response(exc.status, exc.code, str(exc))
        if event is None:
            return json_response(record, status=202)
        emitter = request.app.get(EMITTER_KEY)
        if emitter is not None:
            emitter.emit(event)
        return json_response(record, status=success)

    return handler


def _metered(path: str, handler: Handler) -> Handler:
    """``handler`` counted under ``path``, then delayed and faulted as configured."""

    async def metered(request: web.Request) -> web.StreamResponse:
        app = request.app
        app[STATS_KEY].count(path)
        faults = app[FAULTS_KEY]
        delay = app[LATENCY_KEY].seconds() + faults.delay_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        match faults.draw():
            case Fault.ERROR:
                status = faults.spec.error_status
                return error_response(status, "INJECTED_FAULT", f"injected fault: {status}")
            case Fault.HANG:
                return await hang(request, faults.closing)
            case Fault.RESET:
                return reset_connection(request)
            case Fault.GARBAGE:
                return web.Response(body=GARBAGE, content_type=JSON)
            case Fault.PARTIAL:
                request[PARTIAL_BATCH_KEY] = True
        return await handler(request)

    return metered
