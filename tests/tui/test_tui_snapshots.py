"""SVG snapshots of the whole TUI showing every screen type of the terminal, at fixed sizes.

The fake control API serves seeded data at a frozen virtual time; the spinner does not turn
and nothing polls, so each screenshot depends on the fixtures alone. The size is given to
``run_test`` and the SVG names its fonts rather than measuring them, so neither the terminal
nor the fonts of the machine matter; ``NO_COLOR`` (conftest) and ``TEXTUAL_THEME`` (``THEME``)
are neutralised.
"""

from __future__ import annotations

import pytest
from conftest import assert_snapshot, wait_for
from fake_api import FakeControlApi

from tui.app import make_app
from tui.widgets.terminal_frame import TerminalFrame

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
    "info_receipt_qr",
    "screensaver",
    "dispense",
]


# TEXTUAL_THEME in the environment changes Textual's default theme: name the one the
# snapshots were taken with.
THEME = "textual-dark"


def _app(api: FakeControlApi):  # type: ignore[no-untyped-def]
    app = make_app(api.url, cpo_sim_url=api.url, animate=False, poll_interval=0, label="emulator")
    app.theme = THEME
    return app


@pytest.mark.parametrize("name", SCREENS)
async def test_screen_type(fake_api: FakeControlApi, name: str) -> None:
    fake_api.set_screen("PAY-0001", name, publish=False)
    app = _app(fake_api)
    async with app.run_test(size=(100, 36)) as pilot:
        frame = app.screen.query_one(TerminalFrame)
        expected = fake_api.terminals["PAY-0001"]["screen"]["id"]
        await wait_for(pilot, lambda: frame.screen_shown.id == expected, what=name)
        await wait_for(
            pilot,
            lambda: app.screen.query_one("#findings-table").row_count == 2,
            what="findings",
        )
        await pilot.pause()
        assert_snapshot(app, f"screen_{name}")


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
async def test_layout_sizes(fake_api: FakeControlApi, size: tuple[int, int]) -> None:
    fake_api.set_screen("PAY-0001", "info_receipt_qr", publish=False)
    app = _app(fake_api)
    async with app.run_test(size=size) as pilot:
        frame = app.screen.query_one(TerminalFrame)
        await wait_for(pilot, lambda: frame.screen_shown.id == "journey.receipt")
        await wait_for(pilot, lambda: app.screen.query_one("#findings-table").row_count == 2)
        await pilot.pause()
        assert_snapshot(app, f"layout_{size[0]}x{size[1]}")


@pytest.mark.parametrize("key", ["c", "l", "s", "f", "question_mark"])
async def test_panes_at_80x24(fake_api: FakeControlApi, key: str) -> None:
    """Each side pane (and the help) in a plain 80x24 terminal: tab labels, columns, buttons."""
    app = _app(fake_api)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.query_one(TerminalFrame).screen_shown.id != "none")
        await wait_for(pilot, lambda: screen.query_one("#findings-table").row_count == 2)
        await wait_for(pilot, lambda: screen.query_one("#traffic-table").row_count == 3)
        await wait_for(pilot, lambda: screen.query_one("#journeys-table").row_count == 2)
        await wait_for(pilot, lambda: screen.query_one("#chargers-table").row_count == 2)
        await pilot.press(key)
        await pilot.pause()
        name = {"c": "charger", "l": "traffic", "s": "sessions", "f": "findings"}.get(key, "help")
        assert_snapshot(app, f"pane_{name}_80x24")
