"""Every error path of the journey ends in a defined screen and a defined money state.

Each test asserts the screens the driver saw (from the event stream), the OCPI messages the
CPO received, and where the money ended: nothing reserved, voided, or captured exactly once.
"""

from __future__ import annotations

from typing import Any

import ocpi_objects as obj
import pytest
from helpers import findings
from journey_rig import SERIAL, Rig, make_rig

TO_CARD = ["journey.choose", "journey.tariff", "payment:present_card"]
APPROVED = ["payment:processing", "journey.payment", "journey.notice:Approved"]


@pytest.fixture
async def rig(start_emulator: Any, http: Any):
    # No periodic crawl of the CPO: days pass in these tests, and the crawl is not their topic.
    rig = await make_rig(await start_emulator(poll_interval=0), http)
    yield rig
    await rig.cpo.stop()


def session_states(rig: Rig) -> list[str]:
    return [s["state"] for s in rig.payment_sessions()]


# --- the card -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("card", "reason"),
    [
        ("visa-declined", "Do not honour"),
        ("visa-insufficient-funds", "Insufficient funds"),
        ("visa-expired", "Expired card"),
        ("amex-declined", "Do not honour"),
    ],
)
async def test_declined_card(rig: Rig, card: str, reason: str) -> None:
    mark = rig.mark()
    await rig.to_card_screen()
    screen = await rig.card(card)
    assert screen["id"] == "journey.notice" and screen["properties"]["icon"] == "declined"
    assert screen["properties"]["message"] == reason
    assert screen["properties"]["advice"] == "Try another card"
    await rig.advance(3)
    assert rig.shown(mark) == [
        *TO_CARD,
        "payment:processing",
        "payter.message",  # Payter's own decline screen, replaced by the driver's language
        "journey.notice:Declined",
        "payment:present_card",  # "Try another card": the same start, the same amount
    ]
    declined, retry = rig.journeys()
    assert (declined["state"], declined["money"], declined["reason"]) == (
        "DECLINED",
        "NONE",
        reason,
    )
    assert (retry["state"], retry["money"], retry["evse_uid"]) == (
        "PRESENTING",
        "NONE",
        declined["evse_uid"],
    )
    assert rig.sent() == [] and rig.payment_sessions() == []
    assert rig.payment_steps(mark) == ["declined"]
    # The next card is read for the same start.
    assert (await rig.card("visa-approved"))["properties"]["title"] == "Approved"
    assert rig.journey()["money"] == "AUTHORIZED" and rig.sent() == ["START_SESSION"]


