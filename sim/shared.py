"""What every simulated source serves besides its own data: ``/healthz``, its contract
at ``/openapi.json``, the ``/__stats`` counters and the ``/__faults`` fault injection."""

from __future__ import annotations

from aiohttp import web

from sim.common import (
    FAULTS_KEY,
    JSON,
    OPENAPI_KEY,
    SOURCE_KEY,
    STATS_KEY,
    json_response,
    read_body,
)
from sim.faults import FaultSpec
from sim.routes import Answer, Service
from sim.stats import StatsBody
from sources.records import ErrorBody


async def _healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok", "source": request.app[SOURCE_KEY]})


async def _openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI_KEY], content_type=JSON)


async def _get_stats(request: web.Request) -> web.Response:
    return json_response(request.app[STATS_KEY].snapshot())


async def _reset_stats(request: web.Request) -> web.Response:
    request.app[STATS_KEY].reset()
    return web.Response(status=204)


async def _get_faults(request: web.Request) -> web.Response:
    return json_response(request.app[FAULTS_KEY].spec)


async def _put_faults(request: web.Request) -> web.Response:
    spec = await read_body(request, FaultSpec)
    request.app[FAULTS_KEY].set(spec)
    return json_response(spec)


async def _clear_faults(request: web.Request) -> web.Response:
    request.app[FAULTS_KEY].set(FaultSpec())
    return web.Response(status=204)


_FAULTS_APPLY = (
    "Faults apply to the data endpoints only (not /healthz, /openapi.json, /__stats, "
    "/__faults or /admin/...); faulted requests are still counted in /__stats. "
    "Injected errors answer an ErrorBody with code INJECTED_FAULT; hang keeps the "
    "connection open without an answer until the client gives up (or the source "
    "stops); reset aborts the TCP connection without a response; garbage answers 200 "
    "with a truncated JSON body; partialBatch drops every other found record of a "
    "batch without listing it in notFound."
)


def shared_routes(source: str) -> tuple[Service, ...]:
    """The routes ``source`` serves besides its own (its health names it)."""
    health = {
        "type": "object",
        "properties": {"status": {"const": "ok"}, "source": {"const": source}},
        "required": ["status", "source"],
    }
    contract = {"type": "object", "required": ["openapi", "info", "paths"]}
    return (
        Service(
            method="GET",
            path="/healthz",
            handler=_healthz,
            operation_id="healthz",
            summary="Liveness",
            answers=(Answer("200", "The source is up.", health),),
        ),
        Service(
            method="GET",
            path="/openapi.json",
            handler=_openapi,
            operation_id="getOpenApi",
            summary="This contract",
            answers=(Answer("200", "This OpenAPI 3.1 document.", contract),),
        ),
        Service(
            method="GET",
            path="/__stats",
            handler=_get_stats,
            operation_id="getStats",
            summary="Data requests served",
            description="Counted before latency and faults apply, so faulted requests "
            "count too; a refused batch (400) counts as a request but adds no batch size.",
            tag="stats",
            answers=(Answer("200", "OK", StatsBody),),
        ),
        Service(
            method="DELETE",
            path="/__stats",
            handler=_reset_stats,
            operation_id="resetStats",
            summary="Reset the counters",
            tag="stats",
            answers=(Answer("204", "Reset."),),
        ),
        Service(
            method="GET",
            path="/__faults",
            handler=_get_faults,
            operation_id="getFaults",
            summary="Current injected faults",
            description="Fields at their default are omitted; {} means no faults.",
            tag="faults",
            answers=(Answer("200", "OK", FaultSpec),),
        ),
        Service(
            method="PUT",
            path="/__faults",
            handler=_put_faults,
            operation_id="setFaults",
            summary="Replace the injected faults",
            description=f"Replaces the current faults; {{}} clears them. {_FAULTS_APPLY}",
            tag="faults",
            body=FaultSpec,
            answers=(
                Answer("200", "The faults now in force.", FaultSpec),
                Answer("400", "Invalid body (code BAD_REQUEST).", ErrorBody),
            ),
        ),
        Service(
            method="DELETE",
            path="/__faults",
            handler=_clear_faults,
            operation_id="clearFaults",
            summary="Clear the injected faults",
            tag="faults",
            answers=(Answer("204", "Cleared."),),
        ),
    )
