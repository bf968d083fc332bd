"""The journey's screen model (journey-screens.md): its rules and timeouts, several sessions on
one terminal, PIN entry, media the OCPI journey does not take, and outcomes forced through the
control API."""

from __future__ import annotations

from typing import Any

import pytest
from journey_rig import SERIAL, Rig, make_rig


@pytest.fixture
async def rig(start_emulator: Any, http: Any):
    rig = await make_rig(await start_emulator(poll_interval=0), http)
    yield rig
    await rig.cpo.stop()


async def ignored(rig: Rig, card: str = "visa-approved", medium: str = "contactless") -> dict:
    mark = rig.mark()
    before = await rig.screen()
    status, body = await rig.present(card, medium)
    assert status == 200 and body["result"] == "ignored", body
    [event] = [e for e in rig.collect()[mark:] if e["kind"] == "terminal.card_ignored"]
    assert event["reason"] == body["reason"] and event["message"] == body["message"]
    after = await rig.screen()
    assert after == before, "an ignored card changes nothing on the screen"
    return body


# --- rules ---------------------------------------------------------------------------------------


async def test_a_card_outside_screens_5_12_and_15_is_ignored_and_reported(rig: Rig) -> None:
    body = await ignored(rig)  # 1 Home
    assert body["reason"] == "not_reading" and "journey.home" in body["message"]
    await rig.press("start")
    await ignored(rig)  # 3 Choose charger
    await rig.press("evse1")
    await ignored(rig)  # 4 Tariff
    await rig.press("cancel")
    await rig.press("language")
    await ignored(rig)  # 17 Language
    await rig.press("back")
    await rig.press("stop")
    await ignored(rig)  # 12 without a session to stop: nothing to identify
    await rig.press("back")
    await rig.to_card_screen()
    await rig.card()
    await ignored(rig)  # 8 Approved
    await rig.advance(3)
    await ignored(rig)  # 9 Starting
    await rig.result("ACCEPTED")
    await ignored(rig)  # 11 Charging started
    assert len(rig.journeys()) == 1 and rig.sent() == ["START_SESSION"]


async def test_screensaver_after_30_seconds_woken_by_touch_or_card(rig: Rig) -> None:
    await rig.advance(29)
    assert (await rig.screen())["id"] == "journey.home"
    await rig.advance(1)
    saver = await rig.screen()
    assert saver["type"] == "screensaver" and saver["keys"] == ["touch"]
    assert (await rig.press("touch"))["id"] == "journey.home"
    await rig.advance(30)
    assert (await rig.screen())["type"] == "screensaver"
    status, body = await rig.present("visa-approved")
    assert body["result"] == "ignored"  # the card wakes the terminal, it pays for nothing
    assert (await rig.screen())["id"] == "journey.home"


@pytest.mark.parametrize(
    ("keys", "screen", "seconds"),
    [
        (["start"], "journey.choose", 30),
        (["start", "evse1"], "journey.tariff", 60),
        (["language"], "journey.language", 30),
        (["stop"], "journey.stop", 30),
        (["receipt"], "journey.receipts", 30),
    ],
)
async def test_screen_inactivity_returns_home(
    rig: Rig, keys: list[str], screen: str, seconds: int
) -> None:
    for key in keys:
        shown = await rig.press(key)
    assert shown["id"] == screen
    await rig.advance(seconds - 1)
    assert (await rig.screen())["id"] == screen
    await rig.advance(1)
    assert (await rig.screen())["id"] == "journey.home"


async def test_stop_screens_return_home_after_30_seconds(rig: Rig) -> None:
    await rig.start_charging()
    await rig.advance(5)
    confirm = await rig.stop_with_card()
    assert confirm["id"] == "journey.stop_confirm"
    await rig.advance(30)
    assert (await rig.screen())["id"] == "journey.home"
    assert rig.sent() == ["START_SESSION"]
    # The stop screen read cards for 30 s; a card after it went Home is ignored.
    await rig.press("stop")
    await rig.advance(30)
    assert (await ignored(rig))["reason"] == "not_reading"


