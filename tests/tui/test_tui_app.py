"""The TUI driven with Pilot against the fake control API: keys, clicks, panes, events."""

from __future__ import annotations

import asyncio
import socket

from conftest import wait_for
from fake_api import FakeControlApi, terminal
from textual.widgets import TabbedContent

from tui.app import PayterTui, make_app
from tui.screens.exchange_screen import ExchangeScreen
from tui.screens.help_screen import KEYS, HelpScreen
from tui.screens.journey_screen import JourneyScreen
from tui.screens.main_screen import MainScreen
from tui.widgets.clock_bar import ClockBar
from tui.widgets.screen_key import ScreenKey
from tui.widgets.terminal_frame import TerminalFrame

SIZE = (100, 36)


def _app(api: FakeControlApi, **kwargs: object) -> PayterTui:
    return make_app(api.url, cpo_sim_url=api.url, animate=False, poll_interval=0, **kwargs)


def _frame(app: PayterTui) -> TerminalFrame:
    return app.screen.query_one(TerminalFrame)


async def _ready(pilot, app: PayterTui, screen_id: str) -> None:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: _frame(app).screen_shown.id == screen_id, what=screen_id)
    await wait_for(pilot, lambda: app.screen.query_one("#cards-table").row_count > 0)


async def test_number_key_presses_item_and_event_shows_next_screen(
    fake_api: FakeControlApi,
) -> None:
    fake_api.on_press[("PAY-0001", "start")] = "selection_connectors"
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "journey.home")
        await wait_for(pilot, lambda: app.screen.query_one(ClockBar).connected, what="stream")
        await pilot.press("1")
        await wait_for(pilot, lambda: _frame(app).screen_shown.id == "journey.choose_evse")
        assert fake_api.presses == [("PAY-0001", "start")]
        # evse2 is disabled: the second shortcut is evse3, the third Back.
        await pilot.press("2")
        await wait_for(pilot, lambda: len(fake_api.presses) == 2)
        await pilot.press("3")
        await wait_for(pilot, lambda: len(fake_api.presses) == 3)
        assert fake_api.presses[1:] == [("PAY-0001", "evse3"), ("PAY-0001", "back")]


async def test_click_presses_button_and_disabled_item_does_nothing(
    fake_api: FakeControlApi,
) -> None:
    fake_api.set_screen("PAY-0001", "selection_connectors", publish=False)
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "journey.choose_evse")
        keys = {k.key: k for k in app.screen.query(ScreenKey)}
        assert keys["evse2"].disabled_look and not keys["evse1"].disabled_look
        await pilot.click(keys["evse2"])
        await pilot.click(keys["back"])
        await wait_for(pilot, lambda: fake_api.presses == [("PAY-0001", "back")])


async def test_carousel_buttons_left_and_right(fake_api: FakeControlApi) -> None:
    fake_api.set_screen("PAY-0001", "carousel", publish=False)
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "payter.idle")
        buttons = [k for k in app.screen.query(ScreenKey) if "apollo-button" in k.classes]
        assert [b.key for b in buttons] == ["start", "lang"]
        assert buttons[0].region.x < buttons[1].region.x
        await pilot.press("2")
        await wait_for(pilot, lambda: fake_api.presses == [("PAY-0001", "lang")])


async def test_pin_pad_keys(fake_api: FakeControlApi) -> None:
    fake_api.set_screen("PAY-0001", "payment_pin", publish=False)
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "payter.pin")
        for key in ("4", "0", "backspace", "enter", "escape"):
            await pilot.press(key)
        await wait_for(pilot, lambda: len(fake_api.presses) == 5)
        assert [k for _, k in fake_api.presses] == ["4", "0", "clear", "ok", "cancel"]
        ok = next(k for k in app.screen.query(ScreenKey) if k.key == "ok")
        await pilot.click(ok)
        await wait_for(pilot, lambda: len(fake_api.presses) == 6)


