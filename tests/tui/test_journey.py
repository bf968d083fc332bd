"""Issue 7's full journey, driven through the TUI with Pilot against the in-process demo
(emulator + simulated CPO, one manual clock): press Start, choose a connector, accept the
tariff, tap an approved card, see the started screen, advance the clock, stop, see the receipt.

PENDING: this needs Payter's fixed OCPI journey (``emulator/journey``, issue 5) and the
simulated CPO (``emulator/cpo_sim``, issue 3). Until both are in the build it is skipped. The
steps follow ``journey-screens.md``; they find buttons and items by their label, not by key,
so they do not depend on the key names the journey chooses. When the journey lands, run it,
and adjust the label texts below to the journey's fixtures if they differ.
"""

from __future__ import annotations

from typing import Any

from conftest import skip_unless_built, wait_for

from tui.apollo import ApolloScreen
from tui.app import PayterTui, make_app
from tui.widgets.screen_key import ScreenKey
from tui.widgets.terminal_frame import TerminalFrame

skip_unless_built("emulator.journey", "Payter's OCPI journey (issue 5) is not in this build")
skip_unless_built("emulator.cpo_sim.node", "the simulated CPO (issue 3) is not in this build")


def _shown(app: PayterTui) -> ApolloScreen:
    return app.screen.query_one(TerminalFrame).screen_shown


def _text(screen: ApolloScreen) -> str:
    return " ".join(screen.properties.values()).lower()


async def _press_label(pilot: Any, app: PayterTui, *labels: str) -> None:
    """Click the first enabled item or button whose label contains one of ``labels``."""

    def find() -> ScreenKey | None:
        for key in app.screen.query(ScreenKey):
            if not key.disabled_look and any(t.lower() in key.label.lower() for t in labels):
                return key
        return None

    await wait_for(pilot, lambda: find() is not None, what=f"a key labelled {labels}")
    key = find()
    assert key is not None
    await pilot.click(key)


async def _see(pilot: Any, app: PayterTui, *words: str, kind: str | None = None) -> None:
    await wait_for(
        pilot,
        lambda: (
            (kind is None or _shown(app).type == kind)
            and any(w.lower() in _text(_shown(app)) for w in words)
        ),
        what=f"a {kind or ''} screen saying {words}",
    )


async def test_full_journey_through_the_tui(demo: Any) -> None:
    ready = demo.ready
    app = make_app(
        ready["emulator"]["url"],
        cpo_sim_url=ready["cpo_sim"]["url"],
        initial_serial=ready["terminals"][0],
        animate=False,
        poll_interval=0,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        # The driver's car is plugged in first (charger panel, first EVSE).
        await pilot.press("c")
        table = app.screen.query_one("#chargers-table")
        await wait_for(pilot, lambda: table.row_count > 0, what="chargers")
        await pilot.press("P")

        # 1 Home → 3 Choose charger → 4 Tariff → 5 Present card.
        await _press_label(pilot, app, "Start")
        await wait_for(pilot, lambda: _shown(app).type == "selection", what="choose charger")
        enabled = [
            k
            for k in app.screen.query(ScreenKey)
            if not k.disabled_look and "back" not in k.label.lower()
        ]
        assert enabled, "no connector to choose"
        await pilot.click(enabled[0])
        await _press_label(pilot, app, "Accept")
        await wait_for(pilot, lambda: _shown(app).phase == "present_card", what="present card")

        # Tap the approved Visa (first card of the wallet): 7/8 approved → 9 starting → 11.
        await pilot.press("w", "t")
        await _see(pilot, app, "approved", kind="notification")
        await pilot.press("m")  # past the notification's 3 s
        await _see(pilot, app, "started", "charging")

        # An hour of charging in a moment.
        await pilot.press("h")

        # 12 Stop: choose the session → 13 confirm → 14 stopped.
        await _press_label(pilot, app, "Stop")
        if _shown(app).type == "selection":
            sessions = [k for k in app.screen.query(ScreenKey) if not k.disabled_look]
            await pilot.click(sessions[0])
        await _press_label(pilot, app, "Yes")
        await _see(pilot, app, "stopped")

        # The CDR arrives, the payment is captured; 15/16 the receipt shows the amount.
        await pilot.press("m", "m")
        await _press_label(pilot, app, "Receipt")
        if _shown(app).type == "payment":
            await pilot.press("t")
        elif _shown(app).type == "selection":
            receipts = [k for k in app.screen.query(ScreenKey) if not k.disabled_look]
            await pilot.click(receipts[0])
        await wait_for(
            pilot,
            lambda: _shown(app).type == "info" and ("€" in _text(_shown(app)) or _shown(app).qr),
            what="the receipt",
        )

        # The sessions pane has the journey with its capture.
        await pilot.press("s")
        journeys = app.screen.query_one("#journeys-table")
        await wait_for(pilot, lambda: journeys.row_count > 0, what="the journey row")
