"""Commands (emulator = Sender), Tokens (real-time authorize) and Payments (emulator = PTP)."""

from __future__ import annotations

import pytest
from cpo_double import CpoDouble, b64
from helpers import admin, findings, ocpi

from emulator.app import EmulatorNode
from emulator.ocpi.registration import PROBE_TOKEN

TOKEN_A = "payter-emulator-token-a"
ROUTING = {
    "OCPI-from-country-code": "NL",
    "OCPI-from-party-id": "CPO",
    "OCPI-to-country-code": "NL",
    "OCPI-to-party-id": "PAY",
}


@pytest.fixture
async def setup(emulator: EmulatorNode):
    double = await CpoDouble().start()
    answer = await double.register_with(emulator.server.versions_url, TOKEN_A, "2.3.0")
    # Pushes to a platform that registered with us wait a moment on the clock.
    await emulator.rt.clock.advance(1)
    yield emulator, double, answer["data"]["token"]
    await double.stop()


async def start_session(http, node: EmulatorNode, **body):
    payload = {"location_id": "LOC-1", "evse_uid": "EVSE-1", "connector_id": "1", **body}
    return await admin(http, node, "POST", "ocpi/commands/START_SESSION", json=payload)


# --- commands -------------------------------------------------------------------------------


async def test_start_session_then_result(setup, http) -> None:
    node, cpo, token = setup
    status, record = await start_session(http, node, authorization_reference="REF-1")
    assert status == 201 and record["state"] == "WAITING"
    sent = cpo.commands[-1]
    assert sent["command"] == "START_SESSION"
    body = sent["body"]
    assert body["authorization_reference"] == "REF-1" and body["location_id"] == "LOC-1"
    # The token is Payter's own AD_HOC_USER token (DESIGN.md), whitelist NEVER.
    tok = body["token"]
    assert (tok["type"], tok["country_code"], tok["party_id"], tok["whitelist"]) == (
        "AD_HOC_USER",
        "NL",
        "PAY",
        "NEVER",
    )
    assert tok["contract_id"] == tok["uid"] and tok["issuer"] == "Payter"
    # A unique response_url, hosted by the emulator.
    assert body["response_url"].startswith(node.server.endpoint_url("2.3.0", "commands"))
    assert body["response_url"].endswith(record["id"])
    status, _, env = await ocpi(
        http, "POST", body["response_url"], token, json={"result": "ACCEPTED"}, headers=ROUTING
    )
    assert status == 200 and env["status_code"] == 1000
    stored = node.ptp.commands.get(record["id"])
    assert stored["state"] == "RESULT_ACCEPTED" and stored["result"] == {"result": "ACCEPTED"}
    # The same result again is a retry: answered, nothing to say.
    status, _, env = await ocpi(
        http, "POST", body["response_url"], token, json={"result": "ACCEPTED"}, headers=ROUTING
    )
    assert status == 200 and env["status_code"] == 1000 and findings(node) == []
    # A different second result is noted (an info); the first stands.
    await ocpi(
        http, "POST", body["response_url"], token, json={"result": "FAILED"}, headers=ROUTING
    )
    [second] = findings(node, "OCPI-43c")
    assert "second CommandResult" in second["message"] and second["severity"] == "info"
    assert node.ptp.commands.get(record["id"])["state"] == "RESULT_ACCEPTED"
    # A result to a URL we never gave out: 404 in OCPI terms, OCPI-43 (a SHOULD).
    status, _, env = await ocpi(
        http,
        "POST",
        body["response_url"][:-4] + "beef",
        token,
        json={"result": "ACCEPTED"},
        headers=ROUTING,
    )
    assert (
        status == 404
        and env["status_code"] == 2000
        and "unknown response_url" in env["status_message"]
    )
    [unknown] = findings(node, "OCPI-43")
    assert unknown["severity"] == "warning"