def _footer(app: PayterTui) -> dict[str, str]:
    """What the footer shows: key → description of the bindings that apply now."""
    return {
        key: active.binding.description
        for key, active in app.screen.active_bindings.items()
        if active.binding.show
    }


def _status(app: PayterTui) -> str:
    return str(app.screen.query_one("#terminal-status").render())


async def test_a_number_without_a_use_says_why(fake_api: FakeControlApi) -> None:
    """No key is dropped without a sign: on the present-card screen and on a notice."""
    fake_api.set_screen("PAY-0001", "payment_present_card", publish=False)
    app = _app(fake_api)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await _ready(pilot, app, "payter.present_card")
        assert "t tap" in _status(app)
        await pilot.press("1", "space")
        await wait_for(pilot, lambda: len(app._notifications) == 1, what="hint")
        [hint] = [n.message for n in app._notifications]
        assert "waits for a card" in hint and "t taps" in hint
        fake_api.set_screen("PAY-0001", "notification_declined")
        await wait_for(pilot, lambda: _status(app) == "No keys: the screen moves on itself")
        await pilot.press("2")
        await wait_for(pilot, lambda: len(app._notifications) == 2, what="second hint")
        assert "moves on by itself" in list(app._notifications)[-1].message
        fake_api.set_screen("PAY-0001", "selection_connectors")
        await wait_for(pilot, lambda: _frame(app).screen_shown.id == "journey.choose_evse")
        await pilot.press("7")
        await wait_for(pilot, lambda: len(app._notifications) == 3, what="third hint")
        assert list(app._notifications)[-1].message == "No item 7 on this screen (1-3)"
        assert fake_api.presses == []


async def test_screensaver_wakes_with_space_or_a_number(fake_api: FakeControlApi) -> None:
    fake_api.set_screen("PAY-0001", "screensaver", publish=False)
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "payter.screensaver")
        assert _footer(app).get("space") == "Wake"
        assert "Space" in _status(app)
        await pilot.press("space")
        await wait_for(pilot, lambda: fake_api.presses == [("PAY-0001", "touch")])
        await pilot.press("1")  # a number wakes it too (the number itself is not pressed)
        await wait_for(pilot, lambda: len(fake_api.presses) == 2)
        assert fake_api.presses[-1] == ("PAY-0001", "touch")
    fake_api.set_screen("PAY-0001", "selection_home", publish=False)
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "journey.home")
        assert "space" not in _footer(app)


async def test_the_footer_and_status_line_switch_to_the_pin_pad(fake_api: FakeControlApi) -> None:
    fake_api.set_screen("PAY-0001", "payment_pin", publish=False)
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "payter.pin")
        footer = _footer(app)
        assert (footer.get("0"), footer.get("enter"), footer.get("escape")) == (
            "PIN",
            "OK",
            "Cancel",
        )
        assert "t" not in footer and "1" not in footer
        # The test PIN, as the terminal tells it.
        assert _status(app) == "Test PIN: any 4-12 digits, then OK"
        fake_api.set_screen("PAY-0001", "selection_home")
        await wait_for(pilot, lambda: _status(app).startswith("1-4"))
        footer = _footer(app)
        assert footer.get("1") == "Press" and "t" in footer and "0" not in footer


async def test_a_real_clock_is_not_offered_to_be_advanced(fake_api: FakeControlApi) -> None:
    fake_api.clock = {"mode": "real", "now": "2025-03-01T09:00:00Z"}
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "journey.home")
        await wait_for(pilot, lambda: app.screen.clock_mode == "real")  # type: ignore[attr-defined]
        assert "m" not in _footer(app) and "h" not in _footer(app)
        assert not app.screen.query_one("#clock-hour").display
        await pilot.press("h")
        await pilot.pause(0.1)
        assert fake_api.advances == []
    fake_api.clock = {"mode": "manual", "now": "2025-03-01T09:00:00Z"}
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "journey.home")
        await wait_for(pilot, lambda: "h" in _footer(app))
        assert app.screen.query_one("#clock-hour").display


