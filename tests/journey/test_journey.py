"""Payter's driver journey over OCPI, end to end on loopback with the manual clock.

A scripted CPO (tests/cpo_double.py) serves Locations/Tariffs, takes commands and lets each
test push Sessions and CDRs exactly when it wants, so every path can be forced.
"""

from __future__ import annotations

from typing import Any

import ocpi_objects as obj
import pytest
from cpo_double import CpoDouble
from helpers import admin, findings, ocpi

from emulator.app import EmulatorNode

TOKEN_A = "payter-emulator-token-a"
SERIAL = "APO-0001"
ROUTING = {
    "OCPI-from-country-code": "NL",
    "OCPI-from-party-id": "CPO",
    "OCPI-to-country-code": "NL",
    "OCPI-to-party-id": "PAY",
}


class Rig:
    def __init__(self, node: EmulatorNode, cpo: CpoDouble, token: str, http: Any) -> None:
        self.node, self.cpo, self.token, self.http = node, cpo, token, http

    async def admin(self, method: str, path: str, json: Any = None) -> tuple[int, Any]:
        return await admin(self.http, self.node, method, path, json=json)

    async def screen(self) -> dict[str, Any]:
        _, terminal = await self.admin("GET", f"terminals/{SERIAL}")
        return terminal["screen"]

    async def press(self, key: str) -> dict[str, Any]:
        status, body = await self.admin("POST", f"terminals/{SERIAL}/press", {"key": key})
        assert status == 200, body
        return await self.screen()

    async def card(self, card: str = "visa-approved") -> dict[str, Any]:
        status, body = await self.admin(
            "POST", f"terminals/{SERIAL}/present-card", {"card": card, "medium": "contactless"}
        )
        assert status == 200, body
        return await self.screen()

    async def advance(self, seconds: float) -> None:
        status, _ = await self.admin("POST", "clock/advance", {"seconds": seconds})
        assert status == 200

    def journey(self) -> dict[str, Any]:
        rows = self.node.journey.records.all()
        assert rows, "no journey"
        return self.node.journey.view(rows[-1])

    async def result(self, result: str = "ACCEPTED", index: int = -1) -> None:
        url = self.cpo.commands[index]["body"]["response_url"]
        status, _, env = await ocpi(
            self.http, "POST", url, self.token, json={"result": result}, headers=ROUTING
        )
        assert env["status_code"] == 1000, env

    async def push(self, method: str, module: str, *parts: str, body: Any) -> dict[str, Any]:
        url = "/".join([self.node.server.endpoint_url("2.3.0", module), *parts])
        status, headers, env = await ocpi(
            self.http, method, url, self.token, json=body, headers=ROUTING
        )
        assert env["status_code"] == 1000, env
        # What the push set off after its answer (a FAC, a STOP_SESSION) is done by now.
        await self.node.rt.background.drain()
        return headers

    def start_body(self) -> dict[str, Any]:
        starts = [c for c in self.cpo.commands if c["command"] == "START_SESSION"]
        return starts[-1]["body"]

    async def session(
        self, status: str, kwh: float = 0, cost: tuple[float, float] | None = None, **kw: Any
    ) -> None:
        body = self.start_body()
        s = obj.session(
            status=status,
            kwh=kw.pop("kwh_", kwh),
            ref=body["authorization_reference"],
            token={
                k: body["token"][k]
                for k in ("country_code", "party_id", "uid", "type", "contract_id")
            },
            last_updated=self.node.rt.clock.describe()["now"],
            **kw,
        )
        if cost is not None:
            s["total_cost"] = obj.price(*cost)
        await self.push("PUT", "sessions", "NL", "CPO", s["id"], body=s)

    async def cdr(self, kwh: float = 10.0, **kw: Any) -> dict[str, Any]:
        body = self.start_body()
        cdr = obj.cdr(
            kwh=kwh,
            ref=body["authorization_reference"],
            token={
                k: body["token"][k]
                for k in ("country_code", "party_id", "uid", "type", "contract_id")
            },
            **kw,
        )
        await self.push("POST", "cdrs", body=cdr)
        return cdr

    async def to_card_screen(self) -> dict[str, Any]:
        """Home → Start → first charger → Accept: the terminal asks for a card."""
        assert (await self.screen())["id"] == "journey.home"
        assert (await self.press("start"))["id"] == "journey.choose"
        tariff = await self.press("evse1")
        assert tariff["id"] == "journey.tariff", tariff
        screen = await self.press("accept")
        assert screen["type"] == "payment" and screen["properties"]["phase"] == "present_card"
        return screen


