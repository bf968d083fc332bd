"""SVG snapshots of the whole TUI showing every screen type of the terminal, at fixed sizes.

The fake control API serves seeded data at a frozen virtual time; the spinner does not turn
and nothing polls, so each screenshot depends on the fixtures alone.
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


def _app(api: FakeControlApi):  # type: ignore[no-untyped-def]
    return make_app(api.url, cpo_sim_url=api.url, animate=False, poll_interval=0, label="emulator")


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
