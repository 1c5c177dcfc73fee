"""OpenAPI 3.1 contracts of the four simulated sources.

Component schemas come straight from :mod:`sources.records` via msgspec, so the
documents cannot drift from the wire records. The servers serve these documents at
``/openapi.json``; copies live in ``sources/sim/openapi/<source>.json``, rewritten by
``python -m sources.sim.openapi``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect

from sources.records import (
    MAX_BATCH,
    ErrorBody,
    InventoryBatch,
    OrderBatch,
    OrderPage,
    TicketBatch,
    TrackingBatch,
)

DOCUMENT_DIR = Path(__file__).with_name("openapi")
REF = "#/components/schemas/{name}"
VERSION = "1.0.0"


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    schema: dict[str, Any]
    required: bool = False
    comma_list: bool = False  # array sent as one comma-separated value


@dataclass(frozen=True)
class Endpoint:
    path: str
    operation_id: str
    summary: str
    description: str
    response: type[msgspec.Struct]
    params: tuple[Param, ...] = field(default=())


@dataclass(frozen=True)
class SourceSpec:
    title: str
    description: str
    endpoints: tuple[Endpoint, ...]


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


def _time_param(name: str, description: str) -> Param:
    return Param(name, description, {"type": "string", "format": "date-time"})


def _enum_list_param(name: str, enum_name: str, description: str) -> Param:
    schema = {"type": "array", "items": {"$ref": REF.format(name=enum_name)}, "minItems": 1}
    return Param(name, description, schema, comma_list=True)


SPECS: dict[str, SourceSpec] = {
    "oms": SourceSpec(
        title="OrderGraph simulated OMS",
        description="Orders with fulfillment orders, shipments and line quantities.",
        endpoints=(
            Endpoint(
                "/orders",
                "getOrders",
                "Orders by id",
                "Found orders in request order; unknown ids are listed in notFound.",
                OrderBatch,
                (id_list("ids", "order ids"),),
            ),
            Endpoint(
                "/orders/by-number",
                "getOrdersByNumber",
                "Orders by human order number",
                "Numbers like 1001 (a leading '#' is accepted and removed). Found orders in "
                "request order; unknown numbers are listed in notFound.",
                OrderBatch,
                (id_list("numbers", "order numbers"),),
            ),
            Endpoint(
                "/orders/search",
                "searchOrders",
                "Search orders",
                "All filters are optional and combined with AND. Sorted by placedAt "
                "descending, then id descending. Pass pageInfo.endCursor (or any edge's "
                "cursor) as cursor to continue after it; endCursor is null on an empty "
                "page. Unknown parameters or invalid values answer 400.",
                OrderPage,
                (
                    Param("customerId", "Only orders of this customer.", {"type": "string"}),
                    Param("accountId", "Only orders of this account.", {"type": "string"}),
                    _enum_list_param(
                        "status", "FulfillmentStatus", "Comma-separated fulfillment statuses."
                    ),
                    _enum_list_param(
                        "financialStatus", "FinancialStatus", "Comma-separated financial statuses."
                    ),
                    _time_param("updatedSince", "Orders updated at or after this time."),
                    _time_param("placedFrom", "Orders placed at or after this time (inclusive)."),
                    _time_param("placedTo", "Orders placed before this time (exclusive)."),
                    Param(
                        "limit",
                        f"Page size, 1 to {MAX_BATCH}.",
                        {"type": "integer", "minimum": 1, "maximum": MAX_BATCH, "default": 50},
                    ),
                    Param(
                        "cursor",
                        "Opaque cursor from pageInfo.endCursor or an edge.",
                        {"type": "string"},
                    ),
                ),
            ),
        ),
    ),
    "inventory": SourceSpec(
        title="OrderGraph simulated inventory",
        description="Stock levels per SKU and location; snapshots carry an asOf time.",
        endpoints=(
            Endpoint(
                "/inventory",
                "getInventory",
                "Inventory by SKU",
                "Found items in request order; unknown SKUs are listed in notFound.",
                InventoryBatch,
                (id_list("skus", "SKUs"),),
            ),
        ),
    ),
    "carrier": SourceSpec(
        title="OrderGraph simulated carrier tracking",
        description="Normalised tracking with raw AfterShip-style tags and checkpoints.",
        endpoints=(
            Endpoint(
                "/trackings",
                "getTrackings",
                "Trackings by tracking number",
                "Found trackings in request order; numbers the carriers have no record of "
                "are listed in notFound. Checkpoints are as the carrier sent them: possibly "
                "out of order, duplicated or date-only.",
                TrackingBatch,
                (id_list("numbers", "tracking numbers"),),
            ),
        ),
    ),
    "ticketing": SourceSpec(
        title="OrderGraph simulated ticketing",
        description="Support tickets linked to orders.",
        endpoints=(
            Endpoint(
                "/tickets",
                "getTicketsByOrder",
                "Tickets by order id",
                "One entry per requested order id, in request order; tickets is empty when "
                "the order has none or is unknown.",
                TicketBatch,
                (id_list("orderIds", "order ids"),),
            ),
        ),
    ),
}


def _json_content(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": REF.format(name=ref)}}}


def _parameter(param: Param) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": param.name,
        "in": "query",
        "required": param.required,
        "description": param.description,
        "schema": param.schema,
    }
    if param.comma_list:
        out |= {"style": "form", "explode": False}
    return out


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "description": endpoint.description,
        "parameters": [_parameter(p) for p in endpoint.params],
        "responses": {
            "200": {"description": "OK", "content": _json_content(endpoint.response.__name__)},
            "400": {
                "description": "Invalid parameters (code BAD_REQUEST or BATCH_TOO_LARGE).",
                "content": _json_content(ErrorBody.__name__),
            },
        },
    }


def _datetime_fields(types: list[type[msgspec.Struct]]) -> dict[str, list[str]]:
    """Wire names of the datetime fields of every struct reachable from ``types``."""
    found: dict[str, list[str]] = {}

    def is_datetime(t: msgspec.inspect.Type) -> bool:
        if isinstance(t, msgspec.inspect.UnionType):
            return any(is_datetime(member) for member in t.types)
        return isinstance(t, msgspec.inspect.DateTimeType)

    def walk(t: msgspec.inspect.Type) -> None:
        if isinstance(t, msgspec.inspect.StructType):
            name = t.cls.__name__
            if name in found:
                return
            found[name] = [f.encode_name for f in t.fields if is_datetime(f.type)]
            for f in t.fields:
                walk(f.type)
        elif isinstance(t, msgspec.inspect.UnionType):
            for member in t.types:
                walk(member)
        elif isinstance(t, msgspec.inspect.ListType):
            walk(t.item_type)

    for info in msgspec.inspect.multi_type_info(types):
        walk(info)
    return found


def _schemas(types: list[type[msgspec.Struct]]) -> dict[str, Any]:
    """Component schemas of ``types``, with ``format: date-time`` on datetime fields."""
    _, components = msgspec.json.schema_components(types, ref_template=REF)
    for struct, names in _datetime_fields(types).items():
        for name in names:
            prop = components[struct]["properties"][name]
            for option in prop.get("anyOf", [prop]):
                if option.get("type") == "string":
                    option["format"] = "date-time"
    return components


def build_document(source: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``source`` ("oms", "inventory", "carrier", "ticketing")."""
    spec = SPECS[source]
    types = [e.response for e in spec.endpoints] + [ErrorBody]
    components = _schemas(types)
    paths: dict[str, Any] = {e.path: {"get": _operation(e)} for e in spec.endpoints}
    paths["/healthz"] = {
        "get": {
            "operationId": "healthz",
            "summary": "Liveness",
            "responses": {
                "200": {
                    "description": "The source is up.",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "status": {"const": "ok"},
                                    "source": {"const": source},
                                },
                                "required": ["status", "source"],
                            }
                        }
                    },
                }
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": spec.title, "version": VERSION, "description": spec.description},
        "paths": paths,
        "components": {"schemas": components},
    }


def render(source: str) -> str:
    """The committed text of ``source``'s document: pretty, sorted keys, trailing newline."""
    return json.dumps(build_document(source), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    """Write every document to :data:`DOCUMENT_DIR`."""
    DOCUMENT_DIR.mkdir(exist_ok=True)
    for source in SPECS:
        path = DOCUMENT_DIR / f"{source}.json"
        path.write_text(render(source), encoding="utf-8")
        sys.stdout.write(f"wrote {path}\n")


if __name__ == "__main__":
    main()
