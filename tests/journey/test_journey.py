"""Payter's driver journey over OCPI, end to end on loopback with the manual clock.

A scripted CPO (tests/cpo_double.py) serves Locations/Tariffs, takes commands and lets each
test push Sessions and CDRs exactly when it wants. The error paths are in
test_journey_errors.py, restarts in test_journey_restart.py, the screen model's rules in
test_journey_screens.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import findings, ocpi
from journey_rig import ROUTING, SERIAL, Rig, error_rules, make_rig

from emulator.journey.controller import JOURNEY_VIEW


@pytest.fixture
async def rig(start_emulator: Any, http: Any):
    rig = await make_rig(await start_emulator(poll_interval=0), http)
    yield rig
    await rig.cpo.stop()


async def events(rig: Rig, since: int, kinds: str) -> list[dict[str, Any]]:
    status, body = await rig.admin("GET", f"events?since={since}&kinds={kinds}")
    assert status == 200, body
    return body


# --- the happy path ---------------------------------------------------------------------------


async def test_full_approved_journey(rig: Rig) -> None:
    node = rig.node
    since = node.rt.bus.recent()[-1].id
    home = await rig.screen()
    assert home["type"] == "selection" and home["properties"]["title"] == "Harbour car park"
    assert home["keys"] == ["start", "stop", "receipt", "language"]  # two tariff languages
    choose = await rig.press("start")
    labels = [v for k, v in choose["properties"].items() if k.endswith(".label")]
    assert "Charger NL*CPO*E1 · CCS · 50 kW · Available" in labels
    assert choose["keys"] == ["evse1", "evse2", "back"]
    tariff = await rig.press("evse1")
    assert tariff["type"] == "message" and tariff["keys"] == ["accept", "cancel"]
    assert "€0.5445 per kWh" in tariff["properties"]["message"]  # 0.45 + 21% VAT
    assert "€50.00 will be reserved" in tariff["properties"]["message"]
    present = await rig.press("accept")
    assert present["properties"]["amount"] == "5000"
    assert present["properties"]["media"] == "contactless,chip"
    approved = await rig.card("visa-approved")
    assert approved["properties"]["icon"] == "approved"
    # START_SESSION went out with Payter's token and a fresh authorization_reference.
    body = rig.start_body()
    ref = body["authorization_reference"]
    assert body["token"]["type"] == "AD_HOC_USER" and body["token"]["whitelist"] == "NEVER"
    assert body["token"]["contract_id"] == body["token"]["uid"]
    assert body["evse_uid"] == "EVSE-1" and body["connector_id"] == "1"
    assert body["location_id"] == "LOC-1"
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
    assert (await rig.screen())["id"] == "journey.home"  # free for the next driver
    # The car is full and unplugged: the CPO completes the session, then sends the CDR.
    await rig.session(
        "COMPLETED", kwh=10.0, cost=(4.50, 5.45), end_date_time="2025-03-01T10:00:00Z"
    )
    assert rig.journey()["state"] == "WAITING_CDR"
    await rig.cdr(kwh=10.0, invoice_reference_id="INV-1")
    journey = rig.journey()
    assert journey["state"] == "COMPLETED" and journey["money"] == "CAPTURED"
    assert journey["captured_amount"] == 545 and journey["capture_status"] == "SUCCESS"
    assert journey["cdr_total"] == 545 and journey["voided_amount"] is None
    assert journey["cdr_id"] == f"CDR-{ref}" and journey["session_id"] == f"S-{ref}"
    # The FAC reached the CPO with the same authorization_reference and the captured amount.
    assert journey["fac_delivered"] is True
    [fac] = rig.cpo.facs.values()
    assert fac["authorization_reference"] == ref and fac["capture_status_code"] == "SUCCESS"
    total = fac["total_costs"]
    captured = total["before_taxes"] + sum(t["amount"] for t in total["taxes"])
    assert round(captured, 2) == 5.45 and fac["currency"] == "EUR"
    assert fac["eft_data"][0] == "Visa" and "Nr: 411111******1111" in fac["eft_data"]
    assert error_rules(node) == [], findings(node)
    assert rig.sent() == ["START_SESSION"]
    # The terminal's payment session was captured exactly once.
    [session] = node.terminals.sessions(SERIAL)
    assert session["state"] == "COMMITTED" and session["captured_amount"] == 545
    rig.assert_settled()
    # The event stream told every screen change, the card read and each payment step.
    stream = await events(rig, since, "terminal,journey,payments")
    screens = [e["data"]["screen"]["id"] for e in stream if e["kind"] == "terminal.screen"]
    assert screens == [
        "journey.choose",
        "journey.tariff",
        "payter.present_card",
        "payter.processing",
        "journey.payment",
        "journey.notice",  # Approved
        "journey.starting",
        "journey.notice",  # Charging started
        "journey.home",
    ]
    [card] = [e["data"] for e in stream if e["kind"] == "terminal.card"]
    assert card["maskedPan"] == "411111******1111" and card["medium"] == "contactless"
    steps = [e["data"]["step"] for e in stream if e["kind"] == "terminal.payment"]
    assert steps == ["authorized", "committed"]
    states = [e["data"]["state"] for e in stream if e["kind"] == "journey.state"]
    assert states[0] == "PRESENTING" and states[-1] == "COMPLETED"
    assert {"STARTING", "STARTED", "CHARGING", "WAITING_CDR", "CAPTURING"} <= set(states)
    changes = [e["data"]["change"] for e in stream if e["kind"] == "payments.fac"]
    assert changes == ["created", "delivered"]


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
    ref = await rig.start_charging()
    await rig.session("COMPLETED", kwh=10, ref=ref)
    await rig.cdr(invoice_reference_id="INV-9", ref=ref)
    await rig.advance(10)
    receipts = await rig.press("receipt")
    assert receipts["id"] == "journey.receipts" and receipts["keys"] == ["r1", "back"]
    receipt = await rig.press("r1")
    assert receipt["properties"]["qr"] == f"https://cpo.example/invoices/{ref}"
    assert "Amount: €5.45" in receipt["properties"]["subtitle"]
    assert (await rig.press("back"))["id"] == "journey.home"
    # Tapping the card that paid finds the same receipt.
    await rig.press("receipt")
    assert (await rig.card("visa-approved"))["properties"]["qr"].endswith(ref)
    # After 24 hours the session is no longer offered.
    await rig.advance(86400)
    await rig.press("touch")
    receipts = await rig.press("receipt")
    assert receipts["keys"] == ["back"]
    assert receipts["properties"]["subtitle"] == "No sessions in the last 24 hours"


async def test_receipt_without_invoice_shows_the_amount(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.session("COMPLETED", kwh=10, ref=ref, end_date_time="2025-03-01T10:05:00Z")
    await rig.cdr(ref=ref)
    await rig.advance(10)
    receipts = await rig.press("receipt")
    # Which charger and when, in words a driver reads; the amount beside it.
    assert receipts["properties"]["items.r1.label"] == "Charger NL*CPO*E1 · 2025-03-01 09:00"
    assert receipts["view"]["items"][0]["amount_text"] == "€5.45"
    receipt = await rig.press("r1")
    assert "qr" not in receipt["properties"] and receipt["properties"]["title"] == "Receipt"
    assert "Amount: €5.45" in receipt["properties"]["subtitle"]
    assert "Energy: 10.00 kWh" in receipt["properties"]["subtitle"]
    assert "Duration: 1 h 05 min" in receipt["properties"]["subtitle"]
    await rig.advance(60)  # screen 16: 60 s → Home
    assert (await rig.screen())["id"] == "journey.home"


# --- stopping -----------------------------------------------------------------------------------


async def test_stop_on_the_terminal(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.session("ACTIVE", kwh=2, ref=ref)
    await rig.advance(5)
    mark = rig.mark()
    # Payter advises a stop authenticated by the card used: no session to pick, only Back,
    # and the terminal reads the card.
    stop = await rig.press("stop")
    assert stop["id"] == "journey.stop" and stop["keys"] == ["back"]
    assert stop["properties"]["subtitle"] == "Tap the card you paid with"
    assert not any(k.startswith("items.") for k in stop["properties"])
    assert (await rig.admin("GET", "terminals/APO-0001"))[1]["state"] == "READING"
    confirm = await rig.card("visa-approved")
    assert confirm["id"] == "journey.stop_confirm" and confirm["keys"] == ["yes", "no"]
    stopping = await rig.press("yes")
    assert stopping["id"] == "journey.stopping"
    assert rig.sent() == ["START_SESSION", "STOP_SESSION"]
    assert rig.cpo.commands[-1]["body"]["session_id"] == f"S-{ref}"
    assert rig.journey()["state"] == "STOPPING" and rig.journey()["stop_reason"] == "driver"
    assert rig.journey()["reason"] == "stopped on the terminal, identified by the card used"
    await rig.result("ACCEPTED", command="STOP_SESSION")
    assert (await rig.screen())["properties"]["title"] == "Charging stopped"
    await rig.advance(5)
    assert rig.shown(mark) == [
        "journey.stop",
        "journey.stop_confirm",
        "journey.stopping",
        "journey.notice:Charging stopped",
        "journey.home",
    ]
    await rig.session("COMPLETED", kwh=3, ref=ref)
    await rig.cdr(kwh=3, ref=ref)
    assert rig.journey()["captured_amount"] == 163
    rig.assert_settled()


async def test_stop_refused_by_the_charger(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.advance(5)
    await rig.stop_with_card()
    await rig.press("yes")
    await rig.result("REJECTED", command="STOP_SESSION")
    screen = await rig.screen()
    assert screen["properties"]["message"].startswith("The charger did not stop")
    journey = rig.journey(ref)
    assert (journey["state"], journey["money"]) == ("CHARGING", "AUTHORIZED")


async def test_stop_before_the_session_began_voids(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card()
    await rig.result("ACCEPTED")  # no Session yet
    await rig.advance(5)
    await rig.stop_with_card()
    screen = await rig.press("yes")
    assert screen["properties"]["title"] == "Charging stopped"
    assert screen["properties"]["message"] == "No charge was made."
    journey = rig.journey()
    assert (journey["state"], journey["money"]) == ("VOIDED", "VOIDED")
    assert rig.sent() == ["START_SESSION"]
    rig.assert_settled()


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
    # No: Home, and the charging goes on.
    assert (await rig.press("no"))["id"] == "journey.home"
    assert rig.journey()["state"] == "CHARGING" and rig.sent() == ["START_SESSION"]
    await rig.press("stop")
    await rig.card("mastercard-approved")
    await rig.press("yes")
    assert rig.sent() == ["START_SESSION", "STOP_SESSION"]


async def test_choosing_the_session_without_the_card_is_a_setting(
    start_emulator: Any, http: Any
) -> None:
    rig = await make_rig(await start_emulator(poll_interval=0, journey_stop_list=True), http)
    try:
        ref = await rig.start_charging()
        await rig.session("ACTIVE", kwh=2, ref=ref)
        await rig.advance(5)
        stop = await rig.press("stop")
        assert stop["keys"] == ["s1", "back"]
        assert stop["properties"]["items.s1.label"] == "Charger NL*CPO*E1 · 2.00 kWh"
        assert stop["properties"]["subtitle"] == "Or tap the card you paid with"
        confirm = await rig.press("s1")
        assert confirm["id"] == "journey.stop_confirm"
        await rig.press("yes")
        assert rig.sent() == ["START_SESSION", "STOP_SESSION"]
        assert rig.journey()["reason"] == (
            "stopped on the terminal, identified by the session list, without the card"
        )
    finally:
        await rig.cpo.stop()


async def test_stop_at_the_preauthorized_limit(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.session("ACTIVE", kwh=80, cost=(41.32, 50.00), ref=ref)
    assert rig.sent() == ["START_SESSION", "STOP_SESSION"]
    assert rig.journey()["stop_reason"] == "pre-authorized amount reached"
    assert rig.journey()["state"] == "STOPPING"
    await rig.session("ACTIVE", kwh=81, cost=(41.80, 50.58), ref=ref)
    assert rig.sent() == ["START_SESSION", "STOP_SESSION"]  # once
    assert findings(rig.node, "PAYTER-06")
    await rig.session("COMPLETED", kwh=81, cost=(41.80, 50.58), ref=ref)
    await rig.cdr(kwh=92, ref=ref)  # 41.40 + 21% = 50.09
    journey = rig.journey()
    assert (journey["captured_amount"], journey["capture_status"]) == (5000, "PARTIAL_SUCCESS")


# --- the control API ----------------------------------------------------------------------------


async def test_journeys_control_api(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card()
    status, rows = await rig.admin("GET", "journeys")
    assert status == 200 and list(rows[0]) == list(JOURNEY_VIEW)
    row = rows[0]
    # The fields the issue lists: terminal, EVSE, authorization_reference, state, the
    # pre-authorized / captured / voided amounts and currency, capture status, the OCPI
    # session and CDR ids, and whether the FAC was delivered.
    assert row["serial_number"] == SERIAL and row["terminal_id"]
    assert (row["location_id"], row["evse_uid"], row["connector_id"]) == ("LOC-1", "EVSE-1", "1")
    assert row["authorization_reference"] == rig.start_body()["authorization_reference"]
    assert (row["state"], row["money"]) == ("STARTING", "AUTHORIZED")
    assert (row["preauthorized_amount"], row["currency"]) == (5000, "EUR")
    assert row["captured_amount"] is None and row["voided_amount"] is None
    assert row["capture_status"] is None and row["fac_delivered"] is False
    assert row["session_id"] is None and row["cdr_id"] is None
    status, one = await rig.admin("GET", f"journeys/{row['id']}")
    assert one == row
    assert [h["state"] for h in one["history"]] == ["PRESENTING", "AUTHORIZING", "STARTING"]
    status, body = await rig.admin("GET", "journeys/nope")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = await rig.admin("GET", f"journeys?serial_number={SERIAL}&state=STARTING")
    assert [r["id"] for r in body] == [row["id"]]
    status, body = await rig.admin("GET", "journeys?serial_number=OTHER")
    assert status == 200 and body == []
    status, body = await rig.admin("GET", "journeys?state=BOGUS")
    assert status == 400 and "CHARGING" in body["error"]["accepted"]
    status, body = await rig.admin("GET", "journeys?limit=x")
    assert status == 400 and body["error"]["code"] == "invalid_parameter"
    status, body = await rig.admin("GET", "journeys?limit=0")
    assert status == 400 and body["error"]["code"] == "invalid_parameter"


async def test_language_from_tariff_texts(rig: Rig) -> None:
    languages = await rig.press("language")
    assert languages["keys"] == ["en", "nl", "back"]
    home = await rig.press("nl")
    assert home["properties"]["items.start.label"] == "Laden starten"
    choose = await rig.press("start")
    assert choose["properties"]["title"] == "Kies een laadpunt"
    tariff = await rig.press("evse1")
    assert "€50.00" in tariff["properties"]["message"]
    assert tariff["properties"]["buttons.accept.label"] != "Accept"
    present = await rig.press("accept")
    assert present["properties"]["language"] == "nl"


# --- the financial advice confirmation ----------------------------------------------------------


@pytest.mark.parametrize(("policy", "facs"), [("invoice_reference_id", 0), ("always", 1)])
async def test_fac_policy_when_the_cdr_has_no_invoice_reference(
    start_emulator: Any, http: Any, policy: str, facs: int
) -> None:
    rig = await make_rig(await start_emulator(poll_interval=0, fac_policy=policy), http)
    try:
        ref = await rig.start_charging()
        await rig.session("COMPLETED", kwh=10, ref=ref)
        await rig.cdr(ref=ref)  # no invoice_reference_id: the CPO does not invoice
        journey = rig.journey()
        assert (journey["money"], journey["captured_amount"]) == ("CAPTURED", 545)
        assert len(rig.cpo.facs) == facs and journey["fac_delivered"] is bool(facs)
        assert (journey["fac_id"] is not None) is bool(facs)
    finally:
        await rig.cpo.stop()
