"""The main screen: the terminal on the left, the wallet, charger, traffic, sessions and
findings on the right, the virtual clock on top.

This screen owns the control-API client. Widgets post messages (:mod:`tui.messages`); the
screen carries them out over HTTP and refreshes from the emulator's answers and its event
stream, so what is shown is always what the emulator says.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import DataTable, Footer, TabbedContent, TabPane

from tui.apollo import ApolloScreen
from tui.client import ControlApiError, ControlClient, StreamStatus
from tui.messages import (
    CardPresented,
    ChargerActionRequested,
    ClockAdvanceRequested,
    ExchangeSelected,
    JourneySelected,
    ScreenKeyPressed,
    TerminalSwitchRequested,
)
from tui.screens.exchange_screen import ExchangeScreen
from tui.screens.help_screen import HelpScreen
from tui.screens.journey_screen import JourneyScreen
from tui.widgets.card_wallet import CardWallet
from tui.widgets.charger_panel import ChargerPanel
from tui.widgets.clock_bar import ClockBar
from tui.widgets.findings_panel import FindingsPanel
from tui.widgets.journeys_table import JourneysTable, journeys_from_ocpi
from tui.widgets.qr_code import QrCode
from tui.widgets.terminal_frame import TerminalFrame, frame_width, screen_of
from tui.widgets.terminal_status import TerminalStatus
from tui.widgets.terminal_switcher import TerminalSwitcher
from tui.widgets.traffic_log import FAULT_MARK, TrafficLog

# Refreshes triggered by events are coalesced over this many (real) seconds.
DEBOUNCE = 0.05
TABS = {
    "w": "tab-cards",
    "c": "tab-charger",
    "l": "tab-traffic",
    "s": "tab-sessions",
    "f": "tab-findings",
}
# Below this width the side pane's tabs lose their padding (see ``-narrow`` in tui.tcss).
NARROW_SIDE = 46
# A frame shorter than this (80x24) closes up the terminal's lists (``-compact``).
COMPACT_BELOW = 30
# Events after which the report's verdict may have changed without a finding: a flow of the
# coverage done (registration, mirror, a journey to capture, a CPS commit).
REPORT_EVENTS = (
    "journey.state",
    "platform.",
    "ocpi.locations.polled",
    "ocpi.tariffs.polled",
    "cps.",
)
# What is read during a clock advance (see MainScreen._advancing).
LIVE_DURING_ADVANCE = {"terminal", "terminals", "clock"}
# OCPI modules whose traffic changes what the charger and sessions panels show.
CHARGER_MODULES = {"locations", "sessions", "cdrs", "commands"}
JOURNEY_MODULES = {"sessions", "cdrs", "payments", "commands"}


class MainScreen(Screen[None]):
    AUTO_FOCUS = "#cards-table"
    BINDINGS = [
        # The terminal's own keys win over the focused table's. Which ones apply depends on
        # the screen shown (check_action): the footer shows those, and the PIN pad's keys
        # while a PIN is asked for. A key that does nothing on this screen says why.
        *(
            Binding(str(n), f"pin('{n}')", "PIN", key_display="0-9", show=n == 0, priority=True)
            for n in range(10)
        ),
        Binding("enter", "pin('ok')", "OK", priority=True),
        Binding("backspace", "pin('clear')", "Clear", key_display="⌫", priority=True),
        Binding("escape", "pin('cancel')", "Cancel", priority=True),
        *(
            Binding(str(n), f"digit({n})", "Press", key_display="1-9", show=n == 1, priority=True)
            for n in range(10)
        ),
        Binding("space", "touch", "Wake", priority=True),
        # A screen taller than the frame (a receipt's QR code at 80x24) scrolls; the keys go
        # to the side pane's table when it does not.
        Binding("pagedown", "scroll_screen(1)", show=False, priority=True),
        Binding("pageup", "scroll_screen(-1)", show=False, priority=True),
        Binding("t", "present('tap')", "Tap"),
        Binding("i", "present('insert')", "Insert", show=False),
        Binding("q", "present('qr')", "QR", show=False),
        Binding("r", "present('rfid')", "RFID", show=False),
        Binding("P", "charger('plug_in')", "Plug", show=False),
        Binding("U", "charger('unplug')", "Unplug", show=False),
        Binding("E", "charger('ev_full')", "EV full", show=False),
        Binding("X", "charger('fault')", "Fault", show=False),
        Binding("R", "charger('repair')", "Repair", show=False),
        Binding("m", "advance(60)", "+1 min"),
        Binding("h", "advance(3600)", "+1 h"),
        # The same keys, out of the footer while it lists the PIN pad's keys.
        Binding("m", "advance_quietly(60)", show=False),
        Binding("h", "advance_quietly(3600)", show=False),
        Binding("o", "toggle_online", "On/offline", show=False),
        Binding("left_square_bracket", "switch(-1)", "Prev", show=False),
        Binding("right_square_bracket", "switch(1)", "Next", show=False),
        *(Binding(key, f"tab('{tab}')", show=False) for key, tab in TABS.items()),
        Binding("g", "reload", "Reload", show=False),
        Binding("question_mark,f1", "help", "Help"),
    ]

    def __init__(
        self,
        client: ControlClient,
        *,
        animate: bool = True,
        poll_interval: float = 2.0,
        label: str | None = None,
        initial_serial: str | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.label = label or client.base_url
        self._animated = animate
        self.poll_interval = poll_interval
        self.serials: list[str] = []
        self.serial: str | None = initial_serial
        self.terminal: dict[str, Any] = {}
        self.clock_mode = ""
        self.last_event_id = 0
        self._dirty: set[str] = set()
        self._flush_pending = False
        self._in_order = asyncio.Lock()
        # While a clock advance this TUI asked for runs, the panes wait for its end: an hour of
        # charging is a burst of events, and reading every pane after each of them (over HTTP,
        # from the servers doing the advance) slows the advance down.
        self._advancing = 0
        # Problems already told (see _failed).
        self._problems: set[str] = set()

    # --- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield ClockBar(self.label)
        with Horizontal(id="body"):
            with Vertical(id="terminal-pane"):
                yield TerminalSwitcher()
                yield TerminalFrame(animate=self._animated)
                yield TerminalStatus(id="terminal-status")
            with TabbedContent(id="side", initial="tab-cards"):
                with TabPane("Cards", id="tab-cards"):
                    yield CardWallet()
                with TabPane("Charger", id="tab-charger"):
                    yield ChargerPanel()
                with TabPane("Traffic", id="tab-traffic"):
                    yield TrafficLog()
                with TabPane("Sessions", id="tab-sessions"):
                    yield JourneysTable()
                with TabPane("Findings", id="tab-findings"):
                    yield FindingsPanel()
        yield Footer()

    def on_resize(self, event: Resize) -> None:
        self._fit_frame()

    def _fit_frame(self) -> None:
        pane = self.query_one("#terminal-pane")
        # The switcher and the status line take one row each; the frame gets the rest of the
        # body's height.
        height = max(self.size.height - 2 - 2, 10)
        compact = height < COMPACT_BELOW
        width = frame_width(height, self.size.width // 2 + 6, compact=compact)
        pane.styles.width = width
        # The frame's height is what the switcher and the status line leave (1fr in tui.tcss).
        self.query_one(TerminalFrame).set_class(compact, "-compact")
        # At 80 columns the five tab labels only fit with less padding (tui.tcss).
        self.set_class(self.size.width - width < NARROW_SIDE, "-narrow")
        self._screen_changed()

    async def on_mount(self) -> None:
        self._fit_frame()
        self.load_all()
        self.follow_events()
        if self.poll_interval > 0:
            self.set_interval(self.poll_interval, self._poll)

    # --- loading -------------------------------------------------------------------------

    @property
    def frame(self) -> TerminalFrame:
        return self.query_one(TerminalFrame)

    @property
    def apollo(self) -> ApolloScreen:
        return self.frame.screen_shown

    async def _guard(self, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """Run a control-API call; a failure becomes a notification, never a crash."""
        try:
            return await call()
        except Exception as exc:
            self._failed(what, exc)
        return None

    def _failed(self, what: str, exc: Exception) -> None:
        """Say what went wrong. A refused token or an unreachable emulator fails every call
        alike: that is said once (until the event stream is back), not once per call."""
        if isinstance(exc, ControlApiError) and exc.status in (401, 403):
            self._say_once(
                "refused",
                f"The emulator refused the control API call ({exc.message or exc.code}). "
                "Start the TUI with --admin-token TOKEN (or EMULATOR_ADMIN_TOKEN).",
            )
        elif isinstance(exc, aiohttp.ClientConnectionError | OSError):
            self._say_once("unreachable", f"Cannot reach the emulator at {self.client.base_url}")
        elif isinstance(exc, ControlApiError):
            self.notify(f"{what}: {exc.message or exc.code}", severity="error", timeout=6)
        else:  # a malformed answer
            self.notify(f"{what}: {type(exc).__name__}: {exc}", severity="error", timeout=6)

    def _say_once(self, problem: str, message: str) -> None:
        if problem not in self._problems:
            self._problems.add(problem)
            self.notify(message, severity="error", timeout=30)

    async def _act(self, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """A person's action (press, card, clock, charger, online), one at a time and in the
        order they came: a touch right after "+1 h" reaches the terminal after the hour, not
        in the middle of it."""
        async with self._in_order:
            return await self._guard(what, call)

    @work(exclusive=True, group="load")
    async def load_all(self) -> None:
        try:
            await self.refresh_clock()
            await self.refresh_terminals()
            await self.refresh_cards()
            await self.refresh_traffic()
            await self.refresh_findings()
            await self.refresh_journeys()
            await self.refresh_chargers()
            await self.refresh_faults()
        except NoMatches:
            return  # the screen was taken down (the app is quitting) while a read waited

    async def refresh_clock(self) -> None:
        clock = await self._guard("clock", self.client.clock)
        if clock:
            bar = self.query_one(ClockBar)
            bar.now = str(clock.get("now") or "")
            mode = str(clock.get("mode") or "")
            if mode != self.clock_mode:
                self.clock_mode = mode
                bar.mode = mode
                self.refresh_bindings()

    async def refresh_terminals(self) -> None:
        try:
            terminals = await self.client.terminals()
        except ControlApiError as exc:
            if exc.status != 404:
                self._failed("terminals", exc)
                return
            terminals = []
        except Exception as exc:
            self._failed("terminals", exc)
            return
        self.serials = [
            str(t.get("serial_number") or t.get("serial"))
            for t in terminals
            if t.get("serial_number") or t.get("serial")
        ]
        if self.serial not in self.serials:
            self.serial = self.serials[0] if self.serials else None
        self.query_one(TerminalSwitcher).show(self.serials, self.serial)
        if self.serial is None:
            self.terminal = {}
            await self.frame.show_placeholder(
                "tui.no_terminal", "No terminal", "Create one: POST /__admin/terminals"
            )
            self._screen_changed()
            return
        await self.refresh_terminal()

    async def refresh_terminal(self) -> None:
        if self.serial is None:
            return
        serial = self.serial
        terminal = await self._guard("terminal", lambda: self.client.terminal(serial))
        if terminal and serial == self.serial:
            self.terminal = terminal
            # The status line is written with the screen, before the frame redraws.
            self._screen_changed(screen_of(terminal))
            await self.frame.show_terminal(terminal)
            self._screen_changed()

    def _screen_changed(self, screen: ApolloScreen | None = None) -> None:
        shown = screen or self.apollo
        # In a short frame (80x24) a QR code does not fit under the words: PgDn brings it up.
        scrolls = self.frame.has_class("-compact") and shown.qr is not None
        self.query_one(TerminalStatus).show(shown, self.terminal, scrolls=scrolls)
        # The footer shows the keys of the screen now shown.
        self.refresh_bindings()

    async def refresh_cards(self) -> None:
        try:
            cards = await self.client.cards()
        except Exception:
            cards = []
        self.query_one(CardWallet).set_cards(cards)

    async def refresh_traffic(self) -> None:
        log = self.query_one(TrafficLog)
        since = max(log.seen, default=0)
        rows = await self._guard("journal", lambda: self.client.journal(since=since))
        for row in rows or []:
            log.add(row)

    async def refresh_report(self) -> None:
        report = await self._guard("report", self.client.report)
        if report:
            self.query_one(FindingsPanel).set_report(report)

    async def refresh_findings(self) -> None:
        panel = self.query_one(FindingsPanel)
        await self.refresh_report()
        findings = await self._guard("findings", self.client.findings)
        if findings is not None:
            panel.set_findings(findings)

    async def refresh_journeys(self) -> None:
        table = self.query_one(JourneysTable)
        try:
            journeys = await self.client.journeys()
        except ControlApiError as exc:
            if exc.status != 404:
                table.set_unavailable(f"journeys: {exc.message}")
                return
            from_ocpi = await self._journeys_from_ocpi()
            if from_ocpi is None:
                table.set_unavailable(
                    "This emulator reports no journeys (/__admin/journeys) "
                    "and no OCPI sessions (/__admin/ocpi/sessions)."
                )
                return
            journeys = from_ocpi
        except Exception as exc:
            table.set_unavailable(f"journeys: {exc}")
            return
        table.set_journeys(journeys)

    async def _journeys_from_ocpi(self) -> list[dict[str, Any]] | None:
        try:
            sessions = await self.client.ocpi_objects("sessions")
            cdrs = await self.client.ocpi_objects("cdrs")
            facs = await self.client.ocpi_objects("facs")
        except ControlApiError:
            return None
        return journeys_from_ocpi(sessions, cdrs, facs)

    async def refresh_chargers(self) -> None:
        panel = self.query_one(ChargerPanel)
        if not self.client.has_cpo_sim:
            panel.set_unavailable(
                "No simulated CPO connected. `payter-emulator demo` starts one; "
                "or pass --cpo-sim URL."
            )
            return
        try:
            chargers = await self.client.chargers()
        except ControlApiError as exc:
            panel.set_unavailable(f"chargers: {exc.message or exc.code}")
            return
        except Exception as exc:
            panel.set_unavailable(f"chargers: {exc}")
            return
        panel.set_chargers(chargers)

    async def refresh_faults(self) -> None:
        """The active injected faults of the emulator and of the simulated CPO (an emulator
        without ``/__admin/faults`` has none)."""
        found: list[tuple[str, dict[str, Any]]] = []
        for owner, call in (("", self.client.faults), ("CPO", self.client.cpo_faults)):
            with contextlib.suppress(Exception):
                found += [(owner, fault) for fault in await call()]
        self.query_one(TrafficLog).set_faults(found)
        tab = self.query_one(TabbedContent).get_tab("tab-traffic")
        tab.label = f"Traffic {FAULT_MARK}{len(found)}" if found else "Traffic"

    async def _poll(self) -> None:
        # A real (or paced) clock moves by itself; read it now and then. The simulated CPO's
        # faults are not on the emulator's event stream: they are read as often.
        await self.refresh_clock()
        if self.client.has_cpo_sim:
            await self.refresh_faults()

    # --- the event stream ----------------------------------------------------------------

    @work(exclusive=True, group="events")
    async def follow_events(self) -> None:
        async for item in self.client.events(since=self.last_event_id):
            try:
                if isinstance(item, StreamStatus):
                    self.query_one(ClockBar).connected = item.connected
                    if item.connected:
                        self._problems.clear()
                        # Whatever happened while we were away: read it all again.
                        self._mark("terminals", "findings", "journeys", "chargers", "traffic")
                    continue
                self.handle_event(item)
            except NoMatches:
                # The screen is being taken down (the app is quitting): stop following.
                return

    def handle_event(self, event: dict[str, Any]) -> None:
        if isinstance(event.get("id"), int):
            self.last_event_id = max(self.last_event_id, event["id"])
        kind = str(event.get("kind") or "")
        data = event.get("data") or {}
        # A clock that does not follow the wall clock (manual, or the demo's paced one) is at
        # least as late as its latest event.
        if event.get("at") and self.clock_mode not in ("", "real"):
            bar = self.query_one(ClockBar)
            bar.now = max(bar.now, str(event["at"]))
        if kind == "traffic":
            self.query_one(TrafficLog).add({"at": event.get("at"), **data})
            module = str(data.get("module") or "")
            if module in CHARGER_MODULES:
                self._mark("chargers")
            if module in JOURNEY_MODULES:
                self._mark("journeys")
        elif kind.startswith("finding"):
            self._mark("findings")
        elif kind.startswith("fault"):
            self._mark("faults")
            if kind == "fault.added":
                what = data.get("description") or "a fault"
                self.notify(f"{FAULT_MARK} Injected: {what}", timeout=6)
        elif kind.startswith("terminal"):
            serial = data.get("serial_number") or data.get("serialNumber") or data.get("serial")
            if serial and serial not in self.serials:
                self._mark("terminals")
            elif not serial or serial == self.serial:
                self._mark("terminal")
            if kind.endswith("payment"):
                self._mark("journeys")
        elif kind.startswith(("journey", "payments", "ocpi.sessions", "ocpi.cdrs")):
            self._mark("journeys")
        elif kind.startswith("clock"):
            self._mark("clock")
        if kind.startswith(REPORT_EVENTS):
            self._mark("report")

    def _mark(self, *parts: str) -> None:
        self._dirty.update(parts)
        if not self._flush_pending:
            self._flush_pending = True
            self.set_timer(DEBOUNCE, self._flush)

    async def _flush(self) -> None:
        self._flush_pending = False
        dirty, self._dirty = self._dirty, set()
        if self._advancing:
            # The terminal's screen stays live (a key maps onto what it shows); the panes are
            # read once the advance is over.
            self._dirty = dirty - LIVE_DURING_ADVANCE
            dirty &= LIVE_DURING_ADVANCE
        try:
            await self._refresh(dirty)
        except NoMatches:
            return  # the screen was taken down (the app is quitting) while the refresh waited

    async def _refresh(self, dirty: set[str]) -> None:
        if "terminals" in dirty:
            await self.refresh_terminals()
        elif "terminal" in dirty:
            await self.refresh_terminal()
        if "clock" in dirty:
            await self.refresh_clock()
        if "traffic" in dirty:
            await self.refresh_traffic()
        if "findings" in dirty:
            await self.refresh_findings()
        elif "report" in dirty:
            await self.refresh_report()
        if "faults" in dirty:
            await self.refresh_faults()
        if "journeys" in dirty:
            await self.refresh_journeys()
        if "chargers" in dirty:
            await self.refresh_chargers()

    # --- acting --------------------------------------------------------------------------

    @work(group="act")
    async def press(self, key: str) -> None:
        serial = self.serial
        if serial is None:
            self.notify("No terminal to press on", severity="warning")
            return
        await self._act(f"press {key}", lambda: self.client.press(serial, key))
        await self.refresh_terminal()

    @on(ScreenKeyPressed)
    def _on_screen_key(self, message: ScreenKeyPressed) -> None:
        message.stop()
        self.press(message.key)

    @on(CardPresented)
    def _on_card(self, message: CardPresented) -> None:
        message.stop()
        self.present_card(message.card, message.medium)

    @work(group="act")
    async def present_card(self, card: str, medium: str) -> None:
        serial = self.serial
        if serial is None:
            self.notify("No terminal to present the card to", severity="warning")
            return
        result = await self._act(
            "present card", lambda: self.client.present_card(serial, card, medium)
        )
        if isinstance(result, dict) and (
            result.get("result") == "ignored" or result.get("ignored")
        ):
            reason = str(result.get("reason") or "not reading").replace("_", " ")
            self.notify(f"Card ignored: {reason}", timeout=4)
        await self.refresh_terminal()

    @on(ClockAdvanceRequested)
    def _on_advance(self, message: ClockAdvanceRequested) -> None:
        message.stop()
        self.advance_clock(message.seconds)

    @work(group="act")
    async def advance_clock(self, seconds: float) -> None:
        self._advancing += 1
        try:
            clock = await self._act("clock", lambda: self.client.advance(seconds))
        finally:
            self._advancing -= 1
        if clock:
            self.query_one(ClockBar).now = str(clock.get("now") or "")
        self._mark("terminal")
        await self._flush()

    @on(ChargerActionRequested)
    def _on_charger(self, message: ChargerActionRequested) -> None:
        message.stop()
        self.charger_action(message.evse_uid, message.action)

    @work(group="act")
    async def charger_action(self, evse_uid: str, action: str) -> None:
        await self._act(
            action.replace("_", " "), lambda: self.client.charger_action(evse_uid, action)
        )
        await self.refresh_chargers()

    @on(TerminalSwitchRequested)
    async def _on_switch(self, message: TerminalSwitchRequested) -> None:
        message.stop()
        await self.action_switch(message.step)

    @on(ExchangeSelected)
    def _on_exchange(self, message: ExchangeSelected) -> None:
        message.stop()
        self.open_exchange(message.exchange_id)

    @on(JourneySelected)
    def _on_journey(self, message: JourneySelected) -> None:
        message.stop()
        self.app.push_screen(JourneyScreen(message.journey))

    @work(group="act")
    async def open_exchange(self, exchange_id: int) -> None:
        exchange = await self._guard(
            f"exchange {exchange_id}", lambda: self.client.exchange(exchange_id)
        )
        if exchange:
            self.app.push_screen(ExchangeScreen(exchange))

    @work(group="act")
    async def set_online(self, online: bool) -> None:
        serial = self.serial
        if serial is None:
            return
        await self._act("online/offline", lambda: self.client.set_online(serial, online))
        await self.refresh_terminal()

    # --- key actions ---------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Which of the terminal's keys apply to the screen shown (and show in the footer)."""
        try:
            screen = self.apollo
        except NoMatches:  # not composed yet, or being taken down
            return True
        pin = screen.phase == "pin"
        if action == "pin":
            return pin
        if action == "digit":
            return not pin
        if action == "touch":
            return screen.type == "screensaver"
        if action == "scroll_screen":
            return self.frame.view.max_scroll_y > 0
        if action == "present":
            return not pin
        if action in ("advance", "advance_quietly"):
            # A real clock cannot be advanced: no +1 min / +1 h to fail with.
            return self.clock_mode != "real" and (action == "advance") != pin
        return True

    def action_digit(self, digit: int) -> None:
        screen = self.apollo
        if screen.type == "screensaver":
            # journey-screens.md screen 2: any touch wakes it (the number is not pressed).
            self.action_touch()
            return
        if screen.type == "reader":
            self.notify("A card reader without a display has no keys: t taps a card", timeout=4)
            return
        if screen.type == "payment":
            waiting = (
                "waits for a card: t taps the card chosen in Cards"
                if screen.phase == "present_card"
                else "is processing the payment"
            )
            self.notify(f"No keys on this screen: the terminal {waiting}", timeout=4)
            return
        keys = screen.shortcut_keys
        if not keys:
            self.notify(
                f"Nothing to press on “{screen.title or screen.id}”: the screen moves on by itself",
                timeout=4,
            )
            return
        if not 1 <= digit <= len(keys):
            self.notify(f"No item {digit} on this screen (1-{len(keys)})", timeout=4)
            return
        self.press(keys[digit - 1])

    def action_scroll_screen(self, pages: int) -> None:
        view = self.frame.view
        if pages < 0:
            view.scroll_home(animate=False)
            return
        # A QR code comes up whole, at the top of the frame; anything else a page on.
        codes = view.query(QrCode)
        if codes:
            view.scroll_to(y=codes.first().virtual_region.y, animate=False)
        else:
            view.scroll_page_down(animate=False)

    def action_pin(self, key: str) -> None:
        self.press(key)

    def action_touch(self) -> None:
        keys = self.apollo.keys
        self.press(keys[0] if keys else "touch")

    def action_present(self, action: str) -> None:
        self.query_one(CardWallet).present(action)

    def action_charger(self, action: str) -> None:
        self.query_one(ChargerPanel).act(action)

    def action_advance(self, seconds: float) -> None:
        self.advance_clock(seconds)

    def action_advance_quietly(self, seconds: float) -> None:
        self.advance_clock(seconds)

    def action_toggle_online(self) -> None:
        self.set_online(not self.terminal.get("online", True))

    async def action_switch(self, step: int) -> None:
        if not self.serials:
            return
        index = self.serials.index(self.serial) if self.serial in self.serials else 0
        self.serial = self.serials[(index + step) % len(self.serials)]
        self.query_one(TerminalSwitcher).show(self.serials, self.serial)
        self.run_worker(self.refresh_terminal(), group="act")

    def action_tab(self, tab: str) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = tab
        # The pane's table takes the focus: arrows move its cursor and Enter opens a row.
        table = tabs.get_pane(tab).query(DataTable).first()
        if table.display:
            table.focus()

    def action_reload(self) -> None:
        self.load_all()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())