async def test_out_of_service_says_why(fake_api: FakeControlApi) -> None:
    fake_api.set_screen("PAY-0001", "info_out_of_service", publish=False)
    app = _app(fake_api)
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot, app, "journey.out")
        assert _status(app) == "Out of service: no CPO registered"


async def test_wallet_taps_inserts_and_scans(fake_api: FakeControlApi) -> None:
    fake_api.set_screen("PAY-0001", "payment_present_card", publish=False)
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "payter.present_card")
        await pilot.press("t")
        await wait_for(pilot, lambda: len(fake_api.cards_presented) == 1)
        app.screen.query_one("#cards-table").move_cursor(row=1)
        await pilot.press("i")
        await wait_for(pilot, lambda: len(fake_api.cards_presented) == 2)
        app.screen.query_one("#cards-table").move_cursor(row=4)
        await pilot.press("q")
        await wait_for(pilot, lambda: len(fake_api.cards_presented) == 3)
        await pilot.click("#wallet-rfid")
        await wait_for(pilot, lambda: len(fake_api.cards_presented) == 4)
        assert fake_api.cards_presented == [
            ("PAY-0001", "visa-approved", "contactless"),
            ("PAY-0001", "visa-declined", "chip"),
            ("PAY-0001", "qr-sample", "qr"),
            ("PAY-0001", "qr-sample", "rfid"),
        ]


async def test_clock_advance(fake_api: FakeControlApi) -> None:
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "journey.home")
        bar = app.screen.query_one(ClockBar)
        assert bar.now == "2025-03-01T09:00:00Z" and bar.mode == "manual"
        await pilot.press("m")
        await wait_for(pilot, lambda: bar.now == "2025-03-01T09:01:00Z")
        await pilot.click("#clock-hour")
        await wait_for(pilot, lambda: bar.now == "2025-03-01T10:01:00Z")
        assert fake_api.advances == [60, 3600]


async def test_actions_reach_the_emulator_in_the_order_they_were_made(
    fake_api: FakeControlApi,
) -> None:
    """A touch right after "+1 h" waits for the hour to pass: otherwise it lands in the middle
    of the advance and the terminal falls asleep again before the hour is over."""
    fake_api.set_screen("PAY-0001", "screensaver", publish=False)
    fake_api.advance_gate = asyncio.Event()
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "payter.screensaver")
        await pilot.press("h")
        await wait_for(pilot, fake_api.advance_started.is_set, what="advance sent")
        await pilot.press("space")
        await pilot.pause()
        assert fake_api.order == []
        fake_api.advance_gate.set()
        await wait_for(pilot, lambda: len(fake_api.order) == 2, what="both actions")
        assert fake_api.order == ["advance 3600", "press touch"]


async def test_the_panes_are_read_after_an_advance_not_during_it(
    fake_api: FakeControlApi,
) -> None:
    """An hour of charging is a burst of events (a session PATCH a minute): the terminal stays
    live, the panes (journeys, chargers, the report) are read once when the hour is over."""
    fake_api.advance_gate = asyncio.Event()
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "journey.home")
        await wait_for(pilot, lambda: app.screen.query_one(ClockBar).connected, what="stream")
        await wait_for(pilot, lambda: fake_api.reads["journeys"] >= 1, what="first load")
        await pilot.pause(0.2)
        before = dict(fake_api.reads)
        await pilot.press("h")
        await wait_for(pilot, fake_api.advance_started.is_set, what="advance sent")
        for minute in range(5):
            fake_api.publish(
                "traffic",
                id=100 + minute,
                direction="in",
                protocol="ocpi",
                module="sessions",
                method="PATCH",
                url="http://127.0.0.1:8080/ocpi/2.3.0/sessions/NL/SIM/S-1",
                status=200,
            )
            fake_api.publish("journey.state", journey_id="j1", state="CHARGING")
        fake_api.set_screen("PAY-0001", "screensaver")
        # The screen follows the advance ...
        await wait_for(pilot, lambda: _frame(app).screen_shown.type == "screensaver")
        traffic = app.screen.query_one("#traffic-table")
        await wait_for(pilot, lambda: traffic.row_count == len(fake_api.journal) + 5)
        await pilot.pause(0.2)
        # ... the panes wait for its end.
        for path in ("journeys", "evses", "report"):
            assert fake_api.reads[path] == before.get(path, 0), path
        fake_api.advance_gate.set()
        await wait_for(pilot, lambda: fake_api.reads["journeys"] == before["journeys"] + 1)
        await wait_for(pilot, lambda: fake_api.reads["evses"] == before["evses"] + 1)
        await wait_for(pilot, lambda: fake_api.reads["report"] == before["report"] + 1)


