"""What follows the commands the emulator sends, checked against what the CPO does:
START_SESSION_CONNECTOR_REQUIRED (OCPI-44), reservations (OCPI-47), a Session and a CDR
after an accepted start (OCPI-46, OCPI-55), the pre-authorized limit (OCPI-58), the token's
whitelist and validity (OCPI-49), and the Session/CDR echoes (OCPI-36, OCPI-39, OCPI-38).

Each at the severity of its spec keyword: what the spec allows (no Session after an accepted
start, a CPO that accepts a START_SESSION without the connector_id its EVSE asks the sender
for) is an info, never an error."""

from __future__ import annotations

from typing import Any

import ocpi_objects as obj
import pytest
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


class Cpo:
    def __init__(self, node: EmulatorNode, double: CpoDouble, token: str) -> None:
        self.node, self.double, self.token = node, double, token

    async def push(self, http, method: str, module: str, path: str = "", body: Any = None):
        url = self.node.server.endpoint_url("2.3.0", module) + (f"/{path}" if path else "")
        status, _, env = await ocpi(http, method, url, self.token, json=body, headers=ROUTING)
        assert status in (200, 201) and env["status_code"] == 1000, env
        return env

    async def result(self, http, result: str, command: int = -1) -> None:
        url = self.double.commands[command]["body"]["response_url"]
        await self.push_url(http, url, {"result": result})

    async def push_url(self, http, url: str, body: Any) -> None:
        status, _, env = await ocpi(http, "POST", url, self.token, json=body, headers=ROUTING)
        assert status == 200 and env["status_code"] == 1000, env

    async def advance(self, seconds: float) -> None:
        await self.node.rt.clock.advance(seconds)


@pytest.fixture
async def cpo(start_emulator) -> Any:
    node = await start_emulator(session_start_timeout=300, cdr_timeout=3600)
    double = await CpoDouble().start()
    loc = obj.location()
    loc["evses"][1]["capabilities"].append("START_SESSION_CONNECTOR_REQUIRED")
    double.locations = [loc]
    double.tariffs = [obj.tariff()]
    answer = await double.register_with(node.server.versions_url, TOKEN_A, "2.3.0")
    await node.rt.clock.advance(1)  # the first crawl: Locations and Tariffs are mirrored
    yield Cpo(node, double, answer["data"]["token"])
    await double.stop()


async def command(http, node: EmulatorNode, name: str, **body: Any) -> dict[str, Any]:
    status, record = await admin(http, node, "POST", f"ocpi/commands/{name}", json=body)
    assert status == 201, record
    return record


def start_body(**kw: Any) -> dict[str, Any]:
    return {"location_id": "LOC-1", "evse_uid": "EVSE-1", "connector_id": "1", **kw}


def rules(node: EmulatorNode) -> dict[str, str]:
    return {f["rule"]: f["severity"] for f in findings(node)}


# --- OCPI-44 --------------------------------------------------------------------------------


async def test_connector_required_but_accepted_without_one(cpo: Cpo, http) -> None:
    await command(http, cpo.node, "START_SESSION", location_id="LOC-1", evse_uid="EVSE-1")
    assert rules(cpo.node) == {}  # EVSE-1 does not need a connector_id
    await command(http, cpo.node, "START_SESSION", location_id="LOC-1", evse_uid="EVSE-2")
    [finding] = findings(cpo.node, "OCPI-44")
    # The capability asks the sender (us) for a connector_id; a CPO that copes is not wrong.
    assert finding["severity"] == "info" and "EVSE-2" in finding["message"]
    assert finding["exchange_id"]
    await command(http, cpo.node, "START_SESSION", location_id="LOC-1", connector_id="1")
    assert [f["severity"] for f in findings(cpo.node, "OCPI-44")] == ["info", "info"]


async def test_a_rejection_of_a_connector_required_start_is_right(cpo: Cpo, http) -> None:
    cpo.double.command_answer = {"result": "REJECTED", "timeout": 30}
    record = await command(http, cpo.node, "START_SESSION", location_id="LOC-1", evse_uid="EVSE-2")
    assert record["state"] == "REJECTED"
    assert "OCPI-44" not in rules(cpo.node)


# --- OCPI-55 --------------------------------------------------------------------------------


async def test_rejected_start_at_an_available_evse_is_noted(cpo: Cpo, http) -> None:
    cpo.double.command_answer = {
        "result": "REJECTED",
        "timeout": 30,
        "message": [{"language": "en", "text": "no"}],
    }
    await command(http, cpo.node, "START_SESSION", **start_body())
    [finding] = findings(cpo.node, "OCPI-55")
    assert finding["severity"] == "info" and "EVSE-1, AVAILABLE" in finding["message"]
    assert "(no)" in finding["message"]
    # Not when the EVSE is busy in the CPO's own Locations.
    await cpo.push(
        http,
        "PATCH",
        "locations",
        "NL/CPO/LOC-1/EVSE-2",
        {"status": "CHARGING", "last_updated": "2025-03-01T09:00:30Z"},
    )
    await command(http, cpo.node, "START_SESSION", **start_body(evse_uid="EVSE-2"))
    assert len(findings(cpo.node, "OCPI-55")) == 1