async def make_rig(node: EmulatorNode, http: Any, **cpo_kw: Any) -> Rig:
    cpo = await CpoDouble(**cpo_kw).start()
    cpo.locations = [obj.location()]
    cpo.tariffs = [obj.tariff()]
    answer = await cpo.register_with(node.server.versions_url, TOKEN_A, "2.3.0")
    rig = Rig(node, cpo, answer["data"]["token"], http)
    await rig.advance(1)  # the first crawl of Locations and Tariffs runs on the clock
    [terminal] = node.ptp.payments.terminals()
    base = node.server.endpoint_url("2.3.0", "payments") + "/terminals"
    await ocpi(
        http,
        "PATCH",
        f"{base}/{terminal['terminal_id']}",
        rig.token,
        json={"location_ids": ["LOC-1"], "last_updated": "2025-03-01T09:00:00Z"},
        headers=ROUTING,
    )
    return rig


@pytest.fixture
async def rig(emulator: EmulatorNode, http):
    rig = await make_rig(emulator, http)
    yield rig
    await rig.cpo.stop()


def money_findings(node: EmulatorNode) -> list[str]:
    return [f["rule"] for f in findings(node) if f["severity"] == "error"]


# --- the happy path ---------------------------------------------------------------------------


async def test_full_approved_journey(rig: Rig) -> None:
    node = rig.node
    home = await rig.screen()
    assert home["type"] == "selection" and home["properties"]["title"] == "Harbour car park"
    assert home["keys"] == ["start", "stop", "receipt", "language"]  # two tariff languages
    choose = await rig.press("start")
    labels = [v for k, v in choose["properties"].items() if k.endswith(".label")]
    assert any("CCS" in label and "50 kW" in label and "Available" in label for label in labels)
    tariff = await rig.press("evse1")
    assert "€0.5445 per kWh" in tariff["properties"]["message"]  # 0.45 + 21% VAT
    assert "€50.00 will be reserved" in tariff["properties"]["message"]
    present = await rig.press("accept")
    assert present["properties"]["amount"] == "5000"
    approved = await rig.card("visa-approved")
    assert approved["properties"]["icon"] == "approved"
    # START_SESSION went out with Payter's token and a fresh authorization_reference.
    body = rig.start_body()
    ref = body["authorization_reference"]
    assert body["token"]["type"] == "AD_HOC_USER" and body["evse_uid"] == "EVSE-1"
    assert body["connector_id"] == "1" and body["location_id"] == "LOC-1"
    journey = rig.journey()
    assert journey["state"] == "STARTING" and journey["money"] == "AUTHORIZED"
    assert journey["authorization_reference"] == ref and journey["preauthorized_amount"] == 5000
    await rig.advance(3)
    assert (await rig.screen())["id"] == "journey.starting"
    await rig.result("ACCEPTED")
    screen = await rig.screen()
    assert screen["properties"]["title"] == "Charging started"
    await rig.session("PENDING")
    await rig.session("ACTIVE", kwh=4.0, cost=(1.80, 2.18))
    assert rig.journey()["state"] == "CHARGING" and rig.journey()["session_cost"] == 218
    await rig.advance(5)
    assert (await rig.screen())["id"] == "journey.home"
    await rig.session(
        "COMPLETED", kwh=10.0, cost=(4.50, 5.45), end_date_time="2025-03-01T10:00:00Z"
    )
    assert rig.journey()["state"] == "WAITING_CDR"
    await rig.cdr(kwh=10.0, invoice_reference_id="INV-1")
    journey = rig.journey()
    assert journey["state"] == "COMPLETED" and journey["money"] == "CAPTURED"
    assert journey["captured_amount"] == 545 and journey["capture_status"] == "SUCCESS"
    assert journey["cdr_total"] == 545 and journey["voided_amount"] is None
    # The FAC reached the CPO with the same authorization_reference and the captured amount.
    assert journey["fac_delivered"] is True
    [fac] = rig.cpo.facs.values()
    assert fac["authorization_reference"] == ref and fac["capture_status_code"] == "SUCCESS"
    total = fac["total_costs"]
    captured = total["before_taxes"] + sum(t["amount"] for t in total["taxes"])
    assert round(captured, 2) == 5.45
    assert any("VISA" in line.upper() for line in fac["eft_data"])
    assert money_findings(node) == [], findings(node)
    # The terminal's payment session was captured exactly once.
    [session] = node.terminals.sessions(SERIAL)
    assert session["state"] == "COMMITTED" and session["captured_amount"] == 545


