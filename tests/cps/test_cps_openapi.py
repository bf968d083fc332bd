"""The CPS OpenAPI document: valid OpenAPI 3.1, and it describes every route that is served."""

from __future__ import annotations

import re

from aiohttp import web
from cps_client import CpsClient
from openapi_spec_validator import validate

from emulator.app import EmulatorNode
from emulator.cps.openapi import openapi_document
from emulator.cps.routes import build_cps_app


def test_document_is_valid_openapi() -> None:
    validate(openapi_document("http://127.0.0.1:8080/cps"))


def test_every_route_is_documented(node: EmulatorNode) -> None:
    doc = openapi_document("/")
    app: web.Application = build_cps_app(node.cps)
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    documented = {
        (method, path)
        for path, item in doc["paths"].items()
        for method in item
        if method != "parameters"
    }
    public = {("get", "/"), ("get", "/openapi.json")}  # the index and the document itself
    assert served - public == documented


def test_references_resolve_and_operations_are_unique() -> None:
    doc = openapi_document("/")
    text = str(doc)
    for name in set(re.findall(r"#/components/schemas/(\w+)", text)):
        assert name in doc["components"]["schemas"], name
    ids = [
        op["operationId"]
        for item in doc["paths"].values()
        for key, op in item.items()
        if key != "parameters"
    ]
    assert len(ids) == len(set(ids))
    for item in doc["paths"].values():
        for key, op in item.items():
            if key == "parameters" or op.get("security") == []:
                continue
            assert "401" in op["responses"], op["operationId"]


async def test_served_without_a_key(cps: CpsClient, node: EmulatorNode) -> None:
    status, doc = await cps.with_key(None).get("openapi.json")
    assert status == 200
    assert doc["servers"] == [{"url": f"{node.rt.base_url}/cps", "description": "This emulator"}]
    assert doc["info"]["title"].startswith("Payter Cloud Payments Service")
    assert "/terminals/{serialNumber}/sessions/{sessionId}/commit" in doc["paths"]
    error = doc["components"]["schemas"]["ErrorDetail"]
    assert set(error["required"]) == {"code", "message", "status"}