async def test_no_session_after_an_accepted_start(cpo: Cpo, http) -> None:
    record = await command(http, cpo.node, "START_SESSION", **start_body())
    await cpo.result(http, "ACCEPTED")
    stored = cpo.node.ptp.commands.get(record["id"])
    assert stored["expect"] == "SESSION" and stored["expect_due_at"] == "2025-03-01T09:05:01Z"
    await cpo.advance(299)
    assert rules(cpo.node) == {}
    await cpo.advance(2)
    # mod_commands shows this very case (EV not plugged in) as legitimate: noted, once.
    assert rules(cpo.node) == {"OCPI-46": "info"}
    [finding] = findings(cpo.node, "OCPI-46")
    assert "no Session" in finding["message"]
    assert cpo.node.ptp.commands.get(record["id"])["expect"] is None


async def test_session_and_cdr_after_an_accepted_start(cpo: Cpo, http) -> None:
    record = await command(http, cpo.node, "START_SESSION", **start_body())
    ref = record["authorization_reference"]
    token = record["request"]["token"]
    await cpo.result(http, "ACCEPTED")
    session = obj.session(token=token, ref=ref)
    await cpo.push(http, "PUT", "sessions", "NL/CPO/S1", session)
    assert cpo.node.ptp.commands.get(record["id"])["expect"] is None
    await cpo.push(
        http,
        "PATCH",
        "sessions",
        "NL/CPO/S1",
        {"status": "COMPLETED", "kwh": 10, "last_updated": "2025-03-01T10:00:00Z"},
    )
    assert cpo.node.ptp.commands.get(record["id"])["expect"] == "CDR"
    await cpo.push(http, "POST", "cdrs", body=obj.cdr(token=token, ref=ref))
    await cpo.advance(3600)
    assert rules(cpo.node) == {}, findings(cpo.node)


async def test_no_cdr_after_the_session_completed(cpo: Cpo, http) -> None:
    """A CDR that never comes is PAYTER-05's (the journey cannot capture), not a second
    finding of the command layer; one found only on the CPO's Sender is noted (OCPI-55)."""
    record = await command(http, cpo.node, "START_SESSION", **start_body())
    ref, token = record["authorization_reference"], record["request"]["token"]
    await cpo.result(http, "ACCEPTED")
    await cpo.push(
        http, "PUT", "sessions", "NL/CPO/S1", obj.session(token=token, ref=ref, status="COMPLETED")
    )
    await cpo.advance(3601)
    assert rules(cpo.node) == {}
    assert cpo.node.ptp.commands.get(record["id"])["expect"] is None


async def test_an_invalid_session_expects_no_cdr(cpo: Cpo, http) -> None:
    record = await command(http, cpo.node, "START_SESSION", **start_body())
    ref, token = record["authorization_reference"], record["request"]["token"]
    await cpo.result(http, "ACCEPTED")
    await cpo.push(
        http, "PUT", "sessions", "NL/CPO/S1", obj.session(token=token, ref=ref, status="INVALID")
    )
    await cpo.advance(7200)
    assert rules(cpo.node) == {}


# --- OCPI-36, OCPI-39, OCPI-38, OCPI-58, OCPI-49 --------------------------------------------


async def test_echoes_location_and_limit(cpo: Cpo, http) -> None:
    record = await command(http, cpo.node, "START_SESSION", **start_body())
    token = record["request"]["token"]
    await cpo.result(http, "ACCEPTED")
    # The Session comes with another authorization_reference (matched by our token).
    session = obj.session(token=token, ref="SOMETHING-ELSE", status="COMPLETED")
    session["charging_periods"] = [
        {
            "start_date_time": "2025-03-01T09:00:00Z",
            "dimensions": [{"type": "ENERGY", "volume": 12000}],
        }
    ]
    await cpo.push(http, "PUT", "sessions", "NL/CPO/S1", session)
    [ref36] = findings(cpo.node, "OCPI-36")
    assert ref36["pointer"] == "/authorization_reference" and "SOMETHING-ELSE" in ref36["message"]
    [wh] = findings(cpo.node, "OCPI-38")
    assert wh["severity"] == "warning" and "looks like Wh" in wh["message"]
    # The CDR names another EVSE than its Session and totals past the preauthorize_amount 50.
    cdr = obj.cdr(token=token, ref=record["authorization_reference"], kwh=100)
    cdr["cdr_location"]["evse_uid"] = "EVSE-2"
    await cpo.push(http, "POST", "cdrs", body=cdr)
    [loc39] = findings(cpo.node, "OCPI-39")
    assert loc39["pointer"] == "/cdr_location/evse_uid" and "'EVSE-1'" in loc39["message"]
    [limit] = findings(cpo.node, "OCPI-58")
    assert limit["severity"] == "info" and "past the preauthorize_amount 50" in limit["message"]


