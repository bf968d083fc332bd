"""The host: storage, timers on the manual clock, events, controllers, restart."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from helpers import make_settings

from emulator.app import EmulatorNode, build_emulator
from emulator.clock import ManualClock
from emulator.runtime import build_runtime
from emulator.terminal.device import Effect, ErrorKind, TerminalError, Timeouts
from emulator.terminal.host import TerminalHost

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)  # the manual clock's start in the `node` fixture


def clock_of(node: EmulatorNode) -> ManualClock:
    clock = node.rt.clock
    assert isinstance(clock, ManualClock)
    return clock


def events(node: EmulatorNode, kind: str) -> list[dict[str, Any]]:
    return [e.data for e in node.rt.bus.recent(kinds={kind})]


class Recorder:
    def __init__(self) -> None:
        self.batches: list[tuple[str, list[str]]] = []

    async def on_effects(self, host: TerminalHost, serial: str, effects: Sequence[Effect]) -> None:
        self.batches.append((serial, [e.kind for e in effects]))


async def until(predicate: Any) -> None:
    """Let other tasks run (no wall-clock wait) until ``predicate()`` holds."""
    for _ in range(100):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


async def test_create_get_list(node: EmulatorNode) -> None:
    host = node.terminals
    created = await host.create("APO2", "Polar", mode="cps", currency="gbp")
    await host.create("APO1")
    assert (created["model"], created["mode"], created["currency"]) == ("Polar", "cps", "GBP")
    assert created["created_at"] == "2025-01-01T12:00:00Z"
    assert created["screen"]["id"] == "payter.idle"
    assert [t["serial_number"] for t in host.list()] == ["APO1", "APO2"]
    assert host.exists("APO1") and not host.exists("APO3")
    assert events(node, "terminal.created")[0] == {
        "serial_number": "APO2",
        "model": "Polar",
        "mode": "cps",
    }


async def test_create_errors(node: EmulatorNode) -> None:
    host = node.terminals
    await host.create("APO1")
    with pytest.raises(TerminalError) as err:
        await host.create("APO1")
    assert (err.value.kind, err.value.code) == (ErrorKind.CONFLICT, "terminal_exists")
    assert (await host.create("APO1", exist_ok=True))["serial_number"] == "APO1"
    for kwargs, code in [
        ({"serial_number": "a/b"}, "invalid_serial_number"),
        ({"serial_number": "X1", "mode": "psp"}, "invalid_mode"),
        ({"serial_number": "X1", "model": "P70"}, "invalid_model"),
        # The P6X family does not support OCPI (mode 'ocpi' is the default).
        ({"serial_number": "X1", "model": "P68"}, "p6x_no_ocpi"),
    ]:
        with pytest.raises(TerminalError) as err:
            await host.create(**kwargs)
        assert err.value.code == code
    assert not host.exists("X1")
    with pytest.raises(TerminalError) as err:
        host.get("nope")
    assert (err.value.kind, err.value.code) == (ErrorKind.NOT_FOUND, "unknown_terminal")


async def test_a_journey_publishes_events_and_persists(node: EmulatorNode) -> None:
    host = node.terminals
    await host.create("APO1")
    await host.start_reading("APO1", amount=5000)
    read = await host.present_card("APO1", "4111 1111 1111 1111")
    assert read["result"] == "read" and read["maskedPan"] == "411111******1111"
    stored = node.rt.store.get("terminal_devices", "APO1")
    assert stored is not None and stored["device"]["state"] == "CARD"

    result = await host.authorize("APO1")
    assert result["status"] == "authorized"
    session_id = result["session_id"]
    assert result["session"]["authorized_amount"] == 5000
    committed = await host.commit("APO1", session_id, 4200)
    assert (committed["state"], committed["captured_amount"]) == ("COMMITTED", 4200)

    card = events(node, "terminal.card")[0]
    assert card["serial_number"] == "APO1" and card["serialNumber"] == "APO1"
    assert card["ifd"] == "CONTACTLESS"
    steps = [(e["step"], e["session_id"]) for e in events(node, "terminal.payment")]
    assert steps == [("authorized", session_id), ("committed", session_id)]
    states = [e["state"] for e in events(node, "terminal.state")]
    assert states == ["IDLE", "READING", "CARD", "IDLE"]
    assert [s["session_id"] for s in host.sessions("APO1")] == [session_id]
    assert host.get("APO1")["sessions"] == []  # only open sessions on the terminal view


async def test_card_presentation_timeout_on_the_manual_clock(node: EmulatorNode) -> None:
    host = node.terminals
    clock = clock_of(node)
    await host.create("APO1")
    await host.start_reading("APO1", amount=5000)
    await clock.advance(59.9)  # Payter's card-detect timeout: 60 s by default
    assert host.get("APO1")["state"] == "READING"
    await clock.advance(0.1)
    assert host.get("APO1")["state"] == "IDLE"
    assert events(node, "terminal.reading") == [{"reason": "timeout", "serial_number": "APO1"}]
    # The idle screen is back and the screensaver follows 30 s later.
    await clock.advance(30)
    assert host.get("APO1")["screen"]["type"] == "screensaver"


async def test_cancelled_timer_does_not_fire(node: EmulatorNode) -> None:
    host = node.terminals
    clock = clock_of(node)
    await host.create("APO1")
    await host.start_reading("APO1", amount=5000)
    await host.stop_reading("APO1")
    await host.start_reading("APO1", amount=5000)  # a fresh 60 s from now
    await clock.advance(40)
    await host.start_reading("APO1", amount=5000)  # and again
    await clock.advance(40)
    assert host.get("APO1")["state"] == "READING"
    await clock.advance(20)
    assert host.get("APO1")["state"] == "IDLE"
    assert len(events(node, "terminal.reading")) == 2  # one stop, one timeout


async def test_restart_rearms_pending_timers(node: EmulatorNode) -> None:
    host = node.terminals
    clock = clock_of(node)
    await host.create("APO1")
    await host.create("APO2")
    await host.start_reading("APO1", amount=5000)
    await host.start_reading("APO2", amount=5000)
    await host.present_card("APO2", "visa-approved")
    await clock.advance(10)
    host.close()  # the process stops; its timers go with it

    rt = build_runtime(node.rt.settings, clock=clock, store=node.rt.store)
    restarted = TerminalHost(rt)
    await restarted.start()
    assert restarted.get("APO1")["state"] == "READING"
    # The card read timeout of APO2 (30 s) first, then APO1's card-detect timeout (60 s).
    assert clock.next_due() == T0 + timedelta(seconds=30)
    await clock.advance(20)
    assert restarted.get("APO2")["state"] == "IDLE"
    await clock.advance(29)
    assert restarted.get("APO1")["state"] == "READING"
    await clock.advance(1)
    assert restarted.get("APO1")["state"] == "IDLE"
    assert restarted.get("APO2")["state"] == "IDLE"  # card read timeout re-armed too
    reasons = {
        e.data["serial_number"]: e.data["reason"] for e in rt.bus.recent(kinds={"terminal.reading"})
    }
    assert reasons == {"APO1": "timeout", "APO2": "card_timeout"}


async def test_restart_keeps_sessions_and_lazy_loads(node: EmulatorNode) -> None:
    host = node.terminals
    await host.create("APO1")
    await host.start_reading("APO1", amount=5000)
    await host.present_card("APO1", "visa-approved")
    session_id = (await host.authorize("APO1"))["session_id"]
    host.close()

    restarted = TerminalHost(
        build_runtime(node.rt.settings, clock=node.rt.clock, store=node.rt.store)
    )
    # Not started: the first use loads the terminal from the store.
    committed = await restarted.commit("APO1", session_id, 100)
    assert committed["capture_status"] == "SUCCESS"
    with pytest.raises(TerminalError) as err:
        await restarted.commit("APO1", session_id, 100)
    assert err.value.kind is ErrorKind.CONFLICT


async def test_effects_go_to_the_controller_of_the_terminals_mode(node: EmulatorNode) -> None:
    host = node.terminals
    ocpi, cps = Recorder(), Recorder()
    host.register_controller("ocpi", ocpi)
    await host.create("OCPI1")
    await host.create("CPS1", mode="cps")
    await host.start_reading("CPS1", amount=100)
    assert [s for s, _ in ocpi.batches] == ["OCPI1"]
    host.register_controller("cps", cps)
    await host.present_card("CPS1", "visa-approved")
    assert cps.batches == [("CPS1", ["state", "screen", "card"])]  # no timers
    host.set_mode("CPS1", "ocpi")
    await host.stop_reading("CPS1")
    assert ocpi.batches[-1] == ("CPS1", ["state", "screen", "reading"])
    assert host.get("CPS1")["mode"] == "ocpi"
    with pytest.raises(ValueError):
        host.register_controller("psp", cps)


async def test_controller_calls_back_and_batches_stay_in_order(node: EmulatorNode) -> None:
    host = node.terminals
    log: list[tuple[str, Any]] = []

    class AutoAuthorize:
        async def on_effects(
            self, host: TerminalHost, serial: str, effects: Sequence[Effect]
        ) -> None:
            kinds = [e.kind for e in effects]
            log.append(("enter", kinds))
            if "card" in kinds:
                result = await host.authorize(serial)
                log.append(("authorize returned", result["status"]))
            log.append(("exit", kinds))

    host.register_controller("cps", AutoAuthorize())
    await host.create("APO1", mode="cps")
    log.clear()
    await host.start_reading("APO1", amount=700)
    await host.present_card("APO1", "visa-approved")
    assert log[2:] == [
        ("enter", ["state", "screen", "card"]),
        ("authorize returned", "authorized"),
        ("exit", ["state", "screen", "card"]),
        ("enter", ["state", "screen", "payment"]),
        ("exit", ["state", "screen", "payment"]),
    ]
    assert len(host.get("APO1")["sessions"]) == 1


async def test_a_failing_controller_does_not_wedge_the_terminal(node: EmulatorNode) -> None:
    host = node.terminals

    class Broken:
        async def on_effects(self, *args: Any) -> None:
            raise RuntimeError("boom")

    host.register_controller("ocpi", Broken())
    await host.create("APO1")
    await host.start_reading("APO1", amount=100)
    assert (await host.present_card("APO1", "visa-approved"))["result"] == "read"
    host.unregister_controller("ocpi")


async def test_authorize_can_wait_for_the_pin(node: EmulatorNode) -> None:
    host = node.terminals
    await host.create("APO1")
    await host.start_reading("APO1", amount=5000)
    await host.present_card("APO1", "visa-pin")
    waiting = asyncio.create_task(host.authorize("APO1", wait=True))
    await until(lambda: host.get("APO1")["state"] == "AUTHORIZING")
    assert not waiting.done()
    for key in ["1", "2", "3", "4", "ok"]:
        await host.press("APO1", key)
    result = await waiting
    assert result["status"] == "authorized"
    assert result["session"]["state"] == "AUTHORIZED"


async def test_pending_authorization_times_out(node: EmulatorNode) -> None:
    host = node.terminals
    await host.create("APO1")
    await host.create("APO2")
    for serial in ("APO1", "APO2"):
        await host.start_reading(serial, amount=5000)
        await host.present_card(serial, "visa-auth-timeout")
    pending = await host.authorize("APO1")
    assert pending["status"] == "pending" and pending["step"] == "authorizing"
    assert host.get("APO1")["pending_authorization"]["session_id"] == pending["session_id"]
    waiting = asyncio.create_task(host.authorize("APO2", wait=True))
    await until(lambda: host.get("APO2")["state"] == "AUTHORIZING")

    await clock_of(node).advance(209)  # Apollo's Auth Session timeout: 3 min 30 s
    assert not waiting.done()
    await clock_of(node).advance(1)
    assert host.get("APO1")["state"] == "IDLE"
    declined = [e for e in events(node, "terminal.payment") if e["serial_number"] == "APO1"]
    assert (declined[-1]["step"], declined[-1]["response_code"]) == ("declined", "68")
    result = await waiting
    assert (result["status"], result["response_code"]) == ("declined", "68")


async def test_authorize_wait_with_an_immediate_answer(node: EmulatorNode) -> None:
    host = node.terminals
    await host.create("APO1")
    await host.start_reading("APO1", amount=5000)
    await host.present_card("APO1", "visa-declined")
    result = await host.authorize("APO1", wait=True)
    assert (result["status"], result["response_code"]) == ("declined", "05")
    assert node.terminals._auth_waiters == {}


async def test_offline_commit_queue_through_the_host(node: EmulatorNode) -> None:
    host = node.terminals
    await host.create("APO1")
    await host.start_reading("APO1", amount=5000)
    await host.present_card("APO1", "visa-approved")
    session_id = (await host.authorize("APO1"))["session_id"]
    offline = await host.set_online("APO1", False)
    assert (offline["online"], offline["screen"]["id"]) == (False, "payter.offline")
    queued = await host.commit("APO1", session_id, 300)
    assert (queued["state"], queued["queued"], queued["capture_status"]) == (
        "COMMITTED",
        "commit",
        None,
    )
    back = await host.set_online("APO1", True)
    assert back["online"] is True
    done = host.session("APO1", session_id)
    assert (done["queued"], done["captured_amount"]) == (None, 300)
    assert [e["online"] for e in events(node, "terminal.state")][-2:] == [False, True]


async def test_increment_and_forced_outcome_through_the_host(node: EmulatorNode) -> None:
    host = node.terminals
    await host.create("APO1")
    forced = await host.force_outcome("APO1", "incremental_ok")
    assert forced["forced_outcome"] == "incremental_ok"
    await host.start_reading("APO1", amount=1000)
    await host.present_card("APO1", "visa-approved")
    session_id = (await host.authorize("APO1"))["session_id"]
    result = await host.increment("APO1", session_id, 500)
    assert result["approved"] is True and result["session"]["authorized_amount"] == 1500
    stored = node.rt.store.get("terminal_devices", "APO1")
    assert stored is not None and stored["device"]["forced_outcome"] == "incremental_ok"
    with pytest.raises(TerminalError) as err:
        await host.force_outcome("APO1", "nope")
    assert err.value.code == "invalid_outcome"


async def test_show_reports_held_screens(node: EmulatorNode) -> None:
    host = node.terminals
    await host.create("APO1")
    body = {"id": "s1", "type": "info", "properties": {"title": "Hello"}}
    shown = await host.show("APO1", body)
    assert (shown["shown"], shown["held"]) == (True, False)
    await host.start_reading("APO1", amount=100)
    held = await host.show("APO1", {**body, "id": "s2"})
    assert (held["shown"], held["held"]) == (False, True)
    assert host.get("APO1")["held_screen"]["id"] == "s2"
    await host.stop_reading("APO1")
    assert host.get("APO1")["screen"]["id"] == "s2"
    with pytest.raises(TerminalError) as err:
        await host.show("APO1", {"id": "x", "type": "payment"})
    assert err.value.code == "invalid_screen"


async def test_reset_forgets_terminals_and_their_timers(node: EmulatorNode) -> None:
    host = node.terminals
    await host.create("APO1")
    await host.start_reading("APO1", amount=100)
    assert clock_of(node).pending_timers == 1
    await node.reset()
    assert not host.exists("APO1")
    assert clock_of(node).pending_timers == 0
    assert host.list() == []


async def test_remove(node: EmulatorNode) -> None:
    host = node.terminals
    await host.create("APO1")
    await host.remove("APO1")
    assert not host.exists("APO1")
    assert clock_of(node).pending_timers == 0


async def test_per_terminal_timeouts(node: EmulatorNode) -> None:
    host = node.terminals
    await host.create("APO1", timeouts=Timeouts(card_presentation=5, screensaver=None))
    await host.start_reading("APO1", amount=100)
    await clock_of(node).advance(5)
    assert host.get("APO1")["state"] == "IDLE"
    assert host.get("APO1")["timers"] == {}


async def test_completed_sessions_outlive_the_device_state(node: EmulatorNode) -> None:
    host = node.terminals
    await host.create("APO1")
    ids = []
    for _ in range(12):
        await host.start_reading("APO1", amount=500)
        await host.present_card("APO1", "visa-approved")
        ids.append((await host.authorize("APO1"))["session_id"])
        await clock_of(node).advance(1)
    for session_id in ids:
        await host.commit("APO1", session_id, 100)
    assert ids[0] not in host.device("APO1").sessions
    assert [s["session_id"] for s in host.sessions("APO1")] == ids
    assert host.session("APO1", ids[0])["capture_status"] == "SUCCESS"
    for again in (
        host.commit("APO1", ids[0], 100),
        host.cancel("APO1", ids[0]),
        host.increment("APO1", ids[0], 100),
    ):
        with pytest.raises(TerminalError) as err:
            await again
        assert (err.value.kind, err.value.code) == (ErrorKind.CONFLICT, "session_completed")
    with pytest.raises(TerminalError) as err:
        await host.commit("APO1", "unknown", 1)
    assert err.value.kind is ErrorKind.NOT_FOUND
    await host.create("APO2")
    with pytest.raises(TerminalError) as err:
        host.session("APO2", ids[0])  # another terminal's session is not found here
    assert err.value.kind is ErrorKind.NOT_FOUND


async def test_terminal_timeouts_are_settings(tmp_path: Any) -> None:
    db = str(tmp_path / "terminals.db")
    custom = {
        "card_presentation_timeout": 12,
        "card_read_timeout": 7,
        "authorization_timeout": 9,
        "pin_authorization_timeout": 100,
        "p6x_authorization_timeout": 5,
        "commit_timeout": 11,
        "pin_entry_timeout": 4,
        "screensaver_timeout": 0,
        "notification_timeout": 2,
        "authorization_validity": 3600,
    }
    node = build_emulator(make_settings(db=db, default_terminal="", **custom))
    await node.start()
    try:
        host, clock = node.terminals, clock_of(node)
        await host.create("APO1")
        assert host.device("APO1").timeouts == Timeouts(
            card_presentation=12,
            card_read=7,
            authorization=9,
            pin_authorization=100,
            pin_entry=4,
            commit=11,
            screensaver=None,
            message=2,
            authorization_validity=3600,
        )
        assert host.get("APO1")["timers"] == {}  # no screensaver
        # A P6X authorizes within its own timeout, PIN or not (Payter: 30 s).
        await host.create("P68-1", "P68", mode="cps")
        p6x = host.device("P68-1").timeouts
        assert (p6x.authorization, p6x.pin_authorization, p6x.card_read) == (5, 5, 7)
        await host.start_reading("APO1", amount=100)
        await clock.advance(12)
        assert host.get("APO1")["state"] == "IDLE"
        now = clock.now()
    finally:
        await node.stop()
    # The settings of the next run apply to the terminals stored by the earlier one.
    node = build_emulator(make_settings(db=db, default_terminal="", clock_start=now.isoformat()))
    await node.start()
    try:
        assert node.terminals.device("APO1").timeouts == Timeouts()
        await node.terminals.start_reading("APO1", amount=100)
        await clock_of(node).advance(59)
        assert node.terminals.get("APO1")["state"] == "READING"
        await clock_of(node).advance(1)
        assert node.terminals.get("APO1")["state"] == "IDLE"
    finally:
        await node.stop()
