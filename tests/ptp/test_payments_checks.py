"""Checks of the CPO's side of Payments (checklist 5.7: OCPI-51, -52, -54, -57), what
Payter needs of an assigned EVSE (PAYTER-03, PAYTER-07), real-time authorization requests
(OCPI-48), the Tokens Receiver (OCPI-50) and '#NA' ids (OCPI-12)."""

from __future__ import annotations

from typing import Any

import ocpi_objects as obj
from cpo_double import CpoDouble
from helpers import admin, findings, ocpi

from emulator.app import EmulatorNode

TOKEN_A = "payter-emulator-token-a"
ROUTING = {
    "OCPI-from-country-code": "NL",
    "OCPI-from-party-id": "CPO",
    "OCPI-to-country-code": "NL",
    "OCPI-to-party-id": "PAY",
}
ALL_MODULES = CpoDouble().modules


async def registered(node: EmulatorNode, **knobs: Any) -> tuple[CpoDouble, str]:
    double = await CpoDouble(**knobs).start()
    answer = await double.register_with(node.server.versions_url, TOKEN_A, "2.3.0")
    await node.rt.clock.advance(1)
    return double, answer["data"]["token"]


def messages(node: EmulatorNode, rule: str) -> list[str]:
    return [f["message"] for f in findings(node, rule)]


async def assign(
    node: EmulatorNode, http: Any, token: str, assignment: dict[str, Any]
) -> tuple[int, Any]:
    """The CPO assigns the default terminal (its Payments PATCH): (HTTP status, envelope)."""
    [terminal] = node.ptp.payments.terminals()
    url = node.server.endpoint_url("2.3.0", "payments") + f"/terminals/{terminal['terminal_id']}"
    body = {**assignment, "last_updated": "2025-03-01T09:00:05Z"}
    status, _, env = await ocpi(http, "PATCH", url, token, json=body, headers=ROUTING)
    return status, env


async def test_no_payments_receiver(emulator: EmulatorNode, doubles) -> None:
    double, _ = await registered(
        emulator, modules=tuple(m for m in ALL_MODULES if m[0] != "payments")
    )
    doubles.append(double)
    # The default terminal cannot be created on the CPO's side...
    assert any("no payments RECEIVER" in m for m in messages(emulator, "OCPI-51"))
    # ... nor a financial advice confirmation delivered.
    platform = emulator.platforms.registered()[0]
    fac = emulator.ptp.payments.create_fac(
        platform,
        authorization_reference="REF-1",
        total_costs=obj.price(4, 4.84),
        currency="EUR",
        eft_data=["VISA"],
        capture_status_code="SUCCESS",
    )
    assert await emulator.ptp.payments.deliver_fac(fac["id"]) is False
    assert any("no payments RECEIVER" in m for m in messages(emulator, "OCPI-57"))
    # Payter needs every module (a warning on its axis).
    [payter] = findings(emulator, "PAYTER-01")
    assert "lack payments (RECEIVER)" in payter["message"] and payter["axis"] == "payter"


async def test_terminal_and_fac_not_readable_after_post(emulator: EmulatorNode, doubles) -> None:
    double = await CpoDouble().start()
    doubles.append(double)
    original = double.payments

    def forgetful(request, sub, body):  # type: ignore[no-untyped-def]
        if request.method == "GET":  # accepts POSTs, never finds anything
            return double.envelope(code=2000, http=404, request=request)
        return original(request, sub, body)

    double.payments = forgetful  # type: ignore[method-assign]
    await double.register_with(emulator.server.versions_url, TOKEN_A, "2.3.0")
    await emulator.rt.clock.advance(1)
    assert any("after creating it answered HTTP 404" in m for m in messages(emulator, "OCPI-51"))
    platform = emulator.platforms.registered()[0]
    fac = emulator.ptp.payments.create_fac(
        platform,
        authorization_reference="REF-1",
        total_costs=obj.price(4, 4.84),
        currency="EUR",
        eft_data=["VISA"],
        capture_status_code="SUCCESS",
    )
    assert await emulator.ptp.payments.deliver_fac(fac["id"]) is True
    [after] = messages(emulator, "OCPI-57")
    assert f"GET {fac['id']} after POSTing it answered HTTP 404" in after


