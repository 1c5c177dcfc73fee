"""The committed OpenAPI contracts equal the generated ones and match the servers."""

from __future__ import annotations

import json

from sources.records import MAX_BATCH
from sources.sim.cluster import SOURCES
from sources.sim.openapi import DOCUMENT_DIR, SPECS, build_document, render

CHANGE_PATHS = ("/orders/{id}/cancel", "/orders/{id}/shipping-address")  # data endpoints, POST


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
            ((method, op),) = item.items()
            posted = path.startswith("/admin/") or path in CHANGE_PATHS
            assert method == ("post" if posted else "get")
            assert {"200", "400"} <= set(op["responses"])
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
        *CHANGE_PATHS,
        "/healthz",
        "/__faults",
        "/admin/orders/{id}/cancel",
        "/admin/orders/{id}/touch",
        "/admin/address-requests/{requestId}/decide",
    }
    assert "409" in oms["paths"]["/admin/orders/{id}/cancel"]["post"]["responses"]
    placed = oms["components"]["schemas"]["Order"]["properties"]["placedAt"]
    assert placed == {"type": "string", "format": "date-time"}