async def test_another_card_is_read_while_the_decline_is_on_the_screen(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card("visa-declined")
    assert (await rig.screen())["properties"]["title"] == "Declined"
    screen = await rig.card("visa-approved")  # no need to wait for the notice to go
    assert screen["properties"]["title"] == "Approved"
    assert [j["state"] for j in rig.journeys()] == ["DECLINED", "STARTING"]
    await rig.advance(3)  # the decline's notice ends: nothing of it comes back
    assert (await rig.screen())["id"] == "journey.starting"


async def test_no_second_card_after_a_decline_times_out_home(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card("visa-declined")
    await rig.advance(3)
    assert (await rig.screen())["properties"]["phase"] == "present_card"
    await rig.advance(60)  # the card-detect timeout
    assert [j["state"] for j in rig.journeys()] == ["DECLINED", "CARD_TIMEOUT"]
    await rig.advance(3)
    assert (await rig.screen())["id"] == "journey.home"
    assert rig.sent() == [] and rig.payment_sessions() == []


async def test_card_timeout_after_60_seconds(rig: Rig) -> None:
    """The present-card screen waits for the terminal's card-detect timeout (Payter's Apollo
    default: 60 s)."""
    mark = rig.mark()
    await rig.to_card_screen()
    await rig.advance(59)
    assert (await rig.screen())["properties"]["phase"] == "present_card"
    await rig.advance(1)
    journey = rig.journey()
    assert (journey["state"], journey["money"]) == ("CARD_TIMEOUT", "NONE")
    await rig.advance(3)
    assert rig.shown(mark) == [
        *TO_CARD,
        "journey.payment",
        "journey.notice:Timed out",
        "journey.home",
    ]
    assert rig.sent() == [] and rig.payment_sessions() == []
    # A card after the timeout is not read: the terminal no longer asks for one.
    status, body = await rig.present("visa-approved")
    assert status == 200 and body["result"] == "ignored" and body["reason"] == "not_reading"


async def test_acquirer_never_answers(rig: Rig) -> None:
    mark = rig.mark()
    await rig.to_card_screen()
    processing = await rig.card("visa-auth-timeout")
    assert processing["properties"]["phase"] == "processing"
    await rig.advance(209)
    assert rig.journeys()[0]["state"] != "DECLINED"
    await rig.advance(1)  # Apollo's Auth Session timeout: 3 min 30 s
    journey = rig.journeys()[0]
    assert (journey["state"], journey["money"]) == ("DECLINED", "NONE")
    assert journey["reason"] == "Response received too late"
    assert rig.payment_steps(mark) == ["authorizing", "declined"]
    assert rig.sent() == []


async def test_pin_entry_abandoned_after_30_seconds(rig: Rig) -> None:
    mark = rig.mark()
    await rig.to_card_screen()
    pin = await rig.card("visa-pin")
    assert pin["properties"]["phase"] == "pin"
    await rig.advance(20)
    await rig.press("1")  # each key gives the driver another 30 s
    await rig.advance(29)
    assert (await rig.screen())["properties"]["phase"] == "pin"
    await rig.advance(1)
    journey = rig.journeys()[0]
    assert (journey["state"], journey["money"]) == ("DECLINED", "NONE")
    assert journey["reason"] == "PIN entry timed out"
    assert rig.payment_steps(mark) == ["pin_required", "declined"]
    assert rig.shown(mark)[-1] == "journey.notice:Declined" and rig.sent() == []


async def test_pin_cancelled(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card("visa-pin")
    screen = await rig.press("cancel")
    assert screen["properties"]["title"] == "Declined"
    assert (rig.journeys()[0]["state"], rig.journeys()[0]["money"]) == ("DECLINED", "NONE")
    assert rig.sent() == []


# --- START_SESSION ------------------------------------------------------------------------------


def start_failed(rig: Rig, reason: str) -> dict[str, Any]:
    journey = rig.journey()
    assert (journey["state"], journey["reason"]) == ("START_FAILED", reason), journey
    assert journey["money"] == "VOIDED" and journey["voided_amount"] == 5000
    assert journey["captured_amount"] is None
    assert session_states(rig) == ["CANCELLED"]
    return journey


@pytest.mark.parametrize("answer", ["REJECTED", "NOT_SUPPORTED", "UNKNOWN_SESSION"])
async def test_start_session_answered_with_a_refusal(rig: Rig, answer: str) -> None:
    rig.cpo.command_answer = {"result": answer, "timeout": 30}
    mark = rig.mark()
    await rig.to_card_screen()
    screen = await rig.card()
    start_failed(rig, answer)
    assert screen["properties"]["title"] == "Could not start"
    assert screen["properties"]["message"] == ("The charger refused to start. No charge was made.")
    await rig.advance(5)
    assert rig.shown(mark) == [
        *TO_CARD,
        *APPROVED,
        "journey.notice:Could not start",
        "journey.home",
    ]
    assert rig.sent() == ["START_SESSION"]
    assert rig.payment_steps(mark) == ["authorized", "cancelled"]


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ("REJECTED", "The charger refused to start."),
        ("FAILED", "The charger refused to start."),
        ("NOT_SUPPORTED", "The charger refused to start."),
        ("TIMEOUT", "The charger did not answer."),
        ("EVSE_OCCUPIED", "The charger is not available."),
        ("EVSE_INOPERATIVE", "The charger is not available."),
    ],
)
async def test_start_session_result_is_a_failure(rig: Rig, result: str, message: str) -> None:
    mark = rig.mark()
    await rig.to_card_screen()
    await rig.card()
    await rig.advance(3)  # "Starting…" while the charger answers
    assert (await rig.screen())["id"] == "journey.starting"
    await rig.result(result)
    start_failed(rig, f"RESULT_{result}")
    screen = await rig.screen()
    assert screen["properties"]["message"] == f"{message} No charge was made."
    assert rig.shown(mark)[-3:] == [
        "journey.notice:Approved",
        "journey.starting",
        "journey.notice:Could not start",
    ]
    assert rig.sent() == ["START_SESSION"]


async def test_start_session_result_never_comes(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card()
    await rig.advance(3)
    await rig.advance(31)  # the CommandResponse's timeout (30 s) and a grace of 5 s
    assert rig.journey()["state"] == "STARTING" and rig.journey()["money"] == "AUTHORIZED"
    await rig.advance(1)
    start_failed(rig, "NO_RESULT")
    assert (await rig.screen())["properties"]["message"].startswith("The charger did not answer.")
    # "might never be send" (mod_commands): noted once, an info.
    assert rig.rules() == {"OCPI-43c"}
    # The result that comes late changes nothing: the money is already released.
    await rig.result("ACCEPTED")
    start_failed(rig, "NO_RESULT")
    assert rig.sent() == ["START_SESSION"]


async def test_accepted_but_no_session(rig: Rig) -> None:
    mark = rig.mark()
    await rig.to_card_screen()
    await rig.card()
    await rig.result("ACCEPTED")
    # One owner for the deadline: ptp watches the Session the START_SESSION owes (OCPI-55)
    # and tells the journey; the journey arms no timer of its own for it.
    timers = rig.node.rt.clock.pending_names()  # type: ignore[attr-defined]
    assert [t for t in timers if t.startswith("command-expect-")] != []
    assert [t for t in timers if t.startswith("journey-deadline-")] == []
    assert rig.journey()["deadline_kind"] == "session"
    assert rig.journey()["state"] == "STARTED"
    await rig.advance(299)
    assert rig.journey()["money"] == "AUTHORIZED"
    await rig.advance(1)
    journey = rig.journey()
    assert (journey["state"], journey["money"], journey["reason"]) == (
        "VOIDED",
        "VOIDED",
        "no session",
    )
    assert journey["voided_amount"] == 5000 and session_states(rig) == ["CANCELLED"]
    assert "OCPI-46" in rig.rules()
    assert "journey.notice:Charging started" in rig.shown(mark)
    # The charger starts after all: the emulator stops it (the driver was not charged).
    await rig.session("ACTIVE", kwh=1)
    assert rig.sent() == ["START_SESSION", "STOP_SESSION"]
    assert rig.journey()["money"] == "VOIDED" and session_states(rig) == ["CANCELLED"]


async def test_cpo_unreachable(rig: Rig) -> None:
    mark = rig.mark()
    await rig.to_card_screen()
    await rig.cpo.stop()
    screen = await rig.card()
    start_failed(rig, "UNREACHABLE")
    assert screen["properties"]["message"] == (
        "The charging network cannot be reached. No charge was made."
    )
    assert rig.shown(mark)[-1] == "journey.notice:Could not start"
    assert rig.sent() == []


async def test_cpo_unreachable_before_the_tariff(rig: Rig) -> None:
    await rig.press("start")
    await rig.cpo.stop()
    screen = await rig.press("evse1")
    assert screen["properties"]["title"] == "Could not start"
    assert screen["properties"]["message"] == "The charging network cannot be reached."
    assert rig.journeys() == [] and rig.payment_sessions() == []
    await rig.advance(5)
    assert (await rig.screen())["id"] == "journey.home"


async def test_cpo_answers_start_session_with_an_error(rig: Rig) -> None:
    rig.cpo.command_status = 3000
    rig.cpo.command_answer = {}
    await rig.to_card_screen()
    await rig.card()
    start_failed(rig, "ERROR")


# --- the EVSE -----------------------------------------------------------------------------------


async def evse_status(rig: Rig, uid: str, status: str, at: str) -> None:
    await rig.push(
        "PATCH",
        "locations",
        "NL",
        "CPO",
        "LOC-1",
        uid,
        body={"status": status, "last_updated": at},
    )


async def test_evse_becomes_unavailable_on_the_charger_list(rig: Rig) -> None:
    choose = await rig.press("start")
    assert "evse1" in choose["keys"]
    await evse_status(rig, "EVSE-1", "OUTOFORDER", "2025-03-01T09:05:00Z")
    choose = await rig.screen()  # redrawn live from the push
    assert "evse1" not in choose["keys"] and choose["properties"]["items.evse1.disabled"] == "true"
    assert "Out of order" in choose["properties"]["items.evse1.label"]
    status, body = await rig.admin("POST", f"terminals/{SERIAL}/press", {"key": "evse1"})
    assert status == 400 and body["error"]["code"] == "unknown_key"
    assert rig.journeys() == [] and rig.sent() == []


async def test_evse_becomes_unavailable_before_the_tariff(rig: Rig) -> None:
    await rig.press("start")
    # The live GET of the Location (before the tariff) shows the EVSE is now taken.
    rig.cpo.locations[0]["evses"][0]["status"] = "CHARGING"
    screen = await rig.press("evse1")
    assert screen["properties"]["title"] == "Could not start"
    assert screen["properties"]["message"] == "The charger is not available."
    assert rig.journeys() == [] and rig.sent() == []


async def test_evse_becomes_unavailable_on_the_tariff_screen(rig: Rig) -> None:
    await rig.press("start")
    await rig.press("evse1")
    await evse_status(rig, "EVSE-1", "RESERVED", "2025-03-01T09:05:00Z")
    screen = await rig.press("accept")
    assert screen["properties"]["title"] == "Could not start"
    assert rig.journeys() == [] and rig.payment_sessions() == [] and rig.sent() == []


async def test_evse_becomes_unavailable_while_the_card_is_presented(rig: Rig) -> None:
    mark = rig.mark()
    await rig.to_card_screen()
    await evse_status(rig, "EVSE-1", "CHARGING", "2025-03-01T09:05:00Z")
    screen = await rig.card()
    start_failed(rig, "EVSE_UNAVAILABLE")
    assert screen["properties"]["message"] == ("The charger is not available. No charge was made.")
    assert rig.shown(mark)[-1] == "journey.notice:Could not start"
    assert rig.sent() == []  # no START_SESSION for an EVSE that is taken


# --- the terminal goes offline ------------------------------------------------------------------


async def test_offline_while_the_card_is_presented(rig: Rig) -> None:
    mark = rig.mark()
    await rig.to_card_screen()
    await rig.offline()
    journey = rig.journey()
    assert (journey["state"], journey["money"]) == ("ABANDONED", "NONE")
    assert journey["reason"] == "terminal offline"
    assert (await rig.screen())["id"] == "payter.offline"
    status, body = await rig.present("visa-approved")
    assert body["result"] == "ignored" and body["reason"] == "offline"
    await rig.online()
    assert rig.shown(mark) == [*TO_CARD, "payter.offline", "journey.payment", "journey.home"]
    assert rig.sent() == [] and rig.payment_sessions() == []


async def test_offline_during_pin_entry(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card("visa-pin")
    await rig.offline()
    journey = rig.journey()
    assert (journey["state"], journey["money"], journey["reason"]) == (
        "DECLINED",
        "NONE",
        "Terminal offline",
    )
    await rig.online()
    assert (await rig.screen())["id"] == "journey.home"
    assert rig.sent() == [] and rig.payment_sessions() == []


async def test_offline_after_authorization_start_fails_void_waits_for_the_terminal(
    rig: Rig,
) -> None:
    await rig.to_card_screen()
    await rig.card()
    await rig.offline()
    await rig.result("REJECTED")
    journey = rig.journey()
    # The void is accepted by the offline terminal and carried out when it is back.
    assert (journey["state"], journey["money"]) == ("START_FAILED", "VOID_QUEUED")
    assert session_states(rig) == ["CANCELLED"]
    assert rig.payment_sessions()[0]["queued"] == "cancel"
    await rig.online()
    journey = rig.journey()
    assert journey["money"] == "VOIDED" and journey["voided_amount"] == 5000
    assert rig.payment_sessions()[0]["queued"] is None
    assert (await rig.screen())["id"] == "journey.home"
    rig.assert_settled()


async def test_offline_while_charging_does_not_stop_the_session(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.offline()
    await rig.session("ACTIVE", kwh=5, cost=(2.25, 2.72), ref=ref)
    assert rig.journey()["state"] == "CHARGING" and rig.journey()["session_cost"] == 272
    await rig.online()
    await rig.session("COMPLETED", kwh=10, cost=(4.50, 5.45), ref=ref)
    await rig.cdr(ref=ref)
    journey = rig.journey()
    assert (journey["money"], journey["captured_amount"]) == ("CAPTURED", 545)
    assert rig.sent() == ["START_SESSION"]
    rig.assert_settled()


async def test_offline_during_the_capture(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.session("COMPLETED", kwh=10, ref=ref)
    await rig.offline()
    await rig.cdr(ref=ref, invoice_reference_id="INV-7")
    journey = rig.journey()
    assert (journey["state"], journey["money"]) == ("CAPTURING", "CAPTURE_QUEUED")
    assert rig.cpo.facs == {}  # nothing captured yet, so no FAC
    await rig.advance(3600)
    assert rig.journey()["money"] == "CAPTURE_QUEUED"  # the CDR deadline does not capture twice
    await rig.online()
    await rig.advance(0)
    journey = rig.journey()
    assert (journey["state"], journey["money"]) == ("COMPLETED", "CAPTURED")
    assert journey["captured_amount"] == 545 and journey["fac_delivered"] is True
    [fac] = rig.cpo.facs.values()
    assert fac["authorization_reference"] == ref
    rig.assert_settled()


# --- the session and its CDR --------------------------------------------------------------------


async def test_cdr_never_comes(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.session("ACTIVE", kwh=6, cost=(2.70, 3.27), ref=ref)
    await rig.session("COMPLETED", kwh=6, cost=(2.70, 3.27), ref=ref)
    assert rig.journey()["deadline_kind"] == "cdr"
    await rig.advance(86399)
    assert rig.journey()["money"] == "AUTHORIZED"
    await rig.advance(1)
    journey = rig.journey()
    assert (journey["state"], journey["money"]) == ("COMPLETED", "CAPTURED")
    assert journey["captured_amount"] == 327 and journey["cdr_id"] is None
    assert "PAYTER-05" in rig.rules()
    # A CDR that comes after all cannot be captured a second time.
    await rig.cdr(ref=ref, kwh=6)
    assert rig.journey()["captured_amount"] == 327
    rig.assert_settled()


async def test_session_goes_silent(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.session("ACTIVE", kwh=3, cost=(1.35, 1.63), ref=ref)
    await rig.advance(86400 - 1)
    await rig.session("ACTIVE", kwh=4, cost=(1.80, 2.18), ref=ref)  # still followed
    await rig.advance(86400 - 1)
    assert rig.journey()["money"] == "AUTHORIZED"
    await rig.advance(1)
    journey = rig.journey()
    assert (journey["money"], journey["captured_amount"]) == ("CAPTURED", 218)
    assert journey["reason"].startswith("no Session update")
    assert "PAYTER-05" in rig.rules()
    rig.assert_settled()


async def test_session_without_cost_when_the_cdr_never_comes_is_voided(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.session("COMPLETED", kwh=0, ref=ref)
    await rig.advance(86400)
    journey = rig.journey()
    assert (journey["money"], journey["voided_amount"]) == ("VOIDED", 5000)
    rig.assert_settled()


async def test_cdr_above_the_authorization(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.session("COMPLETED", kwh=100, ref=ref)
    await rig.cdr(kwh=100.0, ref=ref, invoice_reference_id="INV-3")  # 54.45 > 50.00
    journey = rig.journey()
    assert journey["cdr_total"] == 5445
    assert (journey["captured_amount"], journey["capture_status"]) == (5000, "PARTIAL_SUCCESS")
    [fac] = rig.cpo.facs.values()
    assert fac["capture_status_code"] == "PARTIAL_SUCCESS"
    total = fac["total_costs"]
    assert round(total["before_taxes"] + sum(t["amount"] for t in total["taxes"]), 2) == 50.00
    assert "PAYTER-06" in rig.rules()
    rig.assert_settled()


@pytest.mark.parametrize(
    ("card", "captured", "status"),
    [("mastercard-capture-fails", 0, "FAILED"), ("mastercard-partial-capture", 1000, None)],
)
async def test_the_card_limits_the_capture(
    rig: Rig, card: str, captured: int, status: str | None
) -> None:
    await rig.to_card_screen()
    await rig.card(card)
    ref = rig.journey()["authorization_reference"]
    await rig.result("ACCEPTED", ref=ref)
    await rig.session("COMPLETED", kwh=30, ref=ref)
    await rig.cdr(kwh=30, ref=ref, invoice_reference_id="INV-4")  # 16.34
    journey = rig.journey()
    assert journey["money"] == "CAPTURED" and journey["captured_amount"] == captured
    [fac] = rig.cpo.facs.values()
    assert fac["capture_status_code"] == (status or "PARTIAL_SUCCESS")
    rig.assert_settled()


async def test_session_invalid(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.session("INVALID", ref=ref)
    journey = rig.journey()
    assert (journey["state"], journey["money"]) == ("VOIDED", "VOIDED")
    rig.assert_settled()


async def test_fac_retried_while_the_cpo_is_unreachable(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.session("COMPLETED", kwh=10, ref=ref)
    base = rig.cpo.base_url
    await rig.cpo.stop()
    await rig.cdr(ref=ref, invoice_reference_id="INV-5")
    journey = rig.journey()
    assert journey["money"] == "CAPTURED" and journey["fac_delivered"] is False
    await rig.cpo.start_on(base)
    await rig.advance(60)  # the first retry
    assert rig.journey()["fac_delivered"] is True
    [fac] = rig.cpo.facs.values()
    assert fac["authorization_reference"] == ref and fac["id"] == journey["fac_id"]


@pytest.mark.parametrize(
    ("tariff", "amount"),
    [
        ({}, "5000"),  # preauthorize_amount 50.00
        ({"preauthorize_amount": None}, "9680"),  # max_price incl. taxes
        ({"preauthorize_amount": None, "max_price": None}, "2500"),  # the setting
    ],
)
async def test_preauthorization_amount(
    start_emulator: Any, http: Any, tariff: dict[str, Any], amount: str
) -> None:
    rig = await make_rig(await start_emulator(default_preauth_amount=25), http)
    try:
        rig.cpo.tariffs = [obj.tariff(**tariff)]
        await rig.advance(600)  # the next crawl of the tariffs
        screen = await rig.to_card_screen()
        assert screen["properties"]["amount"] == amount
        await rig.card()
        assert rig.journey()["preauthorized_amount"] == int(amount)
        assert rig.payment_sessions()[0]["authorized_amount"] == int(amount)
    finally:
        await rig.cpo.stop()


@pytest.mark.parametrize("preauth", [0, -1, 30_000_000, 1e29])
async def test_a_tariff_no_card_can_be_authorized_for_cannot_start(
    start_emulator: Any, http: Any, preauth: float
) -> None:
    """Zero, negative, or beyond the terminal's 4-byte amounts: the driver is told there is no
    tariff, the CPO gets an OCPI-54 finding; no journey, nothing authorized."""
    rig = await make_rig(await start_emulator(), http)
    try:
        rig.cpo.tariffs = [obj.tariff(preauthorize_amount=preauth)]
        await rig.advance(600)  # the next crawl of the tariffs
        await rig.press("touch")
        assert (await rig.press("start"))["id"] == "journey.choose"
        screen = await rig.press("evse1")
        assert screen["id"] == "journey.notice", screen
        assert screen["properties"]["message"] == "No tariff is available for this charger."
        assert rig.journeys() == [] and rig.payment_sessions() == []
        [finding] = findings(rig.node, "OCPI-54")
        assert "not an amount a card can be authorized for" in finding["message"]
    finally:
        await rig.cpo.stop()


@pytest.mark.parametrize("cost", [1e29, 9.3e18])
async def test_a_cost_beyond_any_card_is_answered_and_captures_the_authorization(
    rig: Rig, cost: float
) -> None:
    """A CPO's absurd session cost is taken (1000), stops the session at the pre-authorized
    amount, and its CDR captures what was authorized: never a 500."""
    ref = await rig.start_charging()
    price = {"before_taxes": cost, "taxes": []}
    await rig.session("ACTIVE", kwh=3, ref=ref, total_cost=price)
    journey = rig.journey()
    assert (journey["state"], journey["money"]) == ("STOPPING", "AUTHORIZED"), journey
    assert journey["session_cost"] > journey["preauthorized_amount"]
    assert "STOP_SESSION" in rig.sent() and "PAYTER-06" in rig.rules()
    await rig.session("COMPLETED", kwh=3, ref=ref, total_cost=price)
    await rig.cdr(kwh=3, ref=ref, total_cost=price)
    journey = rig.journey()
    assert (journey["captured_amount"], journey["capture_status"]) == (5000, "PARTIAL_SUCCESS")
    rig.assert_settled()


# --- CDRs that cannot settle ---------------------------------------------------------------------


async def test_a_negative_cdr_during_charging_leaves_the_preauthorization_open(rig: Rig) -> None:
    """A CDR with a negative total (not a credit CDR) while the session is still active: no
    capture, no void, a finding; the real CDR that follows captures its total."""
    ref = await rig.start_charging()
    negative = obj.price(-5.0, -6.05)
    await rig.cdr(10.0, ref=ref, total_cost=negative, total_energy_cost=negative)
    journey = rig.journey(ref)
    assert (journey["money"], journey["cdr_id"], journey["state"]) == (
        "AUTHORIZED",
        None,
        "CHARGING",
    )
    assert "PAYTER-05" in rig.rules() and "OCPI-37b" in rig.rules()
    assert session_states(rig) == ["AUTHORIZED"]
    await rig.session("COMPLETED", 10.0, (4.5, 5.45), ref=ref)
    body = rig.start_body(ref)
    real = obj.cdr(
        f"CDR2-{ref}",
        kwh=10.0,
        ref=ref,
        session_id=f"S-{ref}",
        token=rig._token(body),
    )
    real["cdr_location"]["evse_uid"] = body["evse_uid"]
    await rig.push("POST", "cdrs", body=real)
    journey = rig.journey(ref)
    assert (journey["money"], journey["cdr_id"], journey["captured_amount"]) == (
        "CAPTURED",
        f"CDR2-{ref}",
        545,
    )
    rig.assert_settled()


async def test_a_second_cdr_is_a_finding_never_a_second_settlement(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.session("COMPLETED", 10.0, (4.5, 5.45), ref=ref)
    await rig.cdr(10.0, ref=ref)
    assert rig.journey(ref)["captured_amount"] == 545
    body = rig.start_body(ref)
    again = obj.cdr(
        f"CDR-bis-{ref}", kwh=20.0, ref=ref, session_id=f"S-{ref}", token=rig._token(body)
    )
    again["cdr_location"]["evse_uid"] = body["evse_uid"]
    await rig.push("POST", "cdrs", body=again)
    journey = rig.journey(ref)
    assert (journey["cdr_id"], journey["cdr_total"], journey["captured_amount"]) == (
        f"CDR-{ref}",
        545,
        545,
    )
    assert rig.payment_steps().count("committed") == 1
    [second] = [
        f for f in rig.node.rt.findings.list(rule="OCPI-55") if "second CDR" in f["message"]
    ]
    assert f"CDR-bis-{ref}" in second["message"]
    rig.assert_settled()


async def test_a_refused_tariff_cannot_start_with_one_finding(
    start_emulator: Any, http: Any
) -> None:
    """The CPO's tariff for the charger lacks a required field (2.3.0 tax_included): the
    driver is told there is no tariff; OCPI-30 is the one finding (no OCPI-54 or OCPI-41 that
    would say the tariff is not published)."""
    rig = await make_rig(await start_emulator(), http)
    try:
        broken = obj.tariff()
        del broken["tax_included"]
        rig.cpo.tariffs = [broken]
        await rig.advance(600)  # the next crawl of the tariffs
        await rig.press("touch")
        assert (await rig.press("start"))["id"] == "journey.choose"
        screen = await rig.press("evse1")
        assert screen["properties"]["message"] == "No tariff is available for this charger."
        assert rig.journeys() == [] and rig.payment_sessions() == []
        assert any(f["pointer"] == "/tax_included" for f in findings(rig.node, "OCPI-30"))
        assert findings(rig.node, "OCPI-54") == [] and findings(rig.node, "OCPI-41") == []
    finally:
        await rig.cpo.stop()
