"""What every Receiver endpoint answers to bad input: HTTP 200 + OCPI 2001 and a finding
naming the field for an invalid object, acceptance for unknown fields and OpenEnum values,
a warning for suspicious content, nothing stored after a refusal, never an HTTP 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import ocpi_objects as obj
import pytest
from cpo_double import CpoDouble
from helpers import findings

from emulator.app import EmulatorNode

TOKEN_A = "payter-emulator-token-a"
PLATFORM = 1  # the one platform each test registers
ROUTING = {
    "OCPI-from-country-code": "NL",
    "OCPI-from-party-id": "CPO",
    "OCPI-to-country-code": "NL",
    "OCPI-to-party-id": "PAY",
    "X-Request-ID": "r",
    "X-Correlation-ID": "c",
    "Content-Type": "application/json",
}

MALFORMED: list[Any] = [
    None,
    [],
    [1, 2],
    "text",
    42,
    True,
    {},
    {"id": None},
    {"id": 5},
    {"id": ["x"]},
    {"id": "A" * 5000},
    {"last_updated": "yesterday"},
    {"last_updated": 12},
    {"country_code": {"a": 1}},
    {"evses": "x"},
    {"evses": [None]},
    {"evses": [{"connectors": 7}]},
    {"charging_periods": "x"},
    {"charging_periods": [None]},
    {"charging_periods": [{"dimensions": 3}]},
    {"total_cost": "1"},
    {"total_cost": {"excl_vat": "x"}},
    {"location_ids": "abc"},
    {"evse_uids": [1, {}]},
    {"reference": {"x": 1}},
    {"result": 5},
    {"result": "NOPE"},
    {"last_updated": "2025-03-01T09:00:00Z", "status": None},
    {"last_updated": "2025-03-01T09:00:00Z", "kwh": "x"},
    {"last_updated": "2025-03-01T09:00:00Z", "evses": [{"uid": "E"}]},
    {"last_updated": "2025-03-01T09:00:00Z", "connectors": [{}]},
    {"last_updated": "2025-03-01T09:00:00Z", "cdr_token": "x"},
    {"last_updated": "2025-03-01T09:00:00Z", "\u0000": 1},
]


class Cpo:
    def __init__(self, node: EmulatorNode, token: str, version: str) -> None:
        self.node, self.token, self.version = node, token, version

    def url(self, path: str) -> str:
        module, _, rest = path.partition("/")
        base = self.node.server.endpoint_url(self.version, module)
        return f"{base}/{rest}" if rest else base

    async def send(self, http, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        auth = base64.b64encode(self.token.encode()).decode()
        async with http.request(
            method,
            self.url(path),
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Token {auth}", **ROUTING},
        ) as resp:
            return resp.status, await resp.json(content_type=None)


@pytest.fixture(params=["2.3.0", "2.2.1"])
async def cpo(request, emulator: EmulatorNode):
    double = await CpoDouble().start()
    answer = await double.register_with(emulator.server.versions_url, TOKEN_A, request.param)
    cpo = Cpo(emulator, answer["data"]["token"], request.param)
    yield cpo
    await double.stop()


def stored(node: EmulatorNode) -> dict[str, Any]:
    """Everything the Receivers keep, to compare before and after a refused message."""
    ptp = node.ptp
    return {
        "locations": [r["object"] for r in ptp.mirror.locations.rows()],
        "tariffs": [r["object"] for r in ptp.mirror.tariffs.rows()],
        "sessions": [r["object"] for r in ptp.sessions.rows()],
        "cdrs": [r["object"] for r in ptp.cdrs.rows()],
        "terminals": [r["object"] for r in ptp.payments.terminals()],
    }


async def test_malformed_bodies_everywhere(cpo: Cpo, http) -> None:
    node = cpo.node
    version = cpo.version
    status, _ = await cpo.send(http, "PUT", "locations/NL/CPO/LOC-1", obj.location())
    assert status == 201
    status, _ = await cpo.send(http, "PUT", "sessions/NL/CPO/S1", obj.session(version=version))
    assert status == 201
    targets = [
        ("PUT", "locations/NL/CPO/LOC-1"),
        ("PUT", "locations/NL/CPO/LOC-1/EVSE-1"),
        ("PUT", "locations/NL/CPO/LOC-1/EVSE-1/1"),
        ("PATCH", "locations/NL/CPO/LOC-1"),
        ("PATCH", "locations/NL/CPO/LOC-1/EVSE-1"),
        ("PATCH", "locations/NL/CPO/LOC-1/EVSE-1/1"),
        ("PATCH", "locations/NL/CPO/LOC-404"),
        ("PUT", "tariffs/NL/CPO/T1"),
        ("PUT", "sessions/NL/CPO/S1"),
        ("PATCH", "sessions/NL/CPO/S1"),
        ("POST", "cdrs"),
        ("POST", "commands/START_SESSION/unknown"),
        ("POST", "tokens/NOPE/authorize"),
    ]
    if version == "2.3.0":
        tid = node.ptp.payments.terminals()[0]["terminal_id"]
        targets += [
            ("PUT", f"payments/terminals/{tid}"),
            ("PATCH", f"payments/terminals/{tid}"),
            ("POST", "payments/terminals/activate"),
        ]
    for method, path in targets:
        for body in MALFORMED:
            before = stored(node)
            seen = node.rt.store.count("findings")
            status, env = await cpo.send(http, method, path, body)
            what = f"{method} {path} {json.dumps(body)[:60]}"
            assert status != 500 and "status_code" in env and "timestamp" in env, what
            if env["status_code"] == 2001:
                assert status == 200, what
                # Refused: nothing changed, and a finding says why.
                assert stored(node) == before, what
                assert node.rt.store.count("findings") > seen, what


async def test_what_is_refused_and_what_is_accepted(cpo: Cpo, http) -> None:
    node = cpo.node
    url = "locations/NL/CPO/LOC-1"
    cases = [
        ("address", None, "/address", "OCPI-30"),  # missing required field
        ("coordinates", "51.9,4.4", "/coordinates", "OCPI-10"),  # wrong type
        ("city", "x" * 46, "/city", "OCPI-10"),  # over-long value
    ]
    for field, value, pointer, rule in cases:
        loc = obj.location()
        if value is None:
            del loc[field]
        else:
            loc[field] = value
        status, env = await cpo.send(http, "PUT", url, loc)
        assert (status, env["status_code"]) == (200, 2001), field
        assert any(f["pointer"] == pointer and f["rule"] == rule for f in findings(node)), field
    # A closed enum (EVSE Status) outside its values.
    loc = obj.location()
    loc["evses"][0]["status"] = "BROKEN"
    status, env = await cpo.send(http, "PUT", url, loc)
    assert env["status_code"] == 2001
    assert any(f["pointer"] == "/evses/0/status" for f in findings(node, "OCPI-11"))
    assert node.ptp.mirror.locations.rows() == []
    # Unknown fields and OpenEnum values (Facility) are accepted.
    loc = obj.location(facilities=["SPACEPORT"], vendor_extension={"a": 1})
    status, env = await cpo.send(http, "PUT", url, loc)
    assert (status, env["status_code"]) == (201, 1000)
    kept = node.ptp.mirror.locations.object(PLATFORM, "NL", "CPO", "LOC-1")
    assert kept["vendor_extension"] == {"a": 1} and kept["facilities"] == ["SPACEPORT"]
    if cpo.version == "2.3.0":
        [open_enum] = findings(node, "OCPI-11b")
        assert open_enum["severity"] == "info" and "SPACEPORT" in open_enum["message"]
    # Suspicious but valid: a CDR whose ENERGY volumes look like Wh is stored, with a warning.
    cdr = obj.cdr(version=cpo.version, session_id=None)
    cdr["charging_periods"][0]["dimensions"][0]["volume"] = 10000
    status, env = await cpo.send(http, "POST", "cdrs", cdr)
    assert (status, env["status_code"]) == (201, 1000)
    wh = [f for f in findings(node, "OCPI-38") if "looks like Wh" in f["message"]]
    assert wh and all(f["severity"] == "warning" for f in wh)
    assert node.ptp.cdrs.get(PLATFORM, "NL", "CPO", "CDR1") is not None