async def test_receipt_with_invoice_qr(rig: Rig) -> None:
    [terminal] = rig.node.ptp.payments.terminals()
    base = rig.node.server.endpoint_url("2.3.0", "payments") + "/terminals"
    await ocpi(
        rig.http,
        "PATCH",
        f"{base}/{terminal['terminal_id']}",
        rig.token,
        json={
            "invoice_base_url": "https://cpo.example/invoices/",
            "invoice_creator": "CPO",
            "last_updated": "2025-03-01T09:00:00Z",
        },
        headers=ROUTING,
    )
    await rig.to_card_screen()
    await rig.card()
    await rig.result()
    await rig.session("ACTIVE")
    await rig.session("COMPLETED", kwh=10)
    await rig.cdr(invoice_reference_id="INV-9")
    await rig.advance(10)
    receipts = await rig.press("receipt")
    assert receipts["id"] == "journey.receipts" and "r1" in receipts["keys"]
    receipt = await rig.press("r1")
    ref = rig.journey()["authorization_reference"]
    assert receipt["properties"]["qr"] == f"https://cpo.example/invoices/{ref}"
    assert "Amount: €5.45" in receipt["properties"]["subtitle"]


# --- error paths: each ends in a defined screen and money state --------------------------------


async def test_declined_card(rig: Rig) -> None:
    await rig.to_card_screen()
    screen = await rig.card("visa-declined")
    assert screen["properties"].get("icon") == "declined"
    journey = rig.journey()
    assert journey["state"] == "DECLINED" and journey["money"] == "NONE"
    assert rig.cpo.commands == []
    await rig.advance(3)
    assert (await rig.screen())["id"] == "journey.home"