async def test_out_of_service(rig: Rig) -> None:
    await rig.offline()
    screen = await rig.screen()
    assert (screen["id"], screen["properties"]["title"]) == ("payter.offline", "Out of service")
    status, body = await rig.admin("POST", f"terminals/{SERIAL}/press", {"key": "start"})
    assert status == 400 and body["error"]["accepted"] == []
    await rig.online()
    assert (await rig.screen())["id"] == "journey.home"
    # No EVSE assigned to the terminal: out of service (screen 18).
    [terminal] = rig.node.ptp.payments.terminals()
    base = rig.node.server.endpoint_url("2.3.0", "payments") + "/terminals"
    await rig.push(
        "PATCH",
        "payments",
        "terminals",
        terminal["terminal_id"],
        body={"location_ids": [], "last_updated": "2025-03-01T09:10:00Z"},
    )
    assert base
    out = await rig.screen()
    assert (out["id"], out["keys"]) == ("journey.out", [])
    # Why, for the person at the control API (and the TUI's status line).
    terminal_view = await rig.terminal()
    assert terminal_view["out_of_service"] == "no chargers assigned to this terminal"
    assert out["view"]["out_of_service"] == "no chargers assigned to this terminal"


# --- several sessions on one terminal ------------------------------------------------------------


async def test_two_connectors_charging_at_once_from_one_terminal(rig: Rig) -> None:
    first = await rig.start_charging("evse1", "visa-approved")
    # The terminal is free for the next driver as soon as the session has started.
    await rig.advance(5)
    assert (await rig.screen())["id"] == "journey.home"
    second = await rig.start_charging("evse2", "mastercard-approved")
    assert first != second
    assert [rig.start_body(r)["evse_uid"] for r in (first, second)] == ["EVSE-1", "EVSE-2"]
    assert {rig.journey(r)["state"] for r in (first, second)} == {"CHARGING"}
    sessions = (await rig.terminal())["sessions"]
    assert len(sessions) == 2 and {s["state"] for s in sessions} == {"AUTHORIZED"}
    await rig.session("ACTIVE", kwh=5, cost=(2.25, 2.72), ref=first)
    await rig.session("ACTIVE", kwh=8, cost=(3.60, 4.36), ref=second)
    await rig.advance(5)
    stop = await rig.press("stop")
    assert stop["keys"] == ["back"]  # no list: the card tells the sessions apart
    # The second driver taps the card that paid: the second session is the one stopped.
    confirm = await rig.card("mastercard-approved")
    assert confirm["properties"]["message"] == "Stop charging on charger NL*CPO*E2?"
    await rig.press("yes")
    assert rig.cpo.commands[-1]["body"]["session_id"] == f"S-{second}"
    await rig.result("ACCEPTED", command="STOP_SESSION")
    await rig.session("COMPLETED", kwh=8, cost=(3.60, 4.36), ref=second)
    await rig.cdr(kwh=8, ref=second)
    assert rig.journey(second)["captured_amount"] == 436
    assert rig.journey(first)["money"] == "AUTHORIZED"  # the first one charges on
    await rig.session("COMPLETED", kwh=20, ref=first)
    await rig.cdr(kwh=20, ref=first)
    assert rig.journey(first)["captured_amount"] == 1089
    rig.assert_settled()


async def test_an_evse_in_use_cannot_be_chosen_by_the_next_driver(rig: Rig) -> None:
    await rig.start_charging("evse1")
    await rig.push(
        "PATCH",
        "locations",
        "NL",
        "CPO",
        "LOC-1",
        "EVSE-1",
        body={"status": "CHARGING", "last_updated": "2025-03-01T09:05:00Z"},
    )
    await rig.advance(5)
    choose = await rig.press("start")
    assert choose["keys"] == ["evse2", "back"]
    assert "In use" in choose["properties"]["items.evse1.label"]


# --- PIN -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("card", "medium"), [("visa-pin", "contactless"), ("maestro-pin", "chip")])
async def test_pin_entry(rig: Rig, card: str, medium: str) -> None:
    mark = rig.mark()
    await rig.to_card_screen()
    pin = await rig.card(card, medium)
    assert pin["properties"]["phase"] == "pin" and pin["properties"]["pin"] == ""
    assert {"0", "9", "ok", "clear", "cancel"} <= set(pin["keys"])
    for digit in "1234":
        pin = await rig.press(digit)
    assert pin["properties"]["pin"] == "****"
    assert rig.journey()["state"] == "AUTHORIZING" and rig.sent() == []
    approved = await rig.press("ok")
    assert approved["properties"]["title"] == "Approved"
    assert rig.payment_steps(mark) == ["pin_required", "authorized"]
    assert rig.sent() == ["START_SESSION"] and rig.journey()["money"] == "AUTHORIZED"
    assert rig.journey()["card"]["medium"] == medium