async def test_the_verdict_follows_the_run_without_a_finding(fake_api: FakeControlApi) -> None:
    """A journey captured completes the run (INCOMPLETE → PASS) without any finding: the
    Findings pane reads the report again, and until then says what is still to do."""
    fake_api.findings = []
    fake_api.report = {
        "verdict": "INCOMPLETE",
        "incomplete": ["journey: a card journey ran through to capture (not yet)"],
        "axes": {
            "spec": {"verdict": "INCOMPLETE", "errors": 0, "warnings": 0},
            "payter": {"verdict": "INCOMPLETE", "errors": 0, "warnings": 0},
        },
    }
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "journey.home")
        await wait_for(pilot, lambda: app.screen.query_one(ClockBar).connected, what="stream")
        verdict = app.screen.query_one("#verdict")
        await wait_for(pilot, lambda: "INCOMPLETE" in str(verdict.render()))
        text = str(verdict.render())
        assert "To do: journey: a card journey ran through to capture" in text
        assert "OCPI spec: INCOMPLETE\n" in text and "(0 errors" not in text
        fake_api.report = {
            "verdict": "PASS",
            "incomplete": [],
            "axes": {
                "spec": {"verdict": "PASS", "errors": 0, "warnings": 0},
                "payter": {"verdict": "PASS", "errors": 0, "warnings": 1},
            },
        }
        fake_api.publish("journey.state", journey_id="j2", state="COMPLETED")
        await wait_for(pilot, lambda: "PASS" in str(verdict.render()), what="PASS")
        assert str(verdict.render()).endswith("Payter: PASS (1 warning)")


async def test_active_faults_show_above_the_traffic(fake_api: FakeControlApi) -> None:
    """Issue 13: the injected faults that are active show in the TUI (and each exchange one
    changed is marked), from the fault events of the stream."""
    fault = {
        "id": 1,
        "direction": "in",
        "module": "cdrs",
        "method": "POST",
        "action": "http_status",
        "status": 503,
        "times": 1,
        "fired": 0,
        "active": True,
        "description": "fault #1: http_status 503",
    }
    app = make_app(fake_api.url, animate=False, poll_interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "journey.home")
        await wait_for(pilot, lambda: app.screen.query_one(ClockBar).connected, what="stream")
        tab = app.screen.query_one(TabbedContent).get_tab("tab-traffic")
        note = app.screen.query_one("#faults-note")
        assert str(tab.label) == "Traffic" and not note.display
        fake_api.faults = [fault]
        fake_api.publish("fault.added", **fault)
        await wait_for(pilot, lambda: str(tab.label) == "Traffic ↯1", what="tab label")
        assert note.display
        assert str(note.render()) == "↯ fault #1: http_status 503 · in cdrs POST · fired 0 of 1"
        assert any("fault #1: http_status 503" in n.message for n in app._notifications)
        # The exchange it changed is marked.
        fake_api.publish(
            "traffic",
            id=50,
            direction="in",
            protocol="ocpi",
            module="cdrs",
            method="POST",
            url="http://127.0.0.1:8080/ocpi/2.3.0/cdrs",
            status=503,
            fault="fault #1: http_status 503",
        )
        traffic = app.screen.query_one("#traffic-table")
        await wait_for(pilot, lambda: traffic.row_cells("50") is not None, what="row")
        assert traffic.row_cells("50")["path"] == "↯ cdrs"
        # Fired its one time: no longer active.
        fake_api.faults = [{**fault, "fired": 1, "active": False}]
        fake_api.publish("fault.fired", id=1, fired=1, active=False)
        await wait_for(pilot, lambda: str(tab.label) == "Traffic", what="label back")
        assert not note.display


