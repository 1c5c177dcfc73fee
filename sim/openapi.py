"""OpenAPI 3.1 contracts of the four simulated sources, built from the routes they serve.

Every path and operation comes from a route declaration (:mod:`sim.routes`), the one
the server is built from, so a source cannot serve a route its contract leaves out or
document one it does not serve. Component schemas come straight from
:mod:`sources.records`, the request bodies of :mod:`sim.changes` and
:class:`~sources.events.ChangeEvent` via msgspec, so the documents cannot drift from
the wire records either. Each document also describes, under ``webhooks``, the change
events its source sends. The servers serve these documents at ``/openapi.json``;
copies live in ``sim/openapi/<source>.json``, rewritten by ``python -m sim.openapi``.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect

from sim import carrier, inventory, oms, ticketing
from sim.idempotency import HEADER, KEEP, MAX_KEY_LENGTH, MAX_KEYS, REPLAYED
from sim.routes import REF, Admin, Answer, Change, Delivery, Param, Read, Route, Service, Source
from sim.shared import shared_routes
from sim.vendors.apis import VENDOR_APIS
from sources.events import EVENTS_BY_SOURCE, ChangeEvent
from sources.records import ErrorBody

DOCUMENT_DIR = Path(__file__).with_name("openapi")
VERSION = "1.0.0"

SPECS: dict[str, Source] = {
    source.name: source
    for source in (
        oms.SOURCE,
        inventory.SOURCE,
        carrier.SOURCE,
        ticketing.SOURCE,
        *(api.SOURCE for api in VENDOR_APIS.values()),
    )
}


def served_routes(source: str) -> tuple[Route, ...]:
    """Every route ``source`` serves: its own and the shared ones."""
    return (*SPECS[source].routes, *shared_routes(source))


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


def _read_operation(route: Read) -> dict[str, Any]:
    responses = {
        "200": {"description": "OK", "content": _json_content(route.response.__name__)},
        "400": _error("Invalid parameters (code BAD_REQUEST or BATCH_TOO_LARGE)."),
    }
    if any(p.location == "path" for p in route.params):
        responses["404"] = _error("Unknown record (code NOT_FOUND).")
    return {
        "operationId": route.operation_id,
        "summary": route.summary,
        "description": route.description,
        "parameters": [_parameter(p) for p in route.params],
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


HOUR = timedelta(hours=1)
# Every changing data endpoint honours an Idempotency-Key (sim.idempotency).
IDEMPOTENCY_KEY = Param(
    HEADER,
    "Makes the change at most once per key (Stripe's convention): a repeat with the same "
    f"key and the same request (method, path, body) within {KEEP // HOUR} hours (by the "
    f"source's clock) gets the first answer again, status and body, with {REPLAYED}: "
    "true, and changes nothing. Refusals (404, 409) are answers and replayed too; a 400 "
    f"or 5xx is not kept, so the key stays free. At most {MAX_KEYS:,} keys are kept, the "
    f"oldest forgotten first. 1 to {MAX_KEY_LENGTH} printable characters.",
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    location="header",
)
_REPLAYED = {
    REPLAYED: {
        "description": "true when this is the kept answer of an earlier request with the "
        f"same {HEADER}; absent otherwise.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def _change_operation(route: Change) -> dict[str, Any]:
    responses = _change_responses(
        route.response,
        route.conflict,
        created=route.created,
        not_found=route.not_found,
    )
    if route.accepted:
        responses["202"] = {
            "description": route.accepted,
            "content": _json_content(route.response.__name__),
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
    parameters = [] if route.key is None else [_parameter(route.key)]
    return {
        "operationId": route.operation_id,
        "summary": route.summary,
        "description": f"{route.description} Never retried by the gateway, which sends "
        "the caller's idempotency key (hashed, per tenant and mutation) as Idempotency-Key.",
        "parameters": [*parameters, _parameter(IDEMPOTENCY_KEY)],
        "requestBody": _request_body(route.body),
        "responses": responses,
    }


def _admin_operation(route: Admin, source: str) -> dict[str, Any]:
    return {
        "operationId": route.operation_id,
        "summary": route.summary,
        "description": (
            f"{route.description} Emits {route.event.value} to "
            f"<webhook_url>/{source} when a webhook target is configured (see webhooks). "
            "Admin calls are neither counted in /__stats nor delayed."
        ),
        "tags": ["admin"],
        "parameters": [_parameter(route.key)],
        "requestBody": _request_body(route.body),
        "responses": _change_responses(route.response, route.conflict),
    }


def _service_operation(route: Service) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": route.operation_id, "summary": route.summary}
    if route.description is not None:
        operation["description"] = route.description
    if route.tag is not None:
        operation["tags"] = [route.tag]
    if route.body is not None:
        operation["requestBody"] = _request_body(route.body)
    operation["responses"] = {answer.status: _answer(answer) for answer in route.answers}
    return operation


def _answer(answer: Answer) -> dict[str, Any]:
    out: dict[str, Any] = {"description": answer.description}
    if isinstance(answer.schema, dict):
        out["content"] = {"application/json": {"schema": answer.schema}}
    elif answer.schema is not None:
        out["content"] = _json_content(answer.schema.__name__)
    return out


def _operation(route: Route, source: str) -> dict[str, Any]:
    match route:
        case Read():
            return _read_operation(route)
        case Change():
            return _change_operation(route)
        case Admin():
            return _admin_operation(route, source)
        case Service():
            return _service_operation(route)


def _schema_types(route: Route) -> list[type[msgspec.Struct]]:
    """The structs ``route``'s operation refers to."""
    match route:
        case Read():
            return [route.response]
        case Change() | Admin():
            return [route.body, route.response]
        case Service():
            answers = [a.schema for a in route.answers if isinstance(a.schema, type)]
            return [*answers, *([route.body] if route.body else [])]