async def test_whitelist_never_and_invalid_tokens(cpo: Cpo, http) -> None:
    record = await command(http, cpo.node, "START_SESSION", **start_body())
    token = record["request"]["token"]
    session = obj.session(token=token, ref=record["authorization_reference"])
    session["auth_method"] = "WHITELIST"
    await cpo.push(http, "PUT", "sessions", "NL/CPO/S1", session)
    whitelist = [f for f in findings(cpo.node, "OCPI-49") if "whitelist is NEVER" in f["message"]]
    assert len(whitelist) == 1 and whitelist[0]["pointer"] == "/auth_method"
    # A token we made invalid may not start a session after that.
    stored = cpo.node.ptp.tokens.find(token["uid"], "AD_HOC_USER")
    stored["object"].update(valid=False, last_updated="2025-03-01T08:59:00Z")
    cpo.node.ptp.tokens._keep(stored["object"], stored["authorization_reference"])
    await cpo.push(http, "PUT", "sessions", "NL/CPO/S2", {**session, "id": "S2"})
    assert any("made invalid" in f["message"] for f in findings(cpo.node, "OCPI-49"))


# --- OCPI-47 --------------------------------------------------------------------------------


async def test_reservation_session_and_cancellation(cpo: Cpo, http) -> None:
    reserve = await command(
        http, cpo.node, "RESERVE_NOW", location_id="LOC-1", evse_uid="EVSE-1", reservation_id="R1"
    )
    body = cpo.double.commands[-1]["body"]
    assert body["reservation_id"] == "R1" and body["expiry_date"] == "2025-03-01T09:15:01Z"
    assert body["token"]["type"] == "AD_HOC_USER" and body["authorization_reference"]
    await cpo.result(http, "ACCEPTED")
    # The reservation's Session must be RESERVATION; this one is not.
    session = obj.session(token=body["token"], ref=body["authorization_reference"], status="ACTIVE")
    await cpo.push(http, "PUT", "sessions", "NL/CPO/R-S1", {**session, "id": "R-S1"})
    [wrong] = findings(cpo.node, "OCPI-47")
    assert "status ACTIVE" in wrong["message"] and wrong["pointer"] == "/status"
    # Cancelled and ACCEPTED: the ReserveNow's response_url must hear CANCELED_RESERVATION.
    await command(http, cpo.node, "CANCEL_RESERVATION", reservation_id="R1")
    await cpo.result(http, "ACCEPTED")
    assert cpo.node.ptp.commands.get(reserve["id"])["expect"] == "CANCELED_RESERVATION"
    await cpo.advance(70)
    assert len(findings(cpo.node, "OCPI-47")) == 2
    assert "no CANCELED_RESERVATION" in findings(cpo.node, "OCPI-47")[1]["message"]


async def test_canceled_reservation_to_the_reserve_now_url(cpo: Cpo, http) -> None:
    reserve = await command(
        http, cpo.node, "RESERVE_NOW", location_id="LOC-1", reservation_id="R2", minutes=30
    )
    reserve_url = cpo.double.commands[-1]["body"]["response_url"]
    assert cpo.double.commands[-1]["body"]["expiry_date"] == "2025-03-01T09:30:01Z"
    await cpo.result(http, "ACCEPTED")
    await command(http, cpo.node, "CANCEL_RESERVATION", reservation_id="R2")
    await cpo.result(http, "ACCEPTED")
    await cpo.push_url(http, reserve_url, {"result": "CANCELED_RESERVATION"})
    stored = cpo.node.ptp.commands.get(reserve["id"])
    assert stored["state"] == "RESERVATION_CANCELED_RESERVATION" and stored["expect"] is None
    assert stored["later_result"]["result"] == "CANCELED_RESERVATION"
    await cpo.advance(120)
    assert rules(cpo.node) == {}  # no "second CommandResult" either


async def test_reservations_by_hand_need_their_fields(cpo: Cpo, http) -> None:
    for name, body, code in (
        ("RESERVE_NOW", {}, "missing_field"),
        ("RESERVE_NOW", {"location_id": "LOC-1", "minutes": 0}, "invalid_field"),
        # An expiry_date no date can hold: refused, not a 500.
        ("RESERVE_NOW", {"location_id": "LOC-1", "minutes": 2**53}, "invalid_field"),
        ("RESERVE_NOW", {"location_id": "LOC-1", "minutes": 10**11}, "invalid_field"),
        ("CANCEL_RESERVATION", {}, "missing_field"),
        ("UNLOCK_CONNECTOR", {}, "invalid_command"),
    ):
        status, answer = await admin(http, cpo.node, "POST", f"ocpi/commands/{name}", json=body)
        assert status == 400 and answer["error"]["code"] == code, (name, answer)