async def test_assignment_to_what_the_cpo_does_not_have(
    emulator: EmulatorNode, doubles, http
) -> None:
    loc = obj.location()
    # EVSE-2: no card payment, no remote start, a tariff of type REGULAR without alt text.
    loc["evses"][1]["capabilities"] = ["RFID_READER"]
    loc["evses"][1]["connectors"] = [obj.connector(tariff_ids=("REG-1",))]
    regular = obj.tariff("REG-1", type="REGULAR", tariff_alt_text=[])
    del regular["preauthorize_amount"], regular["max_price"]
    double, token = await registered(emulator, locations=[loc], tariffs=[obj.tariff(), regular])
    doubles.append(double)
    body = {
        "location_ids": ["LOC-1", "LOC-404"],
        "evse_uids": ["EVSE-1", "EVSE-2", "EVSE-404"],
    }
    status, env = await assign(emulator, http, token, body)
    # Stored (the CPO owns the assignment) and reported.
    assert status == 200 and env["status_code"] == 1000
    [unknown_location] = findings(emulator, "OCPI-52")
    assert unknown_location["pointer"] == "/location_ids/1"
    [unknown_evse] = findings(emulator, "PAYTER-07")
    assert unknown_evse["pointer"] == "/evse_uids/2" and unknown_evse["axis"] == "payter"
    card = messages(emulator, "OCPI-54b")
    assert any("EVSE-2" in m and "REMOTE_START_STOP_CAPABLE" in m for m in card)
    assert any("EVSE-2" in m and "card-payment capabilities" in m for m in card)
    assert any("REG-1 is of type REGULAR" in m for m in card)
    assert any("neither preauthorize_amount nor max_price" in m for m in card)
    assert any("REG-1 has no tariff_alt_text" in m for m in messages(emulator, "PAYTER-03"))
    # EVSE-1 is fine: nothing names it.
    assert not [f for f in findings(emulator) if "EVSE EVSE-1 " in f["message"]]


async def test_assigned_evse_without_a_tariff(emulator: EmulatorNode, doubles, http) -> None:
    loc = obj.location()
    loc["evses"][0]["connectors"] = [obj.connector(tariff_ids=())]
    double, token = await registered(emulator, locations=[loc], tariffs=[obj.tariff()])
    doubles.append(double)
    await assign(emulator, http, token, {"evse_uids": ["EVSE-1"]})
    [none] = findings(emulator, "OCPI-54")
    assert (
        none["severity"] == "error" and "EVSE-1 of location LOC-1 has no tariff" in none["message"]
    )


async def test_authorize_requests(emulator: EmulatorNode, doubles, http) -> None:
    double, token = await registered(emulator, locations=[obj.location()], tariffs=[obj.tariff()])
    doubles.append(double)
    await admin(
        http,
        emulator,
        "POST",
        "ocpi/commands/START_SESSION",
        json={"location_id": "LOC-1", "evse_uid": "EVSE-1", "connector_id": "1"},
    )
    uid = double.commands[-1]["body"]["token"]["uid"]
    base = emulator.server.endpoint_url("2.3.0", "tokens")
    # Without ?type= the token is an RFID: an AD_HOC_USER token is found, and reported.
    status, _, env = await ocpi(
        http, "POST", f"{base}/{uid}/authorize", token, json=[1, 2], headers=ROUTING
    )
    assert status == 200 and env["data"]["token"]["uid"] == uid
    assert any("without ?type=" in m for m in messages(emulator, "OCPI-48"))
    assert any("not LocationReferences" in m for m in messages(emulator, "OCPI-48"))
    assert findings(emulator, "OCPI-45")


async def test_tokens_receiver_missing(emulator: EmulatorNode, doubles, http) -> None:
    double, _ = await registered(emulator)
    doubles.append(double)
    # A Tokens Receiver listed in the version details, but nothing behind it.
    double.tokens_receiver = lambda request, module, body: double.envelope(  # type: ignore[method-assign]
        code=2000, http=404, request=request
    )
    status, check = await admin(http, emulator, "POST", "ocpi/tokens/check", json={})
    assert status == 200 and [s["ok"] for s in check["steps"]] == [False]
    assert check["steps"][0]["finding"] == "OCPI-50"
    [finding] = findings(emulator, "OCPI-50")
    assert "PUT the token" in finding["message"] and "HTTP 404" in finding["message"]


async def test_na_evse_uid_is_reported(emulator: EmulatorNode, doubles, http) -> None:
    double, token = await registered(emulator)
    doubles.append(double)
    loc = obj.location(evses=[obj.evse("#NA")])
    url = emulator.server.endpoint_url("2.3.0", "locations") + "/NL/CPO/LOC-1"
    status, _, env = await ocpi(http, "PUT", url, token, json=loc, headers=ROUTING)
    assert status == 201 and env["status_code"] == 1000
    [na] = findings(emulator, "OCPI-12")
    # "#NA" is allowed where data cannot be given; whether it could, we cannot tell: noted.
    assert na["severity"] == "info" and na["pointer"] == "/evses/0/uid"


async def test_assigned_evse_whose_tariff_was_refused(
    emulator: EmulatorNode, doubles, http
) -> None:
    """The CPO lists the EVSE's tariff, but without a required field: OCPI-30 is the one
    finding (not a second one saying the tariff is not published); the coverage says why the
    tariff checks of that EVSE could not run, and the driver still cannot start there."""
    broken = obj.tariff()
    del broken["tax_included"]  # 2.3.0: cardinality 1
    double, token = await registered(emulator, locations=[obj.location()], tariffs=[broken])
    doubles.append(double)
    await assign(emulator, http, token, {"evse_uids": ["EVSE-1"]})
    assert any(f["pointer"] == "/tax_included" for f in findings(emulator, "OCPI-30"))
    assert findings(emulator, "OCPI-54") == [] and findings(emulator, "OCPI-41") == []
    [part] = [p for p in emulator.rt.findings.report()["coverage"] if p["platform_id"]]
    [check] = [c for c in part["checks"] if c["rule"] == "OCPI-54"]
    assert check["status"] == "not_run" and check["reason"].startswith("not checked: OCPI-30")