async def test_missing_result_times_out_on_the_clock(setup, http) -> None:
    node, cpo, _ = setup
    cpo.command_answer = {"result": "ACCEPTED", "timeout": 20}
    _, record = await start_session(http, node)
    await admin(http, node, "POST", "clock/advance", json={"seconds": 20})
    assert node.ptp.commands.get(record["id"])["state"] == "WAITING"
    await admin(http, node, "POST", "clock/advance", json={"seconds": 10})
    assert node.ptp.commands.get(record["id"])["state"] == "NO_RESULT"
    # The spec: the result "might never be send". Noted, not an error.
    [missing] = findings(node)
    assert missing["rule"] == "OCPI-43c" and missing["severity"] == "info"
    assert "no CommandResult" in missing["message"]


async def test_late_result_and_result_after_rejected(setup, http) -> None:
    node, cpo, token = setup
    cpo.command_answer = {"result": "ACCEPTED", "timeout": 10}
    _, late = await start_session(http, node)
    await admin(http, node, "POST", "clock/advance", json={"seconds": 60})
    await ocpi(
        http,
        "POST",
        cpo.commands[-1]["body"]["response_url"],
        token,
        json={"result": "ACCEPTED"},
        headers=ROUTING,
    )
    assert node.ptp.commands.get(late["id"])["state"] == "LATE_ACCEPTED"
    # One late result, one finding: the timeout's (an info); the late arrival adds nothing.
    assert [(f["rule"], f["severity"]) for f in findings(node)] == [("OCPI-43c", "info")]
    cpo.command_answer = {"result": "REJECTED", "timeout": 10}
    _, rejected = await start_session(http, node)
    assert rejected["state"] == "REJECTED"
    await ocpi(
        http,
        "POST",
        cpo.commands[-1]["body"]["response_url"],
        token,
        json={"result": "FAILED"},
        headers=ROUTING,
    )
    assert findings(node, "OCPI-43b")


async def test_invalid_command_response_and_unknown_location(setup, http) -> None:
    node, cpo, _ = setup
    cpo.command_answer = {"result": "MAYBE"}
    _, record = await start_session(http, node)
    assert findings(node, "OCPI-42")
    # An error status is no acceptance, whatever its (unspecified) data says.
    cpo.command_answer = {"result": "ACCEPTED", "timeout": 30}
    cpo.command_status = 2003
    _, record = await start_session(http, node)
    assert record["response_status"] == 2003 and record["state"] == "ERROR"
    assert node.ptp.commands._timers.get(record["id"]) is None


async def test_stop_session_and_unreachable_cpo(setup, http) -> None:
    node, cpo, _ = setup
    status, record = await admin(
        http, node, "POST", "ocpi/commands/STOP_SESSION", json={"session_id": "S1"}
    )
    assert status == 201 and cpo.commands[-1]["body"]["session_id"] == "S1"
    await cpo.stop()
    status, record = await start_session(http, node)
    assert record["state"] == "UNREACHABLE" and "failed" in record["response"]["error"]


# --- tokens ---------------------------------------------------------------------------------


async def test_authorize_of_command_token_is_a_finding(setup, http) -> None:
    node, cpo, token = setup
    await start_session(http, node, authorization_reference="REF-9")
    uid = cpo.commands[-1]["body"]["token"]["uid"]
    url = node.server.endpoint_url("2.3.0", "tokens") + f"/{uid}/authorize?type=AD_HOC_USER"
    status, _, env = await ocpi(
        http, "POST", url, token, json={"location_id": "LOC-1"}, headers=ROUTING
    )
    assert status == 200 and env["data"]["allowed"] == "ALLOWED"
    assert env["data"]["authorization_reference"] == "REF-9"
    assert findings(node, "OCPI-45")
    status, _, env = await ocpi(
        http,
        "POST",
        node.server.endpoint_url("2.3.0", "tokens") + "/NOPE/authorize",
        token,
        headers=ROUTING,
    )
    assert status == 404 and env["status_code"] == 2004 and "data" not in env
    status, headers, env = await ocpi(
        http, "GET", node.server.endpoint_url("2.3.0", "tokens"), token, headers=ROUTING
    )
    assert [t["uid"] for t in env["data"]] == [uid] and headers["X-Total-Count"] == "1"


# --- payments -------------------------------------------------------------------------------