async def test_a_terminal_without_a_display_is_drawn_as_a_card_reader(
    fake_api: FakeControlApi,
) -> None:
    """A P6X (``has_screen`` false) has no display to draw: the frame shows the reader, its
    state, and a PIN card's PIN pad, whose keys it takes."""
    fake_api.terminals["PAY-0001"] = terminal(
        "PAY-0001", "payment_present_card", model="P68", has_screen=False, state="READING"
    )
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "payter.reader")
        shown = _frame(app).screen_shown
        assert (shown.type, shown.light, shown.title) == ("reader", True, "Reading: present a card")
        assert shown.subtitle == "P68 card reader, no display"
        assert _frame(app).border_title == "Payter P68 · PAY-0001"
        assert _status(app) == "Reading cards: t tap, i insert"
        # Nothing of the screen it does not have: no items to press.
        await pilot.press("1")
        await pilot.press("t")
        await wait_for(pilot, lambda: len(fake_api.cards_presented) == 1)
        assert fake_api.presses == []
        fake_api.terminals["PAY-0001"]["state"] = "AUTHORIZING"
        fake_api.set_screen("PAY-0001", "payment_pin")
        await wait_for(pilot, lambda: _frame(app).screen_shown.phase == "pin", what="PIN")
        await pilot.press("1", "2", "3", "4", "enter")
        await wait_for(pilot, lambda: len(fake_api.presses) == 5, what="PIN keys")
        assert [key for _, key in fake_api.presses] == ["1", "2", "3", "4", "ok"]
        fake_api.terminals["PAY-0001"]["state"] = "IDLE"
        fake_api.set_screen("PAY-0001", "carousel")
        await wait_for(pilot, lambda: _frame(app).screen_shown.title == "Idle")
        assert not _frame(app).screen_shown.light
        await wait_for(pilot, lambda: _status(app) == "No display: the CSMS drives it over CPS")


async def test_charger_panel(fake_api: FakeControlApi) -> None:
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "journey.home")
        await pilot.press("c")
        table = app.screen.query_one("#chargers-table")
        await wait_for(pilot, lambda: table.row_count == 2)
        await pilot.press("P")
        table.move_cursor(row=1)
        await pilot.press("U", "E", "X", "R")
        await wait_for(pilot, lambda: len(fake_api.charger_actions) == 5)
        assert fake_api.charger_actions == [
            ("EVSE-1", "plug-in"),
            ("EVSE-2", "unplug"),
            ("EVSE-2", "ev-full"),
            ("EVSE-2", "out-of-order"),
            ("EVSE-2", "repair"),
        ]


async def test_without_cpo_sim_the_charger_panel_says_so(fake_api: FakeControlApi) -> None:
    app = make_app(fake_api.url, animate=False, poll_interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "journey.home")
        note = app.screen.query_one("#charger-note")
        await wait_for(pilot, lambda: "No simulated CPO" in str(note.render()))