async def test_a_chip_only_card_cannot_be_tapped(rig: Rig) -> None:
    await rig.to_card_screen()
    status, body = await rig.present("maestro-pin", "contactless")
    assert status == 400 and body["error"]["code"] == "medium_not_supported"
    assert body["error"]["supported"] == ["chip"]
    assert rig.journey()["state"] == "PRESENTING"


# --- QR codes and RFID cards ---------------------------------------------------------------------


@pytest.mark.parametrize(("card", "medium"), [("EMU-QR-0001", "qr"), ("5A1B2C3D", "rfid")])
async def test_qr_and_rfid_are_not_payment_on_the_ocpi_journey(
    rig: Rig, card: str, medium: str
) -> None:
    await rig.to_card_screen()
    body = await ignored(rig, card, medium)
    assert body["reason"] == "medium_not_accepted"
    assert body["message"] == f"the terminal reads contactless, chip now, not {medium}"
    assert rig.journey()["state"] == "PRESENTING" and rig.payment_sessions() == []
    # The driver can still pay with a card.
    assert (await rig.card())["properties"]["title"] == "Approved"
    # Nor do they identify a driver on the stop screen.
    await rig.result("ACCEPTED")
    await rig.advance(5)
    await rig.press("stop")
    assert (await ignored(rig, card, medium))["reason"] == "medium_not_accepted"


# --- outcomes forced through the control API -----------------------------------------------------


async def force(rig: Rig, outcome: str | None) -> None:
    status, body = await rig.admin("POST", f"terminals/{SERIAL}/outcome", {"outcome": outcome})
    assert status == 200 and body["forced_outcome"] == outcome, body


async def test_forced_decline_beats_an_approved_card(rig: Rig) -> None:
    await force(rig, "insufficient_funds")
    await rig.to_card_screen()
    screen = await rig.card("visa-approved")
    assert screen["properties"]["message"] == "Insufficient funds"
    assert (rig.journeys()[0]["state"], rig.journeys()[0]["money"]) == ("DECLINED", "NONE")
    await force(rig, None)
    await rig.advance(3)  # "Try another card": the present-card screen is back
    assert (await rig.card("visa-approved"))["properties"]["title"] == "Approved"


@pytest.mark.parametrize(
    ("outcome", "captured", "status"),
    [("capture_fails", 0, "FAILED"), ("partial_capture", 272, "PARTIAL_SUCCESS")],
)
async def test_forced_capture_outcomes(rig: Rig, outcome: str, captured: int, status: str) -> None:
    await force(rig, outcome)
    ref = await rig.start_charging()
    await rig.session("COMPLETED", kwh=10, ref=ref)
    await rig.cdr(ref=ref)  # 5.45
    journey = rig.journey()
    assert (journey["captured_amount"], journey["capture_status"]) == (captured, status)
    rig.assert_settled()


async def test_forced_pin_and_authorization_timeout(rig: Rig) -> None:
    await force(rig, "pin_required")
    await rig.to_card_screen()
    assert (await rig.card("visa-approved"))["properties"]["phase"] == "pin"
    await rig.press("cancel")
    await rig.advance(3)
    await force(rig, "auth_timeout")
    assert (await rig.screen())["properties"]["phase"] == "present_card"
    assert (await rig.card("visa-approved"))["properties"]["phase"] == "processing"
    await rig.advance(210)  # Apollo's Auth Session timeout: 3 min 30 s
    assert rig.journeys()[-2]["reason"] == "Response received too late"


async def test_an_unknown_outcome_is_refused(rig: Rig) -> None:
    status, body = await rig.admin("POST", f"terminals/{SERIAL}/outcome", {"outcome": "maybe"})
    assert status == 400 and "approved" in body["error"]["accepted"]
    status, body = await rig.admin("POST", f"terminals/{SERIAL}/outcome", {})
    assert status == 400 and body["error"]["code"] == "missing_field"


async def test_a_fresh_emulator_says_its_terminal_waits_for_a_cpo(start_emulator, http) -> None:
    """`serve` with no CPO registered: Out of service, and the control API says why."""
    from helpers import admin

    node = await start_emulator()
    status, terminal = await admin(http, node, "GET", f"terminals/{SERIAL}")
    assert status == 200 and terminal["screen"]["id"] == "journey.out"
    assert terminal["screen"]["properties"]["title"] == "Out of service"
    assert terminal["out_of_service"] == "no CPO registered"
