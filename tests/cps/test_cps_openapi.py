"""The CPS OpenAPI document: valid OpenAPI 3.1, and it describes every route that is served."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp import web
from cps_client import CpsClient
from jsonschema import Draft202012Validator
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


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], list[dict[str, Any]]]]:
    """(method, path, operation, parameters including the path's own)."""
    out = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                out.append(
                    (method, path, op, [*item.get("parameters", []), *op.get("parameters", [])])
                )
    return out


def test_every_operation_documents_its_errors() -> None:
    """What the HTTP layer can answer is in the document: 400 wherever there is a query parameter
    or a body, 404 under a terminal, 413 where a body is read, the one error body for each."""
    doc = openapi_document("/")
    for method, path, op, params in _operations(doc):
        responses = op["responses"]
        name = f"{method.upper()} {path}"
        if any(p["in"] == "query" for p in params) or "requestBody" in op:
            assert "400" in responses, name
        if "{serialNumber}" in path:
            assert "404" in responses, name
        if "requestBody" in op:
            assert "413" in responses, name
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (name, status)


class RecordingClient(CpsClient):
    """A CPS client that keeps every answer, to hold them against the document."""

    def __init__(self, cps: CpsClient, answers: list[tuple[str, str, int, Any]]) -> None:
        super().__init__(cps.http, cps.base_url, cps.key)
        self.answers = answers

    def with_key(self, key: str | None) -> CpsClient:
        return RecordingClient(CpsClient(self.http, self.base_url, key), self.answers)

    async def call(self, method: str, path: str, params: Any = None, **kw: Any) -> tuple[int, Any]:
        status, body = await super().call(method, path, params, **kw)
        self.answers.append((method, path.split("?")[0], status, body))
        return status, body


def _template(doc: dict[str, Any], method: str, path: str) -> str:
    for template in doc["paths"]:
        pattern = re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(template))
        if (
            re.fullmatch(pattern, "/" + path.strip("/"))
            and method.lower() in doc["paths"][template]
        ):
            return template
    raise AssertionError(f"{method} {path} is not in the document")


async def test_answers_match_the_document(
    cps: CpsClient,
    terminal: str,
    present: Callable[..., Any],
    admin_call: Callable[..., Any],
) -> None:
    """Every endpoint, its successes and its errors: each status is documented for its
    operation, and each body validates against the documented schema."""
    answers: list[tuple[str, str, int, Any]] = []
    c = RecordingClient(cps, answers)
    t = "terminals/CPS-1"
    await c.get("terminals")
    await c.get(t)
    await c.get("terminals/NOPE")
    await c.with_key("wrong").get("terminals")
    await c.with_key(None).get("apikey", {"token": "payter-emulator-cps-token"})
    await c.with_key(None).get("apikey", {"token": "wrong"})
    await c.post("webhook", {"url": "http://csms.test/state"})
    await c.post("webhook", {"url": "ftp://x"})
    await c.get("webhook")
    await c.delete("webhook")
    await c.post(f"{t}/authorize")  # no card: 409
    await c.post(f"{t}/start", {"authorizedAmount": 5000, "callbackUrl": "http://csms.test/c"})
    await c.post(f"{t}/start", {"authorizedAmount": "x"})
    await c.get(f"{t}/card")  # nothing yet: 204
    await c.post(f"{t}/ui", json={"id": "held", "type": "info", "properties": {"title": "Hi"}})
    await present("CPS-1", "visa-incremental")
    await c.get(f"{t}/card", {"waitTime": 1})
    _, session = await c.post(f"{t}/authorize", {"receiptLine": "Bay 1"})
    sid = session["sessionId"]
    await c.get(f"{t}/sessions")
    await c.get(f"{t}/sessions/{sid}")
    await c.get(f"{t}/sessions/nope")
    await c.post(f"{t}/sessions/{sid}/increment", {"amount": 1000})
    await c.post(f"{t}/sessions/{sid}/commit", {"commitAmount": 999999})
    await c.post(f"{t}/sessions/{sid}/commit", {"commitAmount": 1234})
    await c.post(f"{t}/sessions/{sid}/commit", {"commitAmount": 1234})  # 409
    await c.post(f"{t}/start", {"authorizedAmount": 5000})
    await present("CPS-1", "visa-insufficient-funds")
    await c.post(f"{t}/authorize")  # declined: 402
    await c.post(f"{t}/start", {"authorizedAmount": 5000})
    await present("CPS-1", "visa-approved")
    _, other = await c.post(f"{t}/authorize")
    await c.post(f"{t}/sessions/{other['sessionId']}/increment", {"amount": 1})  # 402
    await c.post(f"{t}/ui", json={"id": "x", "type": "nope"})
    await c.post(f"{t}/stop", {"uiMessage": "Bye"})
    await admin_call("POST", "terminals/CPS-1/offline", status=200)
    await c.post(f"{t}/start")  # 503
    await c.post(f"{t}/sessions/{other['sessionId']}/cancel")  # queued
    await c.post(f"{t}/sessions/{other['sessionId']}/cancel")  # 409

    doc = await _served_document(cps)
    seen = set()
    for method, path, status, body in answers:
        template = _template(doc, method, path)
        responses = doc["paths"][template][method.lower()]["responses"]
        assert str(status) in responses, (method, template, status, body)
        seen.add((method.lower(), template, status))
        content = responses[str(status)].get("content")
        if content is None:
            assert body is None, (method, template, status, body)
            continue
        schema = content["application/json"]["schema"]
        # The document's components beside the schema, so that "#/components/..." resolves.
        validator = Draft202012Validator({**schema, "components": doc["components"]})
        errors = [e.message for e in validator.iter_errors(body)]
        assert not errors, (method, template, status, errors)
    operations = {(m, p) for m, p, _, _ in _operations(doc)}
    assert {(m, p) for m, p, _ in seen} == operations  # every operation was called
    statuses = {s for _, _, s in seen}
    assert statuses >= {200, 204, 400, 401, 402, 404, 409, 503}


async def _served_document(cps: CpsClient) -> dict[str, Any]:
    status, doc = await cps.with_key(None).get("openapi.json")
    assert status == 200
    return doc
