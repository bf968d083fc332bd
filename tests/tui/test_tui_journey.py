"""Issue 7's full journey driven through the TUI with Pilot against an in-process emulator:
press Start, choose a connector, accept the tariff, tap an approved card, see the started
screen, advance the clock, stop, see the receipt with its invoice QR.

The CPO side is the scripted CPO of the journey tests (``tests/journey/test_journey.py``): it
answers commands and pushes the session and the CDR when this test says so. The same journey
against the simulated CPO of the demo is at the end (skipped while the simulated CPO is not in
this build).
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from conftest import skip_unless_built, wait_for
from fake_api import JOURNEYS

from tui.apollo import ApolloScreen
from tui.app import PayterTui, make_app
from tui.client import ControlClient
from tui.widgets.terminal_frame import TerminalFrame

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "journey"))

from helpers import ocpi
from test_journey import ROUTING, SERIAL, make_rig

SIZE = (120, 40)


def _row(table: Any, index: int = 0) -> dict[str, Any]:
    """Every column of a journey row, shown at this width or not."""
    return dict(table.cells_at(index))


def _shown(app: PayterTui) -> ApolloScreen:
    return app.screen.query_one(TerminalFrame).screen_shown


async def _on(pilot: Any, app: PayterTui, screen_id: str) -> ApolloScreen:
    try:
        await wait_for(pilot, lambda: _shown(app).id == screen_id, what=screen_id)
    except AssertionError as exc:
        shown = _shown(app)
        raise AssertionError(f"{exc}; shown: {shown.id} {shown.title!r}") from None
    return _shown(app)


async def _home(pilot: Any, app: PayterTui) -> None:
    """Back on the home screen, waking the screensaver (30 s idle) with a touch if it is on."""
    try:
        await wait_for(
            pilot,
            lambda: _shown(app).id == "journey.home" or _shown(app).type == "screensaver",
            what="home or screensaver",
        )
    except AssertionError as exc:
        shown = _shown(app)
        raise AssertionError(f"{exc}; shown: {shown.id} {shown.title!r}") from None
    if _shown(app).type == "screensaver":
        await pilot.press("space")
    await _on(pilot, app, "journey.home")


async def _advanced(pilot: Any, demo: Any, key: str, seconds: float) -> None:
    """Press a clock key (+1 min, +1 h) and wait until the clock has finished moving: a touch
    in the middle of the advance would wake a screensaver that the rest of it brings back."""
    target = demo.clock.now() + timedelta(seconds=seconds)
    await pilot.press(key)
    await wait_for(
        pilot,
        lambda: demo.clock.now() >= target and not demo.clock._lock.locked(),
        what=f"the clock at {target}",
    )


async def _number_of(app: PayterTui, key: str) -> str:
    """The number shortcut the TUI shows for ``key`` on the current screen."""
    return str(_shown(app).shortcut_keys.index(key) + 1)


async def test_full_journey_through_the_tui(emulator, http) -> None:  # type: ignore[no-untyped-def]
    rig = await make_rig(emulator, http)
    try:
        [terminal] = emulator.ptp.payments.terminals()
        base = emulator.server.endpoint_url("2.3.0", "payments") + "/terminals"
        await ocpi(
            http,
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
        app = make_app(emulator.rt.base_url, initial_serial=SERIAL, animate=False, poll_interval=0)
        async with app.run_test(size=SIZE) as pilot:
            # 1 Home: Start charging.
            home = await _on(pilot, app, "journey.home")
            assert home.items[0].label == "Start charging"
            await pilot.press(await _number_of(app, "start"))
            # 3 Choose a charger: the first one.
            choose = await _on(pilot, app, "journey.choose")
            await pilot.press(await _number_of(app, choose.shortcut_keys[0]))
            # 4 Tariff: Accept.
            tariff = await _on(pilot, app, "journey.tariff")
            assert "will be reserved" in tariff.message
            await pilot.press(await _number_of(app, "accept"))
            # 5 Present card: €50.00; tap the approved Visa from the wallet.
            await wait_for(pilot, lambda: _shown(app).phase == "present_card")
            assert _shown(app).payment.amount_text == "€50.00"  # type: ignore[union-attr]
            await pilot.press("t")
            await wait_for(pilot, lambda: _shown(app).icon == "approved", what="approved")
            assert _shown(app).color == "green"

            # The CPO accepts START_SESSION: 11 Charging started.
            await rig.result("ACCEPTED")
            await wait_for(pilot, lambda: _shown(app).title == "Charging started")
            await rig.session("ACTIVE", kwh=4.0, cost=(1.80, 2.18))

            # An hour of charging in a keypress; the terminal is back home (or asleep).
            await pilot.press("h")
            await _home(pilot, app)

            # 12 Stop: tap the card used → 13 Yes → 14 Charging stopped.
            await pilot.press(await _number_of(app, "stop"))
            stop = await _on(pilot, app, "journey.stop")
            assert stop.shortcut_keys == ["back"]  # no session to pick: the card says which
            await pilot.press("t")
            await _on(pilot, app, "journey.stop_confirm")
            await pilot.press(await _number_of(app, "yes"))
            await rig.result("ACCEPTED")
            await wait_for(pilot, lambda: _shown(app).title == "Charging stopped")

            # The car's session ends, the CDR arrives, the payment is captured.
            await rig.session(
                "COMPLETED", kwh=10.0, cost=(4.50, 5.45), end_date_time="2025-03-01T10:00:00Z"
            )
            await rig.cdr(kwh=10.0, invoice_reference_id="INV-1")
            await pilot.press("m")
            await _home(pilot, app)

            # 15 Receipts → 16 the receipt, with the invoice QR.
            await pilot.press(await _number_of(app, "receipt"))
            receipts = await _on(pilot, app, "journey.receipts")
            await pilot.press(await _number_of(app, receipts.shortcut_keys[0]))
            await wait_for(pilot, lambda: bool(_shown(app).qr), what="receipt QR")
            ref = rig.journey()["authorization_reference"]
            assert _shown(app).qr == f"https://cpo.example/invoices/{ref}"
            assert "€5.45" in _shown(app).subtitle

            # The sessions pane shows the journey, captured, with its FAC delivered.
            await pilot.press("s")
            table = app.screen.query_one("#journeys-table")
            await wait_for(pilot, lambda: table.row_count == 1, what="journey row")
            await wait_for(pilot, lambda: _row(table)["captured"] == "€5.45", what="captured")
            row = _row(table)
            assert row["terminal"] == SERIAL and row["reference"] == ref
            assert row["money"] == "€5.45 captured"
            assert row["authorized"] == "€50.00" and row["capture"] == "SUCCESS"
            assert row["fac"] == "✔ sent"
        # The fake control API of the other TUI tests speaks the emulator's journey shape.
        async with ControlClient(emulator.rt.base_url) as client:
            [journey] = await client.journeys()
        assert set(JOURNEYS[0]) <= set(journey)
    finally:
        await rig.cpo.stop()


async def test_full_journey_with_the_simulated_cpo(demo: Any) -> None:
    """The demo's journey: the simulated CPO answers by itself; the car is plugged in first."""
    skip_unless_built("emulator.journey", "Payter's OCPI journey is not in this build")
    ready = demo.ready
    serial = ready["terminals"][0]
    app = make_app(
        ready["emulator"]["url"],
        cpo_sim_url=ready["cpo_sim"]["url"],
        initial_serial=serial,
        animate=False,
        poll_interval=0,
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        chargers = app.screen.query_one("#chargers-table")
        await wait_for(pilot, lambda: chargers.row_count > 0, what="chargers")
        await pilot.press("P")
        await _on(pilot, app, "journey.home")
        await pilot.press(await _number_of(app, "start"))
        choose = await _on(pilot, app, "journey.choose")
        await pilot.press(await _number_of(app, choose.shortcut_keys[0]))
        await _on(pilot, app, "journey.tariff")
        await pilot.press(await _number_of(app, "accept"))
        await wait_for(pilot, lambda: _shown(app).phase == "present_card")
        await pilot.press("w", "t")
        await wait_for(pilot, lambda: _shown(app).icon == "approved", what="approved")
        for key, seconds in (("m", 60), ("h", 3600)):
            await _advanced(pilot, demo, key, seconds)
            await _home(pilot, app)
        await pilot.press(await _number_of(app, "stop"))
        await _on(pilot, app, "journey.stop")
        await pilot.press("t")  # the card used
        await _on(pilot, app, "journey.stop_confirm")
        await pilot.press(await _number_of(app, "yes"))
        # 14 Stopping…, then stopped once the simulated CPO's result arrives on the clock.
        await wait_for(
            pilot,
            lambda: _shown(app).title in ("Stopping…", "Charging stopped"),
            what="stopping",
        )
        await pilot.press("m")
        await _home(pilot, app)
        # The demo's simulated CPO issues invoices: the CDR carries an invoice reference, the
        # capture is confirmed with a FAC and the receipt has the invoice's QR code.
        await pilot.press("s")
        table = app.screen.query_one("#journeys-table")
        await wait_for(pilot, lambda: table.row_count == 1, what="journey row")
        await wait_for(pilot, lambda: _row(table)["fac"] == "✔ sent", what="FAC sent")
        row = _row(table)
        assert row["state"] == "COMPLETED" and row["capture"] == "SUCCESS"
        assert row["authorized"] and row["captured"]
        await pilot.press(await _number_of(app, "receipt"))
        receipts = await _on(pilot, app, "journey.receipts")
        await pilot.press(await _number_of(app, receipts.shortcut_keys[0]))
        await wait_for(pilot, lambda: bool(_shown(app).qr), what="receipt QR")
        assert _shown(app).qr == f"{ready['cpo_sim']['url']}/invoices/{row['reference']}"