async def test_default_terminal_is_pushed_on_registration(setup, http) -> None:
    node, cpo, _ = setup
    # The push came after the handshake was answered (registration_followup_delay).
    probe = f"Token {b64(PROBE_TOKEN)}"
    assert [s.method for s in cpo.seen if s.headers["Authorization"] != probe][:3] == [
        "GET",
        "GET",
        "POST",
    ]
    [terminal] = node.ptp.payments.terminals()
    assert terminal["serial_number"] == "APO-0001" and terminal["push_state"] == "PUSHED"
    assert terminal["terminal_id"] in cpo.terminals
    assert cpo.terminals[terminal["terminal_id"]]["reference"] == "APO-0001"
    assert not [f for f in findings(node) if f["severity"] == "error"], findings(node)


async def test_admin_terminals(setup, http) -> None:
    node, cpo, _ = setup
    status, body = await admin(
        http,
        node,
        "POST",
        "terminals",
        json={"serial_number": "APO-0002", "model": "Apollo Max", "customer_reference": "CUST-1"},
    )
    assert status == 201 and body["model"] == "Apollo Max" and body["terminal_id"]
    assert body["push_state"] == "PUSHED"
    # Payter's customer_reference PATCH reached the CPO.
    assert cpo.terminals[body["terminal_id"]]["customer_reference"] == "CUST-1"
    status, listed = await admin(http, node, "GET", "terminals")
    assert [t["serial_number"] for t in listed] == ["APO-0001", "APO-0002"]
    for bad, code in (
        ({"serial_number": "APO-0002"}, 409),
        ({"serial_number": "X", "model": "P68", "mode": "ocpi"}, 400),  # P6X: no OCPI
        ({"serial_number": "X", "model": "P70"}, 400),
        ({}, 400),
    ):
        status, err = await admin(http, node, "POST", "terminals", json=bad)
        assert status == code and "error" in err


async def test_refused_customer_reference_patch_is_a_payter_finding(emulator, http) -> None:
    double = await CpoDouble(refuse_customer_reference_patch=True).start()
    try:
        await double.register_with(emulator.server.versions_url, TOKEN_A, "2.3.0")
        await admin(
            http,
            emulator,
            "POST",
            "terminals",
            json={"serial_number": "APO-0009", "customer_reference": "C9"},
        )
        assert findings(emulator, "PAYTER-04")
    finally:
        await double.stop()


async def test_cpo_assigns_and_reads_terminals(setup, http) -> None:
    node, cpo, token = setup
    [terminal] = node.ptp.payments.terminals()
    tid = terminal["terminal_id"]
    base = node.server.endpoint_url("2.3.0", "payments") + "/terminals"
    status, headers, env = await ocpi(http, "GET", base, token, headers=ROUTING)
    assert status == 200 and [t["terminal_id"] for t in env["data"]] == [tid]
    assert headers["X-Total-Count"] == "1"
    status, _, env = await ocpi(
        http, "PATCH", f"{base}/{tid}", token, json={"evse_uids": ["EVSE-1"]}, headers=ROUTING
    )
    assert status == 200 and env["status_code"] == 1000
    assert findings(node, "OCPI-52b")  # no last_updated: a warning
    status, _, env = await ocpi(http, "GET", f"{base}/{tid}", token, headers=ROUTING)
    assert env["data"]["evse_uids"] == ["EVSE-1"]
    status, _, env = await ocpi(
        http,
        "PUT",
        f"{base}/{tid}",
        token,
        json={"terminal_id": "other", "last_updated": "2025-03-01T10:00:00Z"},
        headers=ROUTING,
    )
    assert env["status_code"] == 2001 and findings(node, "OCPI-29")
    status, _, env = await ocpi(
        http,
        "PUT",
        f"{base}/{tid}",
        token,
        json={
            "invoice_base_url": "https://cpo.example/inv/",
            "invoice_creator": "CPO",
            "last_updated": "2025-03-01T10:00:00Z",
        },
        headers=ROUTING,
    )
    assert env["status_code"] == 1000
    stored = node.ptp.payments.terminal(tid)["object"]
    assert stored["invoice_creator"] == "CPO" and stored["last_updated"] == "2025-03-01T10:00:00Z"
    # PUT replaces what the CPO may write: the EVSE assignment is gone.
    assert "evse_uids" not in stored
    status, _, env = await ocpi(http, "GET", f"{base}/nope", token, headers=ROUTING)
    assert status == 404


