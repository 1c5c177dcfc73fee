"""OpenAPI 3.1 contracts of the four simulated sources.

Component schemas come straight from :mod:`sources.records`, the admin request bodies
of :mod:`sim.changes` and :class:`~sources.events.ChangeEvent` via msgspec, so
the documents cannot drift from the wire records. Each document also describes the
source's admin endpoints, its changing data endpoints (OMS cancel and address change,
new tickets and comments), ``/healthz``, ``/openapi.json`` itself, the ``/__stats``
counters, the ``/__faults`` fault injection and, under ``webhooks``, the change events
it sends. The
servers serve these documents at ``/openapi.json``; copies live in
``sim/openapi/<source>.json``, rewritten by ``python -m sim.openapi``.
"""

from __future__ import annotations

import inspect
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect

from sim.changes import NoBody
from sim.changes.carrier import AdvanceTracking
from sim.changes.inventory import SetInventoryLevel
from sim.changes.oms import CancelOrder, DecideAddressRequest
from sim.changes.ticketing import UpdateTicket
from sim.faults import FaultSpec
from sim.stats import StatsBody
from sources.events import EVENTS_BY_SOURCE, ChangeEvent, EventType
from sources.records import (
    MAX_BATCH,
    AddCommentRequest,
    AddressChange,
    AddressChangeRequest,
    CancelOrderRequest,
    CommentAdded,
    CreateTicketRequest,
    ErrorBody,
    InventoryBatch,
    InventoryItem,
    MailingAddress,
    Order,
    OrderAddressRequests,
    OrderBatch,
    OrderPage,
    Ticket,
    TicketBatch,
    Tracking,
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
    location: str = "query"  # or "path", "header"


@dataclass(frozen=True)
class Endpoint:
    path: str
    operation_id: str
    summary: str
    description: str
    response: type[msgspec.Struct]
    params: tuple[Param, ...] = field(default=())


@dataclass(frozen=True)
class AdminEndpoint:
    """``POST path``: changes the record named by ``key`` and emits ``event``."""

    path: str
    operation_id: str
    summary: str
    description: str
    key: Param
    body: type[msgspec.Struct]
    response: type[msgspec.Struct]
    event: EventType
    conflict: str | None = None  # when the change can be refused with 409


@dataclass(frozen=True)
class ChangeEndpoint:
    """``POST path``: a data endpoint (counted, delayed, faulted) changing the record named
    by ``key``, or creating one (no key); ``description`` names the events it emits."""

    path: str
    operation_id: str
    summary: str
    description: str
    key: Param | None
    body: type[msgspec.Struct]
    response: type[msgspec.Struct]
    conflict: str | None = None
    accepted: str | None = None  # when the change can be answered 202 (same body)
    created: bool = False  # answered 201 rather than 200
    not_found: str = "Unknown record (code NOT_FOUND)."


@dataclass(frozen=True)
class SourceSpec:
    title: str
    description: str
    endpoints: tuple[Endpoint, ...]
    admin: tuple[AdminEndpoint, ...] = ()
    changes: tuple[ChangeEndpoint, ...] = ()


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


def _path_param(name: str, description: str) -> Param:
    return Param(name, description, {"type": "string"}, required=True, location="path")


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
            Endpoint(
                "/orders/{id}/address-requests",
                "getAddressRequests",
                "Address change requests of an order",
                "Every request made while a warehouse had the work, oldest first, with its "
                "status (PENDING, APPROVED, REJECTED). An unknown order answers 404.",
                OrderAddressRequests,
                (_path_param("id", "Order id."),),
            ),
        ),
        changes=(
            ChangeEndpoint(
                "/orders/{id}/cancel",
                "requestCancel",
                "Cancel an order or some of its lines",
                "Without lines: cancels the whole order while nothing has shipped and no "
                "fulfillment order is IN_PROGRESS, INCOMPLETE or CLOSED (same effects as the "
                "admin cancel; emits order.cancelled). With lines: cancels those quantities, "
                "each at most the line's cancellable quantity (unshipped units on fulfillment "
                "orders no warehouse has started); emptied fulfillment orders are cancelled, "
                "a captured payment partially refunded, or refunded/voided when nothing is "
                "left (emits order.updated). Answers the updated order.",
                _path_param("id", "Order id."),
                CancelOrderRequest,
                Order,
                conflict="Refused, code ALREADY_CANCELLED, NOTHING_TO_CANCEL, ALREADY_SHIPPED, "
                "PARTIALLY_SHIPPED (whole order), IN_FULFILLMENT or QUANTITY_NOT_CANCELLABLE "
                "(a line asks for more than it can cancel).",
            ),
            ChangeEndpoint(
                "/orders/{id}/shipping-address",
                "changeShippingAddress",
                "Change the shipping address",
                "Before any fulfillment order is handed to a warehouse (IN_PROGRESS, "
                "INCOMPLETE, CLOSED) the address is applied at once: 200 with status "
                "APPLIED (emits order.updated).",
                _path_param("id", "Order id."),
                MailingAddress,
                AddressChange,
                conflict="Refused, code ALREADY_CANCELLED, NOTHING_TO_CANCEL, PICKUP_ORDER, "
                "ALREADY_SHIPPED or PARTIALLY_SHIPPED.",
                accepted="A warehouse has the work: recorded as a PENDING request (status "
                "REQUESTED, requestId) for it to approve or reject; the order is unchanged "
                "and no event is sent until the decision.",
            ),
        ),
        admin=(
            AdminEndpoint(
                "/admin/orders/{id}/cancel",
                "cancelOrder",
                "Cancel an order",
                "Sets cancelledAt and cancelReason, cancels every line's quantity and every "
                "open fulfillment order, voids an AUTHORIZED or PENDING payment and refunds "
                "any other. Answers the cancelled order.",
                _path_param("id", "Order id."),
                CancelOrder,
                Order,
                EventType.ORDER_CANCELLED,
                conflict="The order has shipped lines or is already cancelled "
                "(code NOT_CANCELLABLE).",
            ),
            AdminEndpoint(
                "/admin/orders/{id}/touch",
                "touchOrder",
                "Touch an order",
                "Only moves updatedAt forward. Answers the order.",
                _path_param("id", "Order id."),
                NoBody,
                Order,
                EventType.ORDER_UPDATED,
            ),
            AdminEndpoint(
                "/admin/address-requests/{requestId}/decide",
                "decideAddressRequest",
                "Decide an address change request",
                "The warehouse's answer to a PENDING request: approve applies the address, "
                "reject keeps the old one; either moves the order's updatedAt. Answers the "
                "decided request.",
                _path_param("requestId", "Address change request id."),
                DecideAddressRequest,
                AddressChangeRequest,
                EventType.ORDER_UPDATED,
                conflict="Already decided (code ALREADY_DECIDED), or approving an order that "
                "can no longer take the address (code ALREADY_CANCELLED, ALREADY_SHIPPED, "
                "PARTIALLY_SHIPPED, ...).",
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
        admin=(
            AdminEndpoint(
                "/admin/inventory/{sku}",
                "setInventoryLevel",
                "Change a stock level",
                "Changes one location's level; omitted fields keep their value. onHand moves "
                "with available (committed, reserved and unavailable stock stay) and must stay "
                "non-negative; incomingExpectedAt is cleared when incoming drops to 0 and is "
                "required while incoming > 0. Answers the item.",
                _path_param("sku", "SKU."),
                SetInventoryLevel,
                InventoryItem,
                EventType.INVENTORY_CHANGED,
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
        admin=(
            AdminEndpoint(
                "/admin/trackings/{number}/advance",
                "advanceTracking",
                "Advance a tracking",
                "Appends a checkpoint and updates status, tag, subtag, message and updatedAt. "
                "Without a body: the next milestone (LABEL_CREATED → IN_TRANSIT → "
                "OUT_FOR_DELIVERY → DELIVERED, signed; DELIVERY_ATTEMPTED → OUT_FOR_DELIVERY; "
                "EXCEPTION → IN_TRANSIT). With status: that status (subtag and message "
                "default to the carrier's usual ones). Answers the tracking.",
                _path_param("number", "Tracking number (case-insensitive)."),
                AdvanceTracking,
                Tracking,
                EventType.TRACKING_UPDATED,
                conflict="The tracking has no next milestone: pass a status "
                "(code NO_NEXT_MILESTONE).",
            ),
        ),
    ),
    "ticketing": SourceSpec(
        title="OrderGraph simulated ticketing",
        description="Support tickets linked to orders, with their comments.",
        endpoints=(
            Endpoint(
                "/tickets",
                "getTicketsByOrder",
                "Tickets by order id",
                "One entry per requested order id, in request order; tickets is empty when "
                "the order has none or is unknown. Each ticket carries its comments, oldest "
                "first, internal notes (public false) included.",
                TicketBatch,
                (id_list("orderIds", "order ids"),),
            ),
        ),
        changes=(
            ChangeEndpoint(
                "/tickets",
                "createTicket",
                "Open a ticket about an order",
                "A NEW ticket about orderId, opened with its first comment (public, written "
                "by author, else the order's customer); priority defaults to NORMAL, type to "
                "QUESTION, channel to WEB. Emits ticket.updated. Answers the ticket.",
                None,
                CreateTicketRequest,
                Ticket,
                created=True,
                not_found="The order is unknown (code ORDER_NOT_FOUND).",
            ),
            ChangeEndpoint(
                "/tickets/{id}/comments",
                "addTicketComment",
                "Comment on a ticket",
                "Appends a comment (an internal note for agents when public is false) and "
                "moves updatedAt forward; a SOLVED ticket is reopened (OPEN). Emits "
                "ticket.updated. Answers the comment and the ticket.",
                _path_param("id", "Ticket id."),
                AddCommentRequest,
                CommentAdded,
                conflict="The ticket is CLOSED, so read-only: a follow-up is a new ticket "
                "(code TICKET_CLOSED).",
                created=True,
            ),
        ),
        admin=(
            AdminEndpoint(
                "/admin/tickets/{id}",
                "updateTicket",
                "Update a ticket",
                "Sets status and/or priority and moves updatedAt forward. Answers the ticket.",
                _path_param("id", "Ticket id."),
                UpdateTicket,
                Ticket,
                EventType.TICKET_UPDATED,
            ),
        ),
    ),
}


def _json_content(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": REF.format(name=ref)}}}


def _parameter(param: Param) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": param.name,
        "in": param.location,
        "required": param.required,
        "description": param.description,
        "schema": param.schema,
    }
    if param.comma_list:
        out |= {"style": "form", "explode": False}
    return out


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    responses = {
        "200": {"description": "OK", "content": _json_content(endpoint.response.__name__)},
        "400": _error("Invalid parameters (code BAD_REQUEST or BATCH_TOO_LARGE)."),
    }
    if any(p.location == "path" for p in endpoint.params):
        responses["404"] = _error("Unknown record (code NOT_FOUND).")
    return {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "description": endpoint.description,
        "parameters": [_parameter(p) for p in endpoint.params],
        "responses": responses,
    }


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json_content(ErrorBody.__name__)}


def _change_responses(
    response: type[msgspec.Struct],
    conflict: str | None,
    *,
    created: bool = False,
    not_found: str = "Unknown record (code NOT_FOUND).",
) -> dict[str, Any]:
    success = {"description": "Changed.", "content": _json_content(response.__name__)}
    responses = {
        **({"201": success | {"description": "Created."}} if created else {"200": success}),
        "400": _error("Invalid body (code BAD_REQUEST)."),
        "404": _error(not_found),
    }
    if conflict:
        responses["409"] = _error(conflict)
    return responses


def _request_body(body: type[msgspec.Struct]) -> dict[str, Any]:
    required = any(f.required for f in msgspec.structs.fields(body))
    return {
        "required": required,
        "description": "JSON; unknown fields are refused."
        + ("" if required else " An empty body counts as {}."),
        "content": _json_content(body.__name__),
    }


# Every changing data endpoint honours an Idempotency-Key (sim.idempotency).
IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    "Makes the change at most once per key (Stripe's convention): a repeat with the same "
    "key and the same request (method, path, body) within 24 hours (by the source's "
    "clock) gets the first answer again, status and body, with Idempotent-Replayed: "
    "true, and changes nothing. Refusals (404, 409) are answers and replayed too; a 400 "
    "or 5xx is not kept, so the key stays free. At most 10,000 keys are kept, the oldest "
    "forgotten first. 1 to 255 printable characters.",
    {"type": "string", "minLength": 1, "maxLength": 255},
    location="header",
)
_REPLAYED = {
    "Idempotent-Replayed": {
        "description": "true when this is the kept answer of an earlier request with the "
        "same Idempotency-Key; absent otherwise.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def _change_operation(endpoint: ChangeEndpoint) -> dict[str, Any]:
    responses = _change_responses(
        endpoint.response,
        endpoint.conflict,
        created=endpoint.created,
        not_found=endpoint.not_found,
    )
    if endpoint.accepted:
        responses["202"] = {
            "description": endpoint.accepted,
            "content": _json_content(endpoint.response.__name__),
        }
    for answer in responses.values():
        answer["headers"] = _REPLAYED
    responses["400"] = _error(
        "Invalid body (code BAD_REQUEST) or Idempotency-Key (code INVALID_IDEMPOTENCY_KEY)."
    )
    conflict = responses.get("409", {}).get("description")
    in_progress = (
        "A request with the same Idempotency-Key is still being carried out "
        "(code IDEMPOTENCY_IN_PROGRESS)."
    )
    responses["409"] = _error(in_progress if conflict is None else f"{conflict} Or: {in_progress}")
    responses["422"] = _error(
        "The Idempotency-Key was used for another request (code IDEMPOTENCY_KEY_REUSED); "
        "nothing was changed."
    )
    parameters = [] if endpoint.key is None else [_parameter(endpoint.key)]
    return {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "description": f"{endpoint.description} Never retried by the gateway, which sends "
        "the caller's idempotency key (hashed, per tenant and mutation) as Idempotency-Key.",
        "parameters": [*parameters, _parameter(IDEMPOTENCY_KEY)],
        "requestBody": _request_body(endpoint.body),
        "responses": responses,
    }


def _admin_operation(endpoint: AdminEndpoint, source: str) -> dict[str, Any]:
    return {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "description": (
            f"{endpoint.description} Emits {endpoint.event.value} to "
            f"<webhook_url>/{source} when a webhook target is configured (see webhooks). "
            "Admin calls are neither counted in /__stats nor delayed."
        ),
        "tags": ["admin"],
        "parameters": [_parameter(endpoint.key)],
        "requestBody": _request_body(endpoint.body),
        "responses": _change_responses(endpoint.response, endpoint.conflict),
    }


_SIGNATURE_HEADERS = (
    ("webhook-id", "Delivery id, msg_<hex>: the same on every retry of one event."),
    ("webhook-timestamp", "Unix seconds of this attempt; receivers allow 5 minutes of skew."),
    (
        "webhook-signature",
        "v1,<base64 HMAC-SHA256 over id.timestamp.body> under the shared whsec_ secret "
        "(space-separated when several).",
    ),
)


def _webhook(source: str) -> dict[str, Any]:
    """The change-event delivery a source makes (an OpenAPI 3.1 ``webhooks`` entry)."""
    types = ", ".join(sorted(t.value for t in EVENTS_BY_SOURCE[source]))
    return {
        "post": {
            "operationId": "changeEvent",
            "summary": "Change event",
            "description": (
                f"After every change, POSTed to <webhook_url>/{source} when the source "
                "was started with a webhook URL and secret. Signed as a Standard Webhook. "
                f"Event types: {types}. Retried twice with backoff on connection errors, "
                "timeouts and 5xx; any other answer ends the delivery."
            ),
            "parameters": [
                _parameter(
                    Param(name, description, {"type": "string"}, required=True, location="header")
                )
                for name, description in _SIGNATURE_HEADERS
            ],
            "requestBody": {"required": True, "content": _json_content(ChangeEvent.__name__)},
            "responses": {
                "2XX": {"description": "Accepted."},
                "4XX": {"description": "Refused: not retried."},
                "5XX": {"description": "Failed: retried."},
            },
        }
    }


def _faults_path() -> dict[str, Any]:
    """``/__faults``: read, replace and clear the faults injected into data endpoints."""
    spec = {"content": _json_content(FaultSpec.__name__)}
    about = (
        "Faults apply to the data endpoints only (not /healthz, /openapi.json, /__stats, "
        "/__faults or /admin/...); faulted requests are still counted in /__stats. "
        "Injected errors answer an ErrorBody with code INJECTED_FAULT; hang keeps the "
        "connection open without an answer until the client gives up (or the source "
        "stops); reset aborts the TCP connection without a response; garbage answers 200 "
        "with a truncated JSON body; partialBatch drops every other found record of a "
        "batch without listing it in notFound."
    )
    return {
        "get": {
            "operationId": "getFaults",
            "summary": "Current injected faults",
            "description": "Fields at their default are omitted; {} means no faults.",
            "tags": ["faults"],
            "responses": {"200": {"description": "OK", **spec}},
        },
        "put": {
            "operationId": "setFaults",
            "summary": "Replace the injected faults",
            "description": f"Replaces the current faults; {{}} clears them. {about}",
            "tags": ["faults"],
            "requestBody": {
                "required": False,
                "description": "JSON; unknown fields are refused. An empty body counts as {}.",
                **spec,
            },
            "responses": {
                "200": {"description": "The faults now in force.", **spec},
                "400": _error("Invalid body (code BAD_REQUEST)."),
            },
        },
        "delete": {
            "operationId": "clearFaults",
            "summary": "Clear the injected faults",
            "tags": ["faults"],
            "responses": {"204": {"description": "Cleared."}},
        },
    }


def _stats_path() -> dict[str, Any]:
    """``/__stats``: the data requests counted since the last reset, and the reset."""
    return {
        "get": {
            "operationId": "getStats",
            "summary": "Data requests served",
            "description": "Counted before latency and faults apply, so faulted requests "
            "count too; a refused batch (400) counts as a request but adds no batch size.",
            "tags": ["stats"],
            "responses": {
                "200": {"description": "OK", "content": _json_content(StatsBody.__name__)}
            },
        },
        "delete": {
            "operationId": "resetStats",
            "summary": "Reset the counters",
            "tags": ["stats"],
            "responses": {"204": {"description": "Reset."}},
        },
    }


def _json_get(
    operation_id: str, summary: str, description: str, schema: dict[str, Any]
) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "responses": {
                "200": {
                    "description": description,
                    "content": {"application/json": {"schema": schema}},
                }
            },
        }
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
    """Component schemas of ``types``, with ``format: date-time`` on datetime fields.

    Descriptions come from the records' docstrings, which msgspec releases clean
    differently; they are cleaned here, one way, so the document does not depend on
    the installed msgspec."""
    _, components = msgspec.json.schema_components(types, ref_template=REF)
    for schema in components.values():
        if "description" in schema:
            schema["description"] = inspect.cleandoc(schema["description"])
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
    types = [e.response for e in spec.endpoints]
    types += [t for e in spec.changes for t in (e.body, e.response)]
    types += [t for e in spec.admin for t in (e.body, e.response)]
    components = _schemas([*dict.fromkeys(types), ErrorBody, ChangeEvent, FaultSpec, StatsBody])
    paths: dict[str, Any] = {e.path: {"get": _operation(e)} for e in spec.endpoints}
    for change in spec.changes:  # POST /tickets shares its path with GET /tickets
        paths.setdefault(change.path, {})["post"] = _change_operation(change)
    paths |= {e.path: {"post": _admin_operation(e, source)} for e in spec.admin}
    paths["/healthz"] = _json_get(
        "healthz",
        "Liveness",
        "The source is up.",
        {
            "type": "object",
            "properties": {"status": {"const": "ok"}, "source": {"const": source}},
            "required": ["status", "source"],
        },
    )
    paths["/openapi.json"] = _json_get(
        "getOpenApi",
        "This contract",
        "This OpenAPI 3.1 document.",
        {"type": "object", "required": ["openapi", "info", "paths"]},
    )
    paths["/__stats"] = _stats_path()
    paths["/__faults"] = _faults_path()
    return {
        "openapi": "3.1.0",
        "info": {"title": spec.title, "version": VERSION, "description": spec.description},
        "paths": paths,
        "webhooks": {"changeEvent": _webhook(source)},
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
