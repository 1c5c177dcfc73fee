"""The committed OpenAPI contracts equal the generated ones and match the servers."""

from __future__ import annotations

import json

from sources.records import MAX_BATCH
from sources.sim.cluster import SOURCES
from sources.sim.openapi import DOCUMENT_DIR, SPECS, build_document, render

# data endpoints that change records (POST); POST /tickets shares its path with a GET
CHANGE_PATHS = ("/orders/{id}/cancel", "/orders/{id}/shipping-address", "/tickets/{id}/comments")


def test_every_source_has_a_spec() -> None:
    assert tuple(SPECS) == SOURCES


def test_committed_documents_equal_generated() -> None:
    for source in SOURCES:
        path = DOCUMENT_DIR / f"{source}.json"
        assert path.read_text(encoding="utf-8") == render(source), (
            f"{path} is stale: run python -m sources.sim.openapi"
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
            if path in ("/healthz", "/__faults"):
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
        "/healthz",
        "/__faults",
        "/admin/orders/{id}/cancel",
        "/admin/orders/{id}/touch",
        "/admin/address-requests/{requestId}/decide",
    }
    assert "409" in oms["paths"]["/admin/orders/{id}/cancel"]["post"]["responses"]
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