async def test_activate_and_deactivate(setup, http) -> None:
    node, cpo, token = setup
    base = node.server.endpoint_url("2.3.0", "payments") + "/terminals"
    status, _, env = await ocpi(
        http,
        "POST",
        f"{base}/activate",
        token,
        json={"reference": "OEM-SERIAL-7", "last_updated": "2025-03-01T10:00:00Z"},
        headers=ROUTING,
    )
    assert status == 200 and env["status_code"] == 1000, env
    row = node.ptp.payments.by_serial("OEM-SERIAL-7")
    assert row is not None and row["terminal_id"] in cpo.terminals
    status, _, env = await ocpi(
        http, "POST", f"{base}/activate", token, json={"terminal_id": "mine"}, headers=ROUTING
    )
    assert env["status_code"] == 2001 and findings(node, "OCPI-53")
    status, _, env = await ocpi(
        http, "POST", f"{base}/{row['terminal_id']}/deactivate", token, headers=ROUTING
    )
    assert env["status_code"] == 1000
    assert node.ptp.payments.terminal(row["terminal_id"])["active"] == 0
    status, _, _ = await ocpi(http, "POST", f"{base}/unknown/deactivate", token, headers=ROUTING)
    assert status == 404


async def test_fac_delivery_retries_until_the_cpo_answers(setup, http) -> None:
    node, cpo, token = setup
    platform = node.platforms.registered()[0]
    fac = node.ptp.payments.create_fac(
        platform,
        authorization_reference="REF-1",
        total_costs={"before_taxes": 10, "taxes": [{"name": "VAT", "amount": 2.1}]},
        currency="EUR",
        eft_data=["VISA", "AID: A0000000031010"],
        capture_status_code="SUCCESS",
    )
    port = cpo.base_url
    await cpo.stop()
    assert await node.ptp.payments.deliver_fac(fac["id"]) is False
    row = node.ptp.payments.fac(fac["id"])
    assert row["attempts"] == 1 and row["next_attempt_at"] == "2025-03-01T09:01:01Z"
    await cpo.start_on(port)
    await admin(http, node, "POST", "clock/advance", json={"seconds": 60})
    row = node.ptp.payments.fac(fac["id"])
    assert row["delivered"] == 1 and row["attempts"] == 2
    assert cpo.facs[fac["id"]]["authorization_reference"] == "REF-1"
    base = node.server.endpoint_url("2.3.0", "payments") + "/financial-advice-confirmations"
    status, _, env = await ocpi(http, "GET", f"{base}/{fac['id']}", token, headers=ROUTING)
    assert env["data"]["capture_status_code"] == "SUCCESS"


async def test_fac_retry_ladder_is_a_setting(start_emulator, http) -> None:
    node = await start_emulator(fac_retries="30x2")
    double = await CpoDouble().start()
    try:
        await double.register_with(node.server.versions_url, TOKEN_A, "2.3.0")
        await node.rt.clock.advance(1)
        platform = node.platforms.registered()[0]
        fac = node.ptp.payments.create_fac(
            platform,
            authorization_reference="REF-2",
            total_costs={"before_taxes": 1},
            currency="EUR",
            eft_data=["VISA"],
            capture_status_code="SUCCESS",
        )
        await double.stop()
        assert await node.ptp.payments.deliver_fac(fac["id"]) is False
        await node.rt.clock.advance(30)  # second attempt, 30 s later
        await node.rt.clock.advance(30)  # third and last
        row = node.ptp.payments.fac(fac["id"])
        assert row["attempts"] == 3 and row["delivered"] == 0
        assert any("after 3 attempts" in f["message"] for f in findings(node, "OCPI-57"))
        await node.rt.clock.advance(3600)
        assert node.ptp.payments.fac(fac["id"])["attempts"] == 3
    finally:
        await double.stop()
