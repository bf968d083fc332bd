"""Journeys survive a restart of the emulator: each pre-authorization still ends in exactly one
capture or one void, wherever the journey stood when the emulator stopped.

The emulator restarts on the same port and database at the same emulated time (a CPO posts
CommandResults to the response_url it was given). Where a restart can only fall between two
steps that otherwise run in one go, the test stops the journey right there: it detaches the
journey from the terminal (the terminal's answer never reaches it) or drops the command on its
way to the terminal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from journey_rig import SERIAL, Rig, file_rig, restart


@pytest.fixture
async def rig(tmp_path: Path, http: Any) -> AsyncIterator[Rig]:
    async for made in file_rig(tmp_path, http):
        yield made


def detach(rig: Rig) -> None:
    """The terminal's next answers do not reach the journey (it stops before they would)."""
    rig.node.terminals.unregister_controller("ocpi")


def states(rig: Rig) -> list[str]:
    return [s["state"] for s in rig.payment_sessions()]


# --- before the money moved ----------------------------------------------------------------------


async def test_restart_while_the_card_is_presented(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.advance(10)
    await restart(rig)
    screen = await rig.screen()
    assert screen["properties"]["phase"] == "present_card"  # still asking, 20 s left
    await rig.card()
    journey = rig.journey()
    assert (journey["state"], journey["money"]) == ("STARTING", "AUTHORIZED")
    assert rig.sent() == ["START_SESSION"]


async def test_card_timeout_runs_on_after_a_restart(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.advance(10)
    await restart(rig)
    await rig.advance(50)  # 60 s in all (the card-detect timeout)
    assert (rig.journey()["state"], rig.journey()["money"]) == ("CARD_TIMEOUT", "NONE")
    assert (await rig.screen())["properties"]["title"] == "Timed out"


async def test_restart_during_pin_entry(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card("visa-pin")
    await rig.press("1")
    await restart(rig)
    for key in "234":
        await rig.press(key)
    screen = await rig.press("ok")
    assert screen["properties"]["title"] == "Approved"
    assert rig.journey()["money"] == "AUTHORIZED" and rig.sent() == ["START_SESSION"]


async def test_approval_the_journey_never_heard_of_is_voided(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card("visa-pin")
    detach(rig)
    for key in "1234":
        await rig.press(key)
    await rig.press("ok")  # approved on the terminal, the journey stopped before it knew
    assert rig.journey()["money"] == "NONE" and states(rig) == ["AUTHORIZED"]
    await restart(rig)
    journey = rig.journey()
    assert (journey["state"], journey["money"], journey["reason"]) == (
        "START_FAILED",
        "VOIDED",
        "RESTART",
    )
    assert journey["voided_amount"] == 5000 and states(rig) == ["CANCELLED"]
    assert rig.sent() == []
    rig.assert_settled()


async def test_a_pre_authorization_without_a_journey_is_voided(rig: Rig) -> None:
    host = rig.node.terminals
    await host.start_reading(SERIAL, amount=1000, keep_screen=True)
    detach(rig)
    await host.present_card(SERIAL, "visa-approved")
    await host.authorize(SERIAL)
    assert states(rig) == ["AUTHORIZED"]
    await restart(rig)
    assert states(rig) == ["CANCELLED"] and rig.journeys() == []


# --- between the authorization and the session ---------------------------------------------------


async def test_restart_before_the_start_result_then_accepted(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card()
    await restart(rig)
    assert rig.journey()["state"] == "STARTING"
    assert (await rig.screen())["id"] == "journey.home"  # the driver's screen starts afresh
    await rig.result("ACCEPTED")
    await rig.session("ACTIVE", kwh=2)
    await rig.session("COMPLETED", kwh=10)
    await rig.cdr()
    journey = rig.journey()
    assert (journey["money"], journey["captured_amount"]) == ("CAPTURED", 545)
    rig.assert_settled()


async def test_restart_before_the_start_result_that_never_comes(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card()
    await restart(rig)
    await rig.advance(36)
    journey = rig.journey()
    assert (journey["state"], journey["reason"], journey["money"]) == (
        "START_FAILED",
        "NO_RESULT",
        "VOIDED",
    )
    rig.assert_settled()


async def test_restart_while_start_session_was_on_its_way(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card()
    # As if the emulator stopped while POSTing START_SESSION: no answer was recorded.
    command_id = rig.journey()["start_command_id"]
    rig.node.rt.store.update("ocpi_commands", command_id, {"state": "SENDING"})
    await restart(rig)
    journey = rig.journey()
    assert (journey["state"], journey["money"]) == ("START_FAILED", "VOIDED")
    # The charger started after all: it is stopped, the driver pays nothing.
    await rig.session("ACTIVE", kwh=1)
    assert rig.sent() == ["START_SESSION", "STOP_SESSION"]
    rig.assert_settled()


async def test_restart_waiting_for_the_session(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card()
    await rig.result("ACCEPTED")
    await rig.advance(100)
    await restart(rig)
    await rig.advance(199)
    assert rig.journey()["money"] == "AUTHORIZED"
    await rig.advance(1)
    assert (rig.journey()["state"], rig.journey()["money"]) == ("VOIDED", "VOIDED")
    rig.assert_settled()


# --- while charging ------------------------------------------------------------------------------


async def test_restart_while_charging_captures_once(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.session("ACTIVE", kwh=3, cost=(1.35, 1.63), ref=ref)
    await restart(rig)
    await rig.session("ACTIVE", kwh=80, cost=(41.32, 50.00), ref=ref)
    assert rig.sent() == ["START_SESSION", "STOP_SESSION"]  # the limit still holds
    await rig.session("COMPLETED", kwh=80, cost=(41.32, 50.00), ref=ref)
    await restart(rig)
    assert rig.journey()["state"] == "WAITING_CDR"
    await rig.cdr(kwh=80, ref=ref)  # 43.56
    journey = rig.journey()
    assert (journey["money"], journey["captured_amount"]) == ("CAPTURED", 4356)
    # The CDR deadline set before the restarts does not capture a second time.
    await rig.advance(86400 * 2)
    assert rig.journey()["captured_amount"] == 4356
    assert states(rig) == ["COMMITTED"]
    rig.assert_settled()


async def test_restart_after_the_limit_was_reached_before_stop_session_went_out(
    rig: Rig,
) -> None:
    ref = await rig.start_charging()
    journey_id = rig.journey()["id"]
    rig.node.journey.records.update(
        journey_id, state="STOPPING", stop_reason="pre-authorized amount reached"
    )
    await restart(rig)
    await rig.advance(0)
    assert rig.sent() == ["START_SESSION", "STOP_SESSION"]
    assert rig.cpo.commands[-1]["body"]["session_id"] == f"S-{ref}"


# --- after the CDR -------------------------------------------------------------------------------


async def test_restart_while_the_capture_waits_for_an_offline_terminal(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.session("COMPLETED", kwh=10, ref=ref)
    await rig.offline()
    await rig.cdr(ref=ref, invoice_reference_id="INV-1")
    assert rig.journey()["money"] == "CAPTURE_QUEUED"
    await restart(rig)
    assert rig.journey()["money"] == "CAPTURE_QUEUED" and rig.cpo.facs == {}
    await rig.online()
    await rig.advance(0)
    journey = rig.journey()
    assert (journey["money"], journey["captured_amount"]) == ("CAPTURED", 545)
    assert journey["fac_delivered"] is True and len(rig.cpo.facs) == 1
    rig.assert_settled()


async def test_restart_after_the_terminal_captured_before_the_journey_heard(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.session("COMPLETED", kwh=10, ref=ref)
    detach(rig)
    await rig.cdr(ref=ref, invoice_reference_id="INV-2")
    assert rig.journey()["money"] == "CAPTURING" and states(rig) == ["COMMITTED"]
    await restart(rig)
    await rig.advance(0)
    journey = rig.journey()
    assert (journey["money"], journey["captured_amount"]) == ("CAPTURED", 545)
    assert journey["fac_delivered"] is True
    [fac] = rig.cpo.facs.values()
    assert fac["authorization_reference"] == ref
    rig.assert_settled()


async def test_restart_before_the_capture_reached_the_terminal(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.session("COMPLETED", kwh=10, ref=ref)

    async def lost(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {}

    rig.node.terminals.commit = lost  # type: ignore[method-assign]
    await rig.cdr(ref=ref)
    assert rig.journey()["money"] == "CAPTURING" and states(rig) == ["AUTHORIZED"]
    await restart(rig)
    journey = rig.journey()
    assert (journey["money"], journey["captured_amount"]) == ("CAPTURED", 545)
    assert states(rig) == ["COMMITTED"]
    rig.assert_settled()


async def test_restart_before_the_void_reached_the_terminal(rig: Rig) -> None:
    rig.cpo.command_answer = {"result": "REJECTED"}

    async def lost(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {}

    rig.node.terminals.cancel = lost  # type: ignore[method-assign]
    await rig.to_card_screen()
    await rig.card()
    assert rig.journey()["money"] == "VOIDING" and states(rig) == ["AUTHORIZED"]
    await restart(rig)
    journey = rig.journey()
    assert (journey["money"], journey["voided_amount"]) == ("VOIDED", 5000)
    assert states(rig) == ["CANCELLED"]
    rig.assert_settled()


async def test_restart_before_the_fac_reached_the_cpo(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.session("COMPLETED", kwh=10, ref=ref)
    base = rig.cpo.base_url
    await rig.cpo.stop()
    await rig.cdr(ref=ref, invoice_reference_id="INV-3")
    assert rig.journey()["fac_delivered"] is False
    await rig.cpo.start_on(base)
    await restart(rig)
    await rig.advance(0)
    assert rig.journey()["fac_delivered"] is True and len(rig.cpo.facs) == 1


async def test_restart_between_the_capture_and_its_fac(rig: Rig) -> None:
    """Killed after the capture was recorded, before the FAC it owes was made: the restart
    makes it (once: a second restart makes no other)."""
    ref = await rig.start_charging()
    await rig.session("COMPLETED", kwh=10, ref=ref)

    async def died(*args: Any, **kwargs: Any) -> None:
        return None

    rig.node.journey._financial_advice = died  # type: ignore[method-assign]
    await rig.cdr(ref=ref, invoice_reference_id="INV-4")
    journey = rig.journey()
    assert (journey["money"], journey["fac_id"]) == ("CAPTURED", None)
    assert rig.node.ptp.payments.facs() == []
    await restart(rig)
    await rig.advance(0)
    journey = rig.journey()
    assert journey["fac_id"] is not None and journey["fac_delivered"] is True
    [fac] = rig.cpo.facs.values()
    assert fac["authorization_reference"] == ref and fac["id"] == journey["fac_id"]
    # What the terminal reported of the capture, as a FAC made at once would carry it.
    assert fac["capture_status_code"] == "SUCCESS" and fac["eft_data"] != ["CARD"]
    await restart(rig)
    await rig.advance(0)
    assert [f["id"] for f in rig.node.ptp.payments.facs()] == [journey["fac_id"]]
    assert len(rig.cpo.facs) == 1
    rig.assert_settled()


async def test_restart_after_the_fac_was_made_before_the_journey_named_it(rig: Rig) -> None:
    """Killed between making the FAC and the journey naming it: that FAC, never a second."""
    ref = await rig.start_charging()
    await rig.session("COMPLETED", kwh=10, ref=ref)
    controller = rig.node.journey
    payments = rig.node.ptp.payments

    async def made_then_died(journey_id: str, fac: Any) -> None:
        journey = controller.records.get(journey_id)
        assert journey is not None
        platform = rig.node.platforms.get(journey.platform_id)
        assert platform is not None
        payments.create_fac(
            platform,
            authorization_reference=journey.authorization_reference or "",
            total_costs={"before_taxes": "4.50", "taxes": []},
            currency=journey.currency,
            eft_data=list(fac.eft_data),
            capture_status_code=fac.capture_status,
            terminal_id=journey.terminal_id,
        )

    controller._financial_advice = made_then_died  # type: ignore[method-assign]
    await rig.cdr(ref=ref, invoice_reference_id="INV-5")
    [made] = payments.facs()
    assert rig.journey()["fac_id"] is None and rig.cpo.facs == {}
    await restart(rig)
    await rig.advance(0)
    journey = rig.journey()
    assert journey["fac_id"] == made["id"] and journey["fac_delivered"] is True
    assert [f["id"] for f in rig.node.ptp.payments.facs()] == [made["id"]]
    assert list(rig.cpo.facs) == [made["id"]]
    rig.assert_settled()


async def test_restart_makes_no_fac_a_capture_did_not_owe(rig: Rig) -> None:
    """No invoice_reference_id (and fac_policy not 'always'): nothing owed, nothing made."""
    ref = await rig.start_charging()
    await rig.session("COMPLETED", kwh=10, ref=ref)
    await rig.cdr(ref=ref)
    assert rig.journey()["money"] == "CAPTURED"
    await restart(rig)
    await rig.advance(0)
    assert rig.journey()["fac_id"] is None
    assert rig.node.ptp.payments.facs() == [] and rig.cpo.facs == {}
