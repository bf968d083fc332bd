"""SVG snapshots of the whole TUI at the two sizes it promises: 80x24 and 120x40.

Every screen type of the terminal and every side pane (and the help) at both sizes. The fake
control API serves seeded data at a frozen virtual time; the spinner does not turn and nothing
polls, so each screenshot depends on the fixtures alone. The size is given to ``run_test`` and
the SVG names its fonts rather than measuring them, so neither the terminal nor the fonts of
the machine matter; ``NO_COLOR`` (conftest) and ``TEXTUAL_THEME`` (``THEME``) are
neutralised. One app per size goes through all its screens (or panes), which keeps the whole
set to a few seconds; every mismatch is reported, not only the first.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import snapshot_mismatch, wait_for
from fake_api import FakeControlApi, screen
from textual.widgets._footer import FooterKey

from tui.apollo import ApolloScreen
from tui.app import PayterTui, make_app
from tui.widgets.qr_code import QrCode
from tui.widgets.terminal_frame import TerminalFrame
from tui.widgets.terminal_status import status_text

SCREENS = [
    "carousel",
    "selection_home",
    "selection_connectors",
    "message_tariff",
    "payment_present_card",
    "payment_pin",
    "payment_processing",
    "notification_approved",
    "notification_declined",
    "info_starting",
    "selection_receipts",
    "info_receipt_qr",
    "info_out_of_service",
    "screensaver",
    "dispense",
]
PANES = {"w": "cards", "c": "charger", "l": "traffic", "s": "sessions", "f": "findings"}
SIZES = [(80, 24), (120, 40)]

# TEXTUAL_THEME in the environment changes Textual's default theme: name the one the
# snapshots were taken with.
THEME = "textual-dark"


def _app(api: FakeControlApi) -> PayterTui:
    app = make_app(api.url, cpo_sim_url=api.url, animate=False, poll_interval=0, label="emulator")
    app.theme = THEME
    return app


def _size(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


async def _settled(pilot: Any, app: PayterTui) -> None:
    """Everything the fake serves is on the screen: the clock, and every pane's rows."""
    main = app.screen
    await wait_for(pilot, lambda: main.query_one(TerminalFrame).screen_shown.id != "none")
    for table, rows in (
        ("#cards-table", 6),
        ("#findings-table", 2),
        ("#traffic-table", 3),
        ("#journeys-table", 3),
        ("#chargers-table", 2),
    ):
        await wait_for(pilot, lambda t=table, n=rows: main.query_one(t).row_count == n, what=table)
    await wait_for(pilot, lambda: main.clock_mode == "manual", what="clock")  # type: ignore[attr-defined]


async def _shown(pilot: Any, app: PayterTui, api: FakeControlApi, name: str) -> None:
    """The fixture ``name`` is drawn, and the status line under it says what it should."""
    expected = ApolloScreen.from_json(screen(name))
    frame = app.screen.query_one(TerminalFrame)
    status = app.screen.query_one("#terminal-status")
    # At 80x24 a QR code is below the frame's edge: the status line says how to bring it up.
    scrolls = frame.has_class("-compact") and expected.qr is not None
    line = str(status_text(expected, api.terminals["PAY-0001"], scrolls=scrolls))
    await wait_for(pilot, lambda: frame.screen_shown == expected, what=name)
    await wait_for(pilot, lambda: str(status.render()) == line, what=f"{name} status")
    await _footer_drawn(pilot, app)


async def _footer_drawn(pilot: Any, app: PayterTui) -> None:
    """The footer's keys are drawn and stay: a new screen's keys (focus moves) make the footer
    draw its keys again after the next refresh, and a screenshot taken in between has an empty
    footer. Waits until two screenshots in a row agree, with the footer's keys on."""
    previous = None
    for _ in range(250):
        await pilot.pause(0.02)
        shot = app.export_screenshot()
        if shot == previous and len(app.screen.query(FooterKey)) > 0:
            return
        previous = shot
    raise AssertionError("the footer never settled")


@pytest.mark.parametrize("size", SIZES, ids=_size)
async def test_every_screen_type(fake_api: FakeControlApi, size: tuple[int, int]) -> None:
    fake_api.set_screen("PAY-0001", SCREENS[0], publish=False)
    app = _app(fake_api)
    mismatches: list[str] = []
    async with app.run_test(size=size) as pilot:
        await _settled(pilot, app)
        for name in SCREENS:
            fake_api.set_screen("PAY-0001", name)
            await _shown(pilot, app, fake_api, name)
            mismatches += snapshot_mismatch(app, f"screen_{name}_{_size(size)}")
        # A P6X has no display: the card reader, here asking for a PIN.
        fake_api.terminals["PAY-0001"].update(model="P68", has_screen=False, state="AUTHORIZING")
        fake_api.set_screen("PAY-0001", "payment_pin")
        frame = app.screen.query_one(TerminalFrame)
        await wait_for(
            pilot,
            lambda: frame.screen_shown.type == "reader" and frame.screen_shown.phase == "pin",
            what="P6X",
        )
        await _footer_drawn(pilot, app)
        mismatches += snapshot_mismatch(app, f"screen_reader_pin_{_size(size)}")
    assert mismatches == []


@pytest.mark.parametrize("size", SIZES, ids=_size)
async def test_every_pane(fake_api: FakeControlApi, size: tuple[int, int]) -> None:
    """Each side pane (and the help) beside the receipt with its QR code, the tallest screen:
    tab labels, the columns that fit, buttons, the amount and Back in sight."""
    fake_api.set_screen("PAY-0001", "info_receipt_qr", publish=False)
    app = _app(fake_api)
    mismatches: list[str] = []
    async with app.run_test(size=size) as pilot:
        await _settled(pilot, app)
        await _shown(pilot, app, fake_api, "info_receipt_qr")
        for key, pane in PANES.items():
            await pilot.press(key)
            await _footer_drawn(pilot, app)
            mismatches += snapshot_mismatch(app, f"pane_{pane}_{_size(size)}")
        await pilot.press("question_mark")
        await pilot.pause()  # the help is a screen of its own, without the footer
        mismatches += snapshot_mismatch(app, f"pane_help_{_size(size)}")
        await pilot.press("escape")
        # At 80x24 the QR code is below the receipt's words: PgDn brings all of it up.
        view = app.screen.query_one(TerminalFrame).view
        await pilot.press("pagedown")
        await _footer_drawn(pilot, app)
        if size == (80, 24):
            code = view.query_one(QrCode)
            assert view.max_scroll_y > 0 and code.region.y == view.region.y
            assert code.region.bottom <= view.region.bottom - 1  # Back is in sight below it
            mismatches += snapshot_mismatch(app, f"screen_info_receipt_qr_scrolled_{_size(size)}")
        else:
            assert view.max_scroll_y == 0
    assert mismatches == []
