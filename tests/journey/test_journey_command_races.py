"""A CommandResult in any order with the synchronous answer to its command, each from a CPO
double that does exactly that (tests/cpo_double.py ``result_timing``): before the answer,
while it goes out, twice, or to a command id we never sent. Every order ends like a result
after the answer: the command RESULT_ACCEPTED, no OCPI-43 of any kind, the journey on to
charging with the money still AUTHORIZED, the STOP_SESSION the same way, and the journey
ending in exactly one capture."""

from __future__ import annotations

from typing import Any

import pytest
from journey_rig import Rig, make_rig

from emulator.app import EmulatorNode


@pytest.fixture
async def rig_for(start_emulator, http) -> Any:
    rigs: list[Rig] = []

    async def make(**cpo: Any) -> Rig:
        node: EmulatorNode = await start_emulator()
        rig = await make_rig(node, http, **cpo)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        await rig.cpo.stop()


async def settle(rig: Rig) -> None:
    await rig.cpo.settle()
    await rig.node.rt.background.drain()


def command_states(rig: Rig) -> dict[str, str]:
    return {c["command"]: c["state"] for c in rig.node.ptp.commands.list()}


async def journey_to_capture(rig: Rig) -> None:
    """Start (the double sends the start's result itself), charge, stop on the terminal (the
    stop's result too), then the Session completes and the CDR is captured."""
    await rig.to_card_screen()
    await rig.card()
    await settle(rig)
    start = rig.node.ptp.commands.list()[-1]
    assert (start["command"], start["state"]) == ("START_SESSION", "RESULT_ACCEPTED"), start
    journey = rig.journey()
    assert (journey["state"], journey["money"]) == ("STARTED", "AUTHORIZED"), journey
    await rig.session("ACTIVE", kwh=2)
    assert (rig.journey()["state"], rig.journey()["money"]) == ("CHARGING", "AUTHORIZED")
    await rig.advance(5)
    await rig.stop_with_card()
    await rig.press("yes")
    await settle(rig)
    assert command_states(rig)["STOP_SESSION"] == "RESULT_ACCEPTED"
    # Not stuck on "Stopping…": the driver is told, and the money is still there to capture.
    assert "journey.notice:Charging stopped" in rig.shown()
    assert rig.journey()["money"] == "AUTHORIZED"
    await rig.session("COMPLETED", kwh=3)
    await rig.cdr(kwh=3)
    journey = rig.journey()
    assert (journey["state"], journey["money"]) == ("COMPLETED", "CAPTURED"), journey
    rig.assert_settled()


@pytest.mark.parametrize("timing", ["before", "during", "twice"])
async def test_a_result_in_any_order_with_the_answer(rig_for, timing: str) -> None:
    rig = await rig_for(result_timing=timing)
    await journey_to_capture(rig)
    # Every result the double POSTed was answered in OCPI terms, the repeats included.
    assert rig.cpo.result_answers and all(
        status == 200 and env["status_code"] == 1000 for status, env in rig.cpo.result_answers
    ), rig.cpo.result_answers
    assert len(rig.cpo.result_answers) == (4 if timing == "twice" else 2)
    assert rig.rules() == set(), rig.node.rt.findings.list()


async def test_a_result_for_a_command_we_never_sent(rig_for) -> None:
    rig = await rig_for(result_timing="unknown")
    await rig.to_card_screen()
    await rig.card()
    await settle(rig)
    [(status, env)] = rig.cpo.result_answers
    assert status == 404 and env["status_code"] == 2000
    assert "unknown response_url" in env["status_message"]
    [finding] = rig.node.rt.findings.list()
    assert (finding["rule"], finding["severity"]) == ("OCPI-43", "warning")
    # The real result comes to the real response_url: the journey goes on.
    await rig.result("ACCEPTED")
    assert rig.journey()["state"] == "STARTED" and rig.journey()["money"] == "AUTHORIZED"


async def test_a_result_after_an_answer_with_data_in_a_list(rig_for, http) -> None:
    """The synchronous answer wraps the CommandResponse in a list: OCPI-06b, once; the
    CommandResult that follows is answered (no HTTP 500) and the journey goes on."""
    rig = await rig_for(command_answer=[{"result": "ACCEPTED", "timeout": 30}])
    await rig.to_card_screen()
    await rig.card()
    env = await rig.result("ACCEPTED")
    assert env["status_code"] == 1000, env
    assert command_states(rig)["START_SESSION"] == "RESULT_ACCEPTED"
    assert rig.journey()["state"] == "STARTED"
    assert {(f["rule"], f["severity"]) for f in rig.node.rt.findings.list()} == {
        ("OCPI-06b", "warning")
    }
    # A stored answer of any shape never breaks the result handler.
    for shape in ("not an envelope", {"data": "text"}, {"data": [1, 2]}, None):
        record = rig.node.ptp.commands.list()[-1]
        rig.node.rt.store.update("ocpi_commands", record["id"], {"response": shape, "result": None})
        assert (await rig.result("ACCEPTED"))["status_code"] == 1000