async def test_traffic_log_follows_events_and_opens_detail(fake_api: FakeControlApi) -> None:
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "journey.home")
        table = app.screen.query_one("#traffic-table")
        await wait_for(pilot, lambda: table.row_count == 3)
        await wait_for(pilot, lambda: app.screen.query_one(ClockBar).connected)
        fake_api.publish(
            "traffic",
            id=4,
            direction="in",
            protocol="cps",
            method="POST",
            url="http://x/cps/terminals/PAY-0001/ui",
            status=200,
        )
        await wait_for(pilot, lambda: table.row_count == 4, what="new traffic row")
        # "l" shows the traffic log and gives it the focus: arrows and Enter act on it.
        await pilot.press("l")
        await pilot.press("up")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExchangeScreen), what="detail")
        assert app.screen.exchange["findings"][0]["rule"] == "OCPI-20"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExchangeScreen))


async def test_findings_verdict_and_sessions(fake_api: FakeControlApi) -> None:
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "journey.home")
        verdict = app.screen.query_one("#verdict")
        await wait_for(pilot, lambda: "FAIL" in str(verdict.render()))
        text = str(verdict.render())
        assert "OCPI spec: FAIL (1 error)" in text
        assert "Payter: PASS (1 warning)" in text
        # Enter on a finding opens the exchange that caused it.
        findings = app.screen.query_one("#findings-table")
        await wait_for(pilot, lambda: findings.row_count == 2)
        await pilot.press("f", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExchangeScreen), what="exchange")
        assert app.screen.exchange["id"] == 3
        await pilot.press("escape")
        journeys = app.screen.query_one("#journeys-table")
        await wait_for(pilot, lambda: journeys.row_count == 3)
        rows = [journeys.row_cells(key) for key in ("j1", "j2", "j3")]
        # Charging: authorized, nothing captured, no FAC (no CDR with an invoice reference).
        assert rows[0]["terminal"] == "PAY-0001" and rows[0]["reference"] == "AUTH0001"
        assert rows[0]["money"] == "€50.00 authorized"
        assert rows[0]["authorized"] == "€50.00" and rows[0]["captured"] == ""
        assert rows[0]["fac"] == ""
        # Completed: captured from the CDR, FAC delivered.
        assert rows[1]["money"] == "€13.44 captured" and rows[1]["capture"] == "SUCCESS"
        assert rows[1]["fac"] == "✔ sent" and rows[1]["cdr"] == "CDR-2"
        # Declined: nothing was authorized, whatever amount was asked for (money NONE).
        assert rows[2]["money"] == "not authorized" and rows[2]["authorized"] == ""
        # Enter on a journey shows all of it.
        await pilot.press("s", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, JourneyScreen), what="journey")
        assert app.screen.journey["authorization_reference"] == "AUTH0001"
        await pilot.press("escape")


async def test_journeys_missing_on_the_emulator(fake_api: FakeControlApi) -> None:
    fake_api.journeys = None
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "journey.home")
        note = app.screen.query_one("#journeys-note")
        await wait_for(pilot, lambda: "reports no journeys" in str(note.render()))


async def test_switch_terminals_and_offline(fake_api: FakeControlApi) -> None:
    fake_api.terminals["PAY-0002"] = terminal("PAY-0002", "carousel", state="READING")
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "journey.home")
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: _frame(app).screen_shown.id == "payter.idle")
        assert "PAY-0002" in _frame(app).border_title
        await pilot.press("o")
        await wait_for(pilot, lambda: fake_api.online_changes == [("PAY-0002", False)])
        await wait_for(pilot, lambda: "OFFLINE" in _frame(app).border_subtitle)
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: _frame(app).screen_shown.id == "journey.home")


async def test_switch_terminals_with_the_arrows(fake_api: FakeControlApi) -> None:
    fake_api.terminals["PAY-0002"] = terminal("PAY-0002", "carousel", state="READING")
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "journey.home")
        await pilot.click("#terminal-next")
        await wait_for(pilot, lambda: _frame(app).screen_shown.id == "payter.idle")
        assert "PAY-0002" in _frame(app).border_title
        await pilot.click("#terminal-prev")
        await wait_for(pilot, lambda: _frame(app).screen_shown.id == "journey.home")


