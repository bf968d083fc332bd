"""The simulated CPO across a restart: its state is in SQLite, so a running session, a start
waiting for its car, a reservation and a CommandResult still due carry on where they were."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import SIM_TOKEN_A, clock_of, sim_settings
from ptp_double import PtpDouble
from test_cpo_sim_commands import START, volumes

from emulator.cpo_sim.node import CpoSimNode, build_cpo_sim
from emulator.ocpi.pricing import check_cdr_totals
from emulator.ocpi.types import format_datetime


@pytest.fixture
async def restartable(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """``start()`` a simulated CPO on a database file; ``start(after=node)`` stops ``node``
    and starts a new one on the same file, port and clock time."""
    running: list[CpoSimNode] = []

    async def start(after: CpoSimNode | None = None, **overrides: Any) -> CpoSimNode:
        settings: dict[str, Any] = {"db": str(tmp_path / "cpo-sim.db"), **overrides}
        if after is not None:
            await after.stop()
            running.remove(after)
            settings.update(port=after.port, clock_start=format_datetime(clock_of(after).now()))
        node = build_cpo_sim(sim_settings(**settings))
        await node.start()
        running.append(node)
        return node

    yield start
    for node in running:
        await node.stop()


async def registered(start: Callable[..., Any]) -> tuple[CpoSimNode, PtpDouble]:
    sim = await start()
    ptp = await PtpDouble().start()
    await ptp.register_with(sim.server.versions_url, SIM_TOKEN_A, "2.3.0")
    return sim, ptp


async def test_a_running_session_carries_on(restartable) -> None:
    sim, ptp = await registered(restartable)
    try:
        await sim.backend.chargers.plug_in("SIM-AMS-1")
        await ptp.command("START_SESSION", {"token": ptp.token(), **START})
        await clock_of(sim).advance(2 + 600)
        [session_id] = ptp.sessions
        before = Decimal(str(ptp.sessions[session_id]["kwh"]))
        assert before > 0
        patches = len(ptp.received("PATCH", "/sessions/"))

        sim = await restartable(after=sim)
        # The charger still has its car and its session; nothing was pushed at start.
        evse = sim.backend.evse("SIM-AMS-1")
        assert evse.status() == "CHARGING" and evse.session_id == session_id
        assert evse.car is not None and evse.car.soc > 20
        assert [p.body["status"] for p in ptp.received("PATCH", "/locations/")] == ["CHARGING"]
        await clock_of(sim).advance(600)
        # The PATCHes go on where they stopped, and the meter keeps counting.
        assert len(ptp.received("PATCH", "/sessions/")) == patches + 10
        session = ptp.sessions[session_id]
        assert Decimal(str(session["kwh"])) == Decimal("7.333")  # 22 kW for 20 minutes
        assert volumes(session["charging_periods"], "ENERGY") == Decimal(str(session["kwh"]))
        # The PTP stops it after the restart: a CDR that adds up over the whole session.
        _, env, key = await ptp.command("STOP_SESSION", {"session_id": session_id})
        assert env["data"]["result"] == "ACCEPTED"
        await clock_of(sim).advance(2)
        assert ptp.results[key] == [{"result": "ACCEPTED"}]
        [cdr] = ptp.cdrs
        assert cdr["session_id"] == session_id and cdr["authorization_reference"] == "AUTH-0001"
        assert Decimal(str(cdr["total_energy"])) == Decimal(
            "7.345"
        )  # 22 kW for 20 min 2 s, in whole Wh
        assert Decimal(str(cdr["total_time"])) == Decimal("0.3339")  # 20 min 2 s
        assert check_cdr_totals(cdr, version="2.3.0", time_zone="Europe/Amsterdam") == []
        assert ptp.sessions[session_id]["status"] == "COMPLETED"
    finally:
        await ptp.stop()


async def test_a_result_still_due_and_a_start_waiting_for_its_car(restartable) -> None:
    sim, ptp = await registered(restartable)
    try:
        _, env, first = await ptp.command("START_SESSION", {"token": ptp.token(), **START})
        assert env["data"]["result"] == "ACCEPTED"
        # Restart before the charger's CommandResult went out: it goes out after the restart.
        sim = await restartable(after=sim)
        assert ptp.results == {}
        await clock_of(sim).advance(2)
        assert ptp.results[first] == [{"result": "ACCEPTED"}]
        # The start now waits for a car; a restart keeps it waiting.
        sim = await restartable(after=sim)
        assert sim.backend.evse("SIM-AMS-1").waiting_start is not None
        await sim.backend.chargers.plug_in("SIM-AMS-1")
        [session] = ptp.sessions.values()
        assert session["status"] == "ACTIVE" and session["authorization_reference"] == "AUTH-0001"
        # Its plug-in timeout was cancelled with the start: nothing lapses later.
        await clock_of(sim).advance(300)
        assert sim.backend.evse("SIM-AMS-1").session_id == session["id"]
    finally:
        await ptp.stop()


async def test_a_start_waiting_for_a_car_still_lapses(restartable) -> None:
    sim, ptp = await registered(restartable)
    try:
        await ptp.command("START_SESSION", {"token": ptp.token(), **START})
        await clock_of(sim).advance(62)
        sim = await restartable(after=sim)
        # 120 s after the CommandResult, as before the restart.
        await clock_of(sim).advance(59)
        assert sim.backend.evse("SIM-AMS-1").waiting_start is not None
        await clock_of(sim).advance(1)
        assert sim.backend.evse("SIM-AMS-1").waiting_start is None
        assert ptp.sessions == {}
    finally:
        await ptp.stop()


async def test_a_reservation_carries_on(restartable) -> None:
    sim, ptp = await registered(restartable)
    try:
        reserve = {
            "token": ptp.token(),
            "expiry_date": "2025-03-01T09:30:00Z",
            "reservation_id": "R-1",
            "location_id": "SIM-AMS-STATION",
            "evse_uid": "SIM-AMS-2",
        }
        _, _, key = await ptp.command("RESERVE_NOW", reserve)
        await clock_of(sim).advance(2)
        [session_id] = ptp.sessions
        sim = await restartable(after=sim)
        assert sim.backend.evse("SIM-AMS-2").status() == "RESERVED"
        # The reservation is still known: CANCEL_RESERVATION finds it.
        _, _, cancel = await ptp.command("CANCEL_RESERVATION", {"reservation_id": "R-1"})
        await clock_of(sim).advance(2)
        assert ptp.results[cancel] == [{"result": "ACCEPTED"}]
        assert ptp.results[key][-1] == {"result": "CANCELED_RESERVATION"}
        assert ptp.sessions[session_id]["status"] == "COMPLETED"
        assert sim.backend.evse("SIM-AMS-2").status() == "AVAILABLE"
    finally:
        await ptp.stop()
