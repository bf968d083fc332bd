"""The TUI against an in-process emulator over real HTTP on loopback (manual clock).

What the terminal device offers today is driven through the UI: the idle carousel, the
screensaver after 30 s of virtual time, waking it with a touch, a card presented while the
terminal is not reading, and pulling the network cable.
"""

from __future__ import annotations

from conftest import wait_for

from tui.app import PayterTui, make_app
from tui.client import ControlClient
from tui.widgets.clock_bar import ClockBar
from tui.widgets.terminal_frame import TerminalFrame


def _frame(app: PayterTui) -> TerminalFrame:
    return app.screen.query_one(TerminalFrame)


async def test_idle_screensaver_touch_offline(emulator) -> None:  # type: ignore[no-untyped-def]
    base = emulator.rt.base_url
    async with ControlClient(base) as setup:
        # A CPS terminal: nobody drives its screens, so it shows the terminal's own idle
        # carousel (an OCPI terminal would show Payter's journey).
        await setup.create_terminal("TUI-0001", "Apollo", mode="cps")
    app = make_app(base, animate=False, poll_interval=0)
    async with app.run_test(size=(100, 36), notifications=True) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.query_one(ClockBar).connected, what="stream")
        # The terminal list is read after the stream is up: wait for it, not for the stream.
        await wait_for(
            pilot,
            lambda: "TUI-0001" in screen.serials,  # type: ignore[attr-defined]
            what="terminal list",
        )
        while screen.serial != "TUI-0001":  # type: ignore[attr-defined]
            await pilot.press("right_square_bracket")
            await pilot.pause()
        await wait_for(pilot, lambda: "TUI-0001" in _frame(app).border_title)
        await wait_for(pilot, lambda: _frame(app).screen_shown.id == "payter.idle", what="idle")
        assert _frame(app).screen_shown.title == "Welcome"

        # 30 s without a touch: the screensaver (journey-screens.md screen 2).
        await pilot.press("m")
        await wait_for(
            pilot, lambda: _frame(app).screen_shown.type == "screensaver", what="screensaver"
        )
        await pilot.press("space")
        await wait_for(pilot, lambda: _frame(app).screen_shown.id == "payter.idle", what="woken")

        # A card outside a payment is ignored, and the TUI says so.
        await pilot.press("t")
        await wait_for(
            pilot,
            lambda: any("ignored" in n.message for n in app._notifications),
            what="card ignored",
        )

        # Offline: "Out of service" (screen 18), then back.
        await pilot.press("o")
        await wait_for(pilot, lambda: "OFFLINE" in _frame(app).border_subtitle, what="offline")
        assert _frame(app).screen_shown.title == "Out of service"
        await pilot.press("o")
        await wait_for(pilot, lambda: "online" in _frame(app).border_subtitle, what="online")
        await wait_for(pilot, lambda: _frame(app).screen_shown.id == "payter.idle")

        # Nothing was wrong, but no OCPI flow ran either: the verdict is INCOMPLETE.
        verdict = screen.query_one("#verdict")
        await wait_for(pilot, lambda: "INCOMPLETE" in str(verdict.render()), what="verdict")