_SIGNATURE_HEADERS = (
    ("webhook-id", "Delivery id, msg_<hex>: the same on every retry of one event."),
    ("webhook-timestamp", "Unix seconds of this attempt; receivers allow 5 minutes of skew."),
    (
        "webhook-signature",
        "v1,<base64 HMAC-SHA256 over id.timestamp.body> under the shared whsec_ secret "
        "(space-separated when several).",
    ),
)


STANDARD_DELIVERY = Delivery(
    body=ChangeEvent, headers=_SIGNATURE_HEADERS, signed="Signed as a Standard Webhook."
)


def _webhook(spec: Source, delivery: Delivery) -> dict[str, Any]:
    """The change-event delivery a source makes (an OpenAPI 3.1 ``webhooks`` entry)."""
    source = "|".join(spec.data)
    types = ", ".join(sorted(t.value for s in spec.data for t in EVENTS_BY_SOURCE[s]))
    return {
        "post": {
            "operationId": "changeEvent",
            "summary": "Change event",
            "description": (
                f"After every change, POSTed to <webhook_url>/{source} when the source "
                f"was started with a webhook URL and secret. {delivery.signed} "
                f"Event types: {types}. Retried twice with backoff on connection errors, "
                "timeouts and 5xx; any other answer ends the delivery."
            ),
            "parameters": [
                _parameter(
                    Param(name, description, {"type": "string"}, required=True, location="header")
                )
                for name, description in delivery.headers
            ],
            "requestBody": {"required": True, "content": _json_content(delivery.body.__name__)},
            "responses": {
                "2XX": {"description": "Accepted."},
                "4XX": {"description": "Refused: not retried."},
                "5XX": {"description": "Failed: retried."},
            },
        }
    }


def _datetime_fields(types: list[type[msgspec.Struct]]) -> dict[type, list[str]]:
    """Wire names of the datetime fields of every struct reachable from ``types``."""
    found: dict[type, list[str]] = {}

    def is_datetime(t: msgspec.inspect.Type) -> bool:
        if isinstance(t, msgspec.inspect.UnionType):
            return any(is_datetime(member) for member in t.types)
        return isinstance(t, msgspec.inspect.DateTimeType)

    def walk(t: msgspec.inspect.Type) -> None:
        if isinstance(t, msgspec.inspect.StructType):
            if t.cls in found:
                return
            found[t.cls] = [f.encode_name for f in t.fields if is_datetime(f.type)]
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
        # msgspec names a component by its class, qualified where two share a name
        key = struct.__name__
        if key not in components:
            key = f"{struct.__module__}.{struct.__qualname__}"
        for name in names:
            prop = components[key]["properties"][name]
            for option in prop.get("anyOf", [prop]):
                if option.get("type") == "string":
                    option["format"] = "date-time"
    return components


def build_document(source: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``source`` (a name in :data:`SPECS`)."""
    spec = SPECS[source]
    routes = served_routes(source)
    types = [t for route in routes for t in _schema_types(route)]
    delivery = spec.delivers or STANDARD_DELIVERY
    components = _schemas(list(dict.fromkeys([*types, ErrorBody, delivery.body])))
    paths: dict[str, Any] = {}
    for route in routes:  # POST /tickets shares its path with GET /tickets
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, source)
    return {
        "openapi": "3.1.0",
        "info": {"title": spec.title, "version": VERSION, "description": spec.description},
        "paths": paths,
        "webhooks": {"changeEvent": _webhook(spec, delivery)},
        "components": {"schemas": components},
    }


@functools.cache
def encoded_document(source: str) -> bytes:
    """``source``'s document as compact JSON, built once a process (it depends only on
    the route declarations)."""
    return msgspec.json.encode(build_document(source))


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
