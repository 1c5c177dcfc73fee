"""The committed OpenAPI contracts equal the generated ones and match the servers."""

from __future__ import annotations

import json

from sim.app import create_source_app
from sim.cluster import SOURCES, VENDORS
from sim.openapi import DOCUMENT_DIR, SPECS, build_document, render
from sources.records import MAX_BATCH
from tests.support.gateways import MakeDataset

# data endpoints that change records (POST); POST /tickets shares its path with a GET
CHANGE_PATHS = ("/orders/{id}/cancel", "/orders/{id}/shipping-address", "/tickets/{id}/comments")
# what every source serves besides its data and admin routes
SHARED_PATHS = ("/healthz", "/openapi.json", "/__stats", "/__faults")


def test_every_source_has_a_spec() -> None:
    assert tuple(SPECS) == (*SOURCES, *VENDORS)


def test_committed_documents_equal_generated() -> None:
    for source in SPECS:  # the vendor APIs' too
        path = DOCUMENT_DIR / f"{source}.json"
        assert path.read_text(encoding="utf-8") == render(source), (
            f"{path} is stale: run python -m sim.openapi"
        )
        assert render(source).endswith("}\n")


def test_documents_are_openapi_31_with_record_schemas() -> None:
    for source in SOURCES:
        doc = build_document(source)
        assert doc["openapi"] == "3.1.0"
        schemas = doc["components"]["schemas"]
        assert "ErrorBody" in schemas
        refs = set()
        faults = doc["paths"]["/__faults"]
        assert set(faults) == {"get", "put", "delete"}
        assert "400" in faults["put"]["responses"] and "204" in faults["delete"]["responses"]
        assert faults["put"]["requestBody"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/FaultSpec"
        }
        for path, item in doc["paths"].items():
            if path in SHARED_PATHS:
                continue
            posted = path.startswith("/admin/") or path in CHANGE_PATHS
            methods = {"get", "post"} if path == "/tickets" else {"post" if posted else "get"}
            assert set(item) == methods
            for op in item.values():
                assert "400" in op["responses"]
                assert {"200", "201"} & set(op["responses"])
                for response in op["responses"].values():
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    refs.add(ref.rsplit("/", 1)[1])
                lists = [p for p in op["parameters"] if p["schema"].get("maxItems") == MAX_BATCH]
                for param in lists:
                    assert param["required"] and str(MAX_BATCH) in param["description"]
        assert refs <= set(schemas)
        webhook = doc["webhooks"]["changeEvent"]["post"]
        assert {p["name"] for p in webhook["parameters"] if p["in"] == "header"} == {
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
        }
        body = webhook["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert body.endswith("/ChangeEvent") and "ChangeEvent" in schemas
        text = json.dumps(doc)
        dangling = {part.split('"')[0] for part in text.split('"#/components/schemas/')[1:]} - set(
            schemas
        )
        assert dangling == set()
    oms = build_document("oms")
    assert set(oms["paths"]) == {
        "/orders",
        "/orders/by-number",
        "/orders/search",
        "/orders/{id}/address-requests",
        *CHANGE_PATHS[:2],
        *SHARED_PATHS,
        "/admin/orders/{id}/cancel",
        "/admin/orders/{id}/ship",
        "/admin/orders/{id}/touch",
        "/admin/address-requests/{requestId}/decide",
    }
    for refusable in ("/admin/orders/{id}/cancel", "/admin/orders/{id}/ship"):
        assert "409" in oms["paths"][refusable]["post"]["responses"]
    placed = oms["components"]["schemas"]["Order"]["properties"]["placedAt"]
    assert placed == {"type": "string", "format": "date-time"}


def test_ticketing_documents_its_changes() -> None:
    doc = build_document("ticketing")
    create = doc["paths"]["/tickets"]["post"]
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Ticket"
    }
    assert "ORDER_NOT_FOUND" in create["responses"]["404"]["description"]
    comment = doc["paths"]["/tickets/{id}/comments"]["post"]
    assert "TICKET_CLOSED" in comment["responses"]["409"]["description"]
    schemas = doc["components"]["schemas"]
    assert schemas["CreateTicketRequest"]["required"] == ["orderId", "subject", "body"]
    assert "comments" in schemas["Ticket"]["properties"]


def documented(source: str) -> set[tuple[str, str]]:
    """(method, path template) of every operation in ``source``'s document."""
    paths = build_document(source)["paths"]
    return {(method.upper(), path) for path, item in paths.items() for method in item}


def test_every_route_a_source_serves_is_in_its_document(make_dataset: MakeDataset) -> None:
    dataset = make_dataset(seed=3, orders=5, customers=5)
    for source in SOURCES:
        app = create_source_app(source, dataset)
        served = {
            (route.method, route.resource.canonical)
            for route in app.router.routes()
            if route.resource is not None and route.method != "HEAD"  # aiohttp adds HEAD
        }
        assert served == documented(source), source


def test_stats_and_contract_routes_are_documented() -> None:
    for source in SOURCES:
        paths = build_document(source)["paths"]
        assert set(paths["/__stats"]) == {"get", "delete"}
        body = paths["/__stats"]["get"]["responses"]["200"]["content"]["application/json"]
        assert body["schema"] == {"$ref": "#/components/schemas/StatsBody"}
        assert "204" in paths["/__stats"]["delete"]["responses"]
        assert "200" in paths["/openapi.json"]["get"]["responses"]
        schema = build_document(source)["components"]["schemas"]["StatsBody"]
        assert schema["required"] == ["requests", "paths", "batchSizes"]