async def test_card_timeout(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.advance(30)
    journey = rig.journey()
    assert journey["state"] == "CARD_TIMEOUT" and journey["money"] == "NONE"
    assert (await rig.screen())["properties"]["title"] == "Timed out"
    await rig.advance(3)
    assert (await rig.screen())["id"] == "journey.home"


@pytest.mark.parametrize("answer", ["REJECTED", "NOT_SUPPORTED"])
async def test_start_rejected_voids(rig: Rig, answer: str) -> None:
    rig.cpo.command_answer = {"result": answer, "timeout": 30}
    await rig.to_card_screen()
    await rig.card()
    journey = rig.journey()
    assert journey["state"] == "START_FAILED" and journey["money"] == "VOIDED"
    assert journey["voided_amount"] == 5000 and journey["captured_amount"] is None
    screen = await rig.screen()
    assert screen["properties"]["title"] == "Could not start"
    assert "No charge was made" in screen["properties"]["message"]
    [session] = rig.node.terminals.sessions(SERIAL)
    assert session["state"] == "CANCELLED"


async def test_start_result_failed_voids(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card()
    await rig.result("FAILED")
    assert rig.journey()["money"] == "VOIDED" and rig.journey()["reason"] == "RESULT_FAILED"


async def test_no_command_result_voids(rig: Rig) -> None:
    rig.cpo.command_answer = {"result": "ACCEPTED", "timeout": 30}
    await rig.to_card_screen()
    await rig.card()
    await rig.advance(36)
    journey = rig.journey()
    assert journey["state"] == "START_FAILED" and journey["reason"] == "NO_RESULT"
    assert journey["money"] == "VOIDED"
    assert "did not answer" in (await rig.screen())["properties"]["message"]


async def test_accepted_but_no_session_voids(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card()
    await rig.result("ACCEPTED")
    assert rig.journey()["state"] == "STARTED"
    await rig.advance(300)
    journey = rig.journey()
    assert journey["state"] == "VOIDED" and journey["money"] == "VOIDED"
    assert findings(rig.node, "OCPI-46")


async def test_cpo_unreachable_voids(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.cpo.stop()
    await rig.card()
    journey = rig.journey()
    assert journey["state"] == "START_FAILED" and journey["reason"] == "UNREACHABLE"
    assert journey["money"] == "VOIDED"
    assert "cannot be reached" in (await rig.screen())["properties"]["message"]


async def test_unavailable_evse_cannot_be_chosen(rig: Rig) -> None:
    await rig.push(
        "PATCH",
        "locations",
        "NL",
        "CPO",
        "LOC-1",
        "EVSE-1",
        body={"status": "CHARGING", "last_updated": "2025-03-01T09:05:00Z"},
    )
    choose = await rig.press("start")
    assert "evse1" not in choose["keys"] and "evse2" in choose["keys"]
    assert choose["properties"]["items.evse1.disabled"] == "true"
    assert "In use" in choose["properties"]["items.evse1.label"]
    status, body = await rig.admin("POST", f"terminals/{SERIAL}/press", {"key": "evse1"})
    assert status == 400 and "evse2" in body["error"]["accepted"]


async def test_evse_becomes_unavailable_before_the_tariff(rig: Rig) -> None:
    await rig.press("start")
    # The live GET of the Location (before the tariff) shows the EVSE is now taken.
    rig.cpo.locations[0]["evses"][0]["status"] = "CHARGING"
    screen = await rig.press("evse1")
    assert screen["properties"]["title"] == "Could not start"
    assert rig.node.journey.records.all() == []


async def test_terminal_offline_while_presenting(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.admin("POST", f"terminals/{SERIAL}/offline")
    journey = rig.journey()
    assert journey["state"] == "ABANDONED" and journey["money"] == "NONE"
    assert (await rig.screen())["id"] == "payter.offline"
    await rig.admin("POST", f"terminals/{SERIAL}/online")
    assert (await rig.screen())["id"] == "journey.home"


async def test_cdr_never_comes_captures_last_known_cost(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card()
    await rig.result()
    await rig.session("ACTIVE", kwh=6, cost=(2.70, 3.27))
    await rig.session("COMPLETED", kwh=6, cost=(2.70, 3.27))
    await rig.advance(86400)
    journey = rig.journey()
    assert journey["money"] == "CAPTURED" and journey["captured_amount"] == 327
    assert findings(rig.node, "PAYTER-05")


async def test_cdr_above_authorization_is_capped(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card()
    await rig.result()
    await rig.session("ACTIVE")
    await rig.session("COMPLETED", kwh=100)
    await rig.cdr(kwh=100.0)  # 45.00 + 21% = 54.45 > 50.00
    journey = rig.journey()
    assert journey["captured_amount"] == 5000 and journey["capture_status"] == "PARTIAL_SUCCESS"
    assert findings(rig.node, "PAYTER-06")


async def test_capture_fails(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card("mastercard-capture-fails")
    await rig.result()
    await rig.session("ACTIVE")
    await rig.session("COMPLETED", kwh=10)
    await rig.cdr(invoice_reference_id="INV-2")
    journey = rig.journey()
    assert journey["money"] == "CAPTURED" and journey["capture_status"] == "FAILED"
    [fac] = rig.cpo.facs.values()
    assert fac["capture_status_code"] == "FAILED"


async def test_stop_on_the_terminal(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card()
    await rig.result()
    await rig.session("ACTIVE", kwh=2)
    await rig.advance(5)
    stop = await rig.press("stop")
    assert stop["id"] == "journey.stop" and "s1" in stop["keys"]
    confirm = await rig.press("s1")
    assert confirm["id"] == "journey.stop_confirm"
    await rig.press("yes")
    stops = [c for c in rig.cpo.commands if c["command"] == "STOP_SESSION"]
    assert stops and stops[-1]["body"]["session_id"] == "S1"
    assert rig.journey()["state"] == "STOPPING"
    await rig.result("ACCEPTED")
    assert (await rig.screen())["properties"]["title"] == "Charging stopped"


async def test_stop_by_tapping_the_same_card(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card("mastercard-approved")
    await rig.result()
    await rig.session("ACTIVE", kwh=2)
    await rig.advance(5)
    await rig.press("stop")
    other = await rig.card("visa-approved")
    assert "No charging session" in other["properties"]["message"]
    await rig.advance(3)
    await rig.press("stop")
    confirm = await rig.card("mastercard-approved")
    assert confirm["id"] == "journey.stop_confirm"


async def test_stop_at_the_preauthorized_limit(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card()
    await rig.result()
    await rig.session("ACTIVE", kwh=80, cost=(41.32, 50.00))
    stops = [c for c in rig.cpo.commands if c["command"] == "STOP_SESSION"]
    assert len(stops) == 1 and rig.journey()["stop_reason"] == "pre-authorized amount reached"
    await rig.session("ACTIVE", kwh=81, cost=(41.80, 50.58))
    assert len([c for c in rig.cpo.commands if c["command"] == "STOP_SESSION"]) == 1
    assert findings(rig.node, "PAYTER-06")


async def test_session_invalid_voids(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card()
    await rig.result()
    await rig.session("INVALID")
    assert rig.journey()["money"] == "VOIDED"


async def test_journeys_control_api(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card()
    status, rows = await rig.admin("GET", "journeys")
    assert status == 200 and rows[0]["serial_number"] == SERIAL
    assert rows[0]["preauthorized_amount"] == 5000 and rows[0]["currency"] == "EUR"
    status, one = await rig.admin("GET", f"journeys/{rows[0]['id']}")
    assert one["authorization_reference"] == rows[0]["authorization_reference"]
    assert [h["state"] for h in one["history"]] == ["PRESENTING", "AUTHORIZING", "STARTING"]
    status, _ = await rig.admin("GET", "journeys/nope")
    assert status == 404


async def test_language_from_tariff_texts(rig: Rig) -> None:
    languages = await rig.press("language")
    assert languages["keys"][:2] == ["en", "nl"]
    home = await rig.press("nl")
    assert home["properties"]["items.start.label"] == "Laden starten"


async def test_restart_mid_session_captures_once(tmp_path, http) -> None:
    from helpers import make_settings

    from emulator.app import build_emulator

    db = str(tmp_path / "journey.db")
    first = build_emulator(make_settings(db=db))
    await first.start()
    rig = await make_rig(first, http)
    await rig.to_card_screen()
    await rig.card()
    await rig.result()
    await rig.session("ACTIVE", kwh=3)
    await rig.session("COMPLETED", kwh=10)
    now = first.rt.clock.describe()["now"]
    await first.stop()
    second = build_emulator(make_settings(db=db, clock_start=now))
    await second.start()
    try:
        rig.node = second
        assert rig.journey()["state"] == "WAITING_CDR"
        await rig.cdr(kwh=10.0)
        journey = rig.journey()
        assert journey["money"] == "CAPTURED" and journey["captured_amount"] == 545
        # The CDR deadline set before the restart must not capture a second time.
        await rig.advance(86400 * 2)
        assert rig.journey()["captured_amount"] == 545
        assert [s["state"] for s in second.terminals.sessions(SERIAL)] == ["COMMITTED"]
    finally:
        await rig.cpo.stop()
        await second.stop()
