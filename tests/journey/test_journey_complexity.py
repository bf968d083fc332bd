"""The cost of a journey does not grow with the number of terminals: with 10 and with 1,000
terminals (each with a Location of its own) a journey runs the same SQL statements and reads
the same number of rows. Counted through the store; nothing here is timed (speed is measured
in bench/, ``python -m bench journeys``)."""

from __future__ import annotations

import copy
from typing import Any

from helpers import make_settings, sim_settings

from emulator.app import build_emulator
from emulator.cpo_sim.node import build_cpo_sim

JOURNEY_TERMINAL = "APO-J"
START = "2025-03-01T09:00:00Z"


async def _press(emu: Any, serial: str, key: str) -> None:
    host = emu.terminals
    if key != "touch" and host.get(serial)["screen"]["type"] == "screensaver":
        await host.press(serial, "touch")
    await host.press(serial, key)


async def _journey(emu: Any) -> None:
    """Home → start → the charger → accept → card → START_SESSION → Session → two minutes
    of charging → stop on the terminal → CDR → capture → FAC."""
    clock = emu.rt.clock
    for key in ("start", "evse1", "accept"):
        await _press(emu, JOURNEY_TERMINAL, key)
    await emu.terminals.present_card(JOURNEY_TERMINAL, "visa-approved")
    for seconds in (3, 10, 60, 60):
        await clock.advance(seconds)
    await _press(emu, JOURNEY_TERMINAL, "stop")
    await emu.terminals.present_card(JOURNEY_TERMINAL, "visa-approved")  # the card used
    await _press(emu, JOURNEY_TERMINAL, "yes")
    for seconds in (5, 60, 60):
        await clock.advance(seconds)


async def _costs(terminals: int) -> list[tuple[int, int]]:
    """(statements, rows read) of each of two journeys with ``terminals`` terminals."""
    emu = build_emulator(make_settings(default_terminal="", poll_interval=0))
    cpo = build_cpo_sim(
        sim_settings(
            terminal_assignment="none",
            auto_plug_in_delay=5,
            session_patch_interval=60,
            invoicing=True,
        ),
        clock=emu.rt.clock,
    )
    await emu.start()
    await cpo.start()
    try:
        platform = await emu.registration.register_with(
            cpo.server.versions_url, "cpo-sim-token-a", "2.3.0"
        )
        await emu.rt.clock.advance(1)
        [sim_platform] = cpo.peers.platforms.registered()
        ptp = emu.ptp
        terminal = await ptp.create_terminal(JOURNEY_TERMINAL, "Apollo", platform_id=platform.id)
        delivery = await cpo.peers.send(
            sim_platform,
            "PATCH",
            "payments",
            f"terminals/{terminal['terminal_id']}",
            role="SENDER",
            body={"location_ids": ["SIM-UTR-GARAGE"], "last_updated": START},
        )
        assert delivery.ok, delivery.as_json()
        # The other terminals, each assigned a Location of its own.
        template = ptp.mirror.locations.object(platform.id, "NL", "SIM", "SIM-UTR-GARAGE")
        assert template is not None
        for i in range(terminals - 1):
            location = copy.deepcopy(template)
            location["id"] = f"FILL-{i:04d}"
            location["evses"][0]["uid"] = f"FILL-EVSE-{i:04d}"
            ptp.mirror.locations.save(
                location, platform_id=platform.id, version="2.3.0", source="push", now=emu.rt.now()
            )
            row = await ptp.create_terminal(f"FILL-{i:04d}", "Apollo", push=False)
            ptp.payments.update_terminal(row["terminal_id"], {"location_ids": [location["id"]]})
        # Every terminal's own timers (Home, then the screensaver) run out before counting:
        # what they cost is the terminals', not the journey's.
        await emu.rt.clock.advance(120)
        store = emu.rt.store
        # The journal is written on a wall-clock timer; here only when told, so that the
        # count does not depend on how fast the machine is.
        emu.rt.journal.FLUSH_DELAY = 3600.0
        emu.rt.journal.flush()
        costs = []
        for _ in range(2):
            before = (store.statements, store.rows_read)
            await _journey(emu)
            emu.rt.journal.flush()
            costs.append((store.statements - before[0], store.rows_read - before[1]))
        journeys = emu.journey.records.all(serial=JOURNEY_TERMINAL)
        assert [(j.state, j.money) for j in journeys] == [("COMPLETED", "CAPTURED")] * 2
        return costs
    finally:
        await cpo.stop()
        await emu.stop()


async def test_a_journey_costs_the_same_with_10_and_with_1000_terminals() -> None:
    few = await _costs(10)
    many = await _costs(1000)
    assert few == many, f"SQL (statements, rows read) per journey: 10 terminals {few}, 1,000 {many}"