async def test_new_terminal_from_event_stream(fake_api: FakeControlApi) -> None:
    fake_api.terminals.clear()
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "tui.no_terminal")
        await wait_for(pilot, lambda: app.screen.query_one(ClockBar).connected)
        fake_api.terminals["PAY-0009"] = terminal("PAY-0009", "carousel")
        fake_api.publish("terminal.screen", serial_number="PAY-0009")
        await wait_for(pilot, lambda: _frame(app).screen_shown.id == "payter.idle")


async def test_press_refused_by_the_emulator_is_a_notification(
    fake_api: FakeControlApi,
) -> None:
    app = _app(fake_api)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await _ready(pilot, app, "journey.home")
        app.screen.press("nonsense")
        await wait_for(pilot, lambda: bool(app._notifications), what="notification")
        assert "cannot be pressed" in next(iter(app._notifications)).message


async def test_a_refused_admin_token_is_said_once(fake_api: FakeControlApi) -> None:
    fake_api.admin_token = "right"
    app = make_app(fake_api.url, admin_token="wrong", animate=False, poll_interval=0.05)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(pilot, lambda: bool(app._notifications), what="notification")
        for _ in range(10):  # polls of the clock, each refused
            await pilot.pause(0.05)
        messages = [n.message for n in app._notifications]
        assert len(messages) == 1 and "--admin-token" in messages[0]


async def test_the_right_admin_token_is_sent(fake_api: FakeControlApi) -> None:
    fake_api.admin_token = "right"
    app = make_app(fake_api.url, admin_token="right", animate=False, poll_interval=0)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await _ready(pilot, app, "journey.home")
        await wait_for(pilot, lambda: app.screen.query_one(ClockBar).connected, what="stream")
        assert not app._notifications


async def test_an_unreachable_emulator_is_said_once() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    app = make_app(url, animate=False, poll_interval=0.05)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(pilot, lambda: bool(app._notifications), what="notification")
        for _ in range(10):
            await pilot.pause(0.05)
        messages = [n.message for n in app._notifications]
        assert messages == [f"Cannot reach the emulator at {url}"]


async def test_help_screen(fake_api: FakeControlApi) -> None:
    app = _app(fake_api)
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot, app, "journey.home")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))


def test_help_lists_every_key() -> None:
    """Each key bound on the main screen (and the app's quit) is on the help screen."""
    names = {
        "left_square_bracket": "[",
        "right_square_bracket": "]",
        "question_mark": "?",
        "f1": "F1",
        "space": "Space",
        "enter": "Enter",
        "backspace": "Backspace",
        "escape": "Esc",
        "ctrl+q": "Ctrl+Q",
        "pagedown": "PgDn",
        "pageup": "PgUp",
    }
    listed = {
        token
        for _, rows in KEYS
        for keys, _ in rows
        for token in keys.replace(",", " ").replace("/", " ").split()
    }
    bound = [*MainScreen.BINDINGS, *PayterTui.BINDINGS]
    missing = [
        key
        for binding in bound
        for key in binding.key.split(",")
        if not key.isdigit() and names.get(key, key) not in listed
    ]
    assert missing == []


async def test_a_p6x_is_drawn_without_a_screen(fake_api: FakeControlApi) -> None:
    """A P6X (CPS only, no graphical UI): the frame shows a card reader's status light, never
    the device's internal screen."""
    fake_api.terminals["P68-0001"] = terminal(
        "P68-0001", "payment_present_card", model="P68", has_screen=False, state="READING"
    )
    del fake_api.terminals["PAY-0001"]
    app = _app(fake_api)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app, "payter.reader")
        assert "P68-0001" in _frame(app).border_title
        shown = _frame(app).screen_shown
        assert (shown.light, shown.title) == (True, "Reading: present a card")
        assert "no display" in shown.subtitle
        assert _frame(app).border_title == "Payter P68 · P68-0001"
