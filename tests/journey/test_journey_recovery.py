"""What the CPO sent that never reached the emulator is pulled back before money moves.

A CPO pushes once and does not retry. When a push is lost (the emulator was down, the answer
got lost), the Session or CDR is still on the CPO's Senders: before a timeout settles the
pre-authorization (void for no Session, the last known cost for no CDR or no updates), and
after every restart, the emulator pulls them (``date_from`` since the journey began) through
the push path, so a CDR found that way captures exactly as a pushed one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from helpers import findings
from journey_rig import Rig, file_rig
from journey_rig import restart as restart_rig


@pytest.fixture
async def rig(tmp_path: Path, http: Any) -> AsyncIterator[Rig]:
    async for made in file_rig(tmp_path, http):
        yield made


async def restart(rig: Rig) -> None:
    await restart_rig(rig)
    await rig.node.rt.background.drain()  # the recovery runs in the background


def pulls(rig: Rig, module: str) -> list[str]:
    return [
        e["url"]
        for e in rig.node.rt.journal.list(direction="out", limit=10_000)
        if f"/{module}" in e["url"] and "date_from=" in e["url"]
    ]


async def test_an_overdue_session_is_pulled_before_the_void(rig: Rig) -> None:
    await rig.to_card_screen()
    await rig.card()
    ref = rig.start_body()["authorization_reference"]
    await rig.result("ACCEPTED", ref=ref)
    await rig.session("ACTIVE", 2.0, (1.0, 1.21), ref=ref, push=False)
    await rig.advance(rig.node.settings.session_start_timeout + 1)
    journey = rig.journey(ref)
    assert (journey["state"], journey["money"]) == ("CHARGING", "AUTHORIZED"), journey
    assert journey["session_id"] == f"S-{ref}"
    # date_from is when the journey began (less a margin for the clocks), not "24 h ago".
    [url] = pulls(rig, "sessions")
    assert "date_from=2025-03-01T08%3A55" in url
    assert "OCPI-46" not in rig.rules()


async def test_an_overdue_cdr_is_pulled_and_captured_as_a_pushed_one(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.session("COMPLETED", 10.0, (4.5, 5.45), ref=ref)
    await rig.cdr(10.0, ref=ref, push=False)
    await rig.advance(rig.node.settings.cdr_timeout + 1)
    journey = rig.journey(ref)
    assert (journey["money"], journey["cdr_id"], journey["captured_amount"]) == (
        "CAPTURED",
        f"CDR-{ref}",
        545,
    )
    # Not the last known cost: the CDR's total. It was never POSTed: noted.
    assert "PAYTER-05" not in rig.rules()
    [note] = [f for f in findings(rig.node, "OCPI-55") if "only on the CPO's CDRs" in f["message"]]
    assert note["severity"] == "info"
    rig.assert_settled()
    # The CPO's own POST of it, late: the one we have, quietly; no second capture.
    body = rig.cpo.cdrs[-1]
    await rig.push("POST", "cdrs", body=body)
    assert not [f for f in findings(rig.node, "OCPI-37") if "already POSTed" in f["message"]]
    assert rig.payment_steps().count("committed") == 1


async def test_silence_while_charging_pulls_before_the_last_known_cost(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.session("ACTIVE", 4.0, (1.8, 2.18), ref=ref)
    await rig.session("COMPLETED", 10.0, (4.5, 5.45), ref=ref, push=False)
    await rig.cdr(10.0, ref=ref, push=False)
    await rig.advance(rig.node.settings.session_update_timeout + 1)
    journey = rig.journey(ref)
    assert (journey["money"], journey["captured_amount"]) == ("CAPTURED", 545), journey
    assert "PAYTER-05" not in rig.rules()
    rig.assert_settled()


async def test_when_the_cpo_has_nothing_the_timeout_still_settles(rig: Rig) -> None:
    ref = await rig.start_charging()
    await rig.session("ACTIVE", 4.0, (1.8, 2.18), ref=ref)
    await rig.advance(rig.node.settings.session_update_timeout + 1)
    journey = rig.journey(ref)
    assert (journey["money"], journey["captured_amount"]) == ("CAPTURED", 218), journey
    assert "PAYTER-05" in rig.rules()
    assert pulls(rig, "sessions") and pulls(rig, "cdrs")


async def test_a_restart_pulls_what_the_cpo_sent_while_down(rig: Rig) -> None:
    """Killed just after STOP: the result, the last Session PATCH and the CDR all went into
    the void. The restart settles it at the CDR's total, not after 24 h."""
    ref = await rig.start_charging()
    await rig.node.stop()
    await rig.session("COMPLETED", 10.0, (4.5, 5.45), ref=ref, push=False)
    await rig.cdr(10.0, ref=ref, push=False)
    await restart(rig)
    journey = rig.journey(ref)
    assert (journey["money"], journey["captured_amount"], journey["state"]) == (
        "CAPTURED",
        545,
        "COMPLETED",
    ), journey
    rig.assert_settled()


def stored_unheard(rig: Rig, platform_id: int, cdr: dict[str, Any], ref: str) -> None:
    """A pushed CDR stored as the process dies: before the listeners heard of it."""
    rig.node.ptp.cdrs.save(
        cdr,
        platform_id=platform_id,
        version="2.3.0",
        source="push",
        now=rig.node.rt.now(),
        authorization_reference=ref,
        notified=0,
    )


async def test_a_stored_cdr_never_passed_on_is_passed_on_at_restart(rig: Rig) -> None:
    """The process died between storing a pushed CDR and telling the journey."""
    ref = await rig.start_charging()
    await rig.session("COMPLETED", 10.0, (4.5, 5.45), ref=ref)
    body = await rig.cdr(10.0, ref=ref, push=False)
    [platform] = rig.node.platforms.registered()
    stored_unheard(rig, platform.id, body, ref)
    assert rig.journey(ref)["money"] == "AUTHORIZED"
    await restart(rig)
    journey = rig.journey(ref)
    assert (journey["money"], journey["cdr_id"]) == ("CAPTURED", f"CDR-{ref}"), journey
    row = rig.node.ptp.cdrs.get(platform.id, "NL", "CPO", f"CDR-{ref}")
    assert row is not None and row["notified"] == 1
    rig.assert_settled()


async def test_one_stored_push_the_listeners_cannot_take_keeps_no_other_unheard(rig: Rig) -> None:
    """Recovery passes on every stored push it can: one that fails stays unheard (for a fixed
    emulator to pass on), the next is passed on all the same."""
    first = await rig.start_charging("evse1")
    await rig.advance(10)  # "Charging started" has gone: Home
    second = await rig.start_charging("evse2")
    ptp = rig.node.ptp
    [platform] = rig.node.platforms.registered()
    for ref in (first, second):
        await rig.session("COMPLETED", 10.0, (4.5, 5.45), ref=ref)
        stored_unheard(rig, platform.id, await rig.cdr(10.0, ref=ref, push=False), ref)

    def refuses_the_first(row: Any, command: Any) -> None:
        if row["object"]["id"] == f"CDR-{first}":
            raise RuntimeError("a listener's bug")

    ptp.cdr_listeners.insert(0, refuses_the_first)
    assert await ptp.recovery.pass_on_unheard() == 1
    assert rig.journey(first)["money"] == "AUTHORIZED"
    assert rig.journey(second)["money"] == "CAPTURED"
    rows = {ref: ptp.cdrs.get(platform.id, "NL", "CPO", f"CDR-{ref}") for ref in (first, second)}
    assert [rows[first]["notified"], rows[second]["notified"]] == [0, 1]
