"""The top bar: which emulator, whether the event stream is up, and the (virtual) time."""

from __future__ import annotations

import re

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Button, Static

from tui.messages import ClockAdvanceRequested


def display_time(stamp: str) -> str:
    """``2025-03-01T09:00:04.329Z`` → ``2025-03-01 09:00:04 UTC``."""
    text = re.sub(r"\.\d+", "", stamp)
    return text.replace("T", " ").replace("Z", " UTC").replace("+00:00", " UTC")


class ClockBar(Horizontal):
    """Emulator URL, stream status, virtual time and +1 min / +1 h."""

    now = reactive("")
    mode = reactive("")
    connected = reactive(False)

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def compose(self) -> ComposeResult:
        yield Static(id="clock-status")
        yield Static(id="clock-time")
        yield Button("+1 min \\[m]", id="clock-minute", compact=True)
        yield Button("+1 h \\[h]", id="clock-hour", compact=True)

    def _refresh_text(self) -> None:
        if not self.is_mounted:
            return
        status = Text()
        status.append("● " if self.connected else "○ ", style="green" if self.connected else "red")
        # Without "http://" the host and port still fit at 80 columns.
        status.append(self.url.removeprefix("http://"), style="bold")
        self.query_one("#clock-status", Static).update(status)
        time = Text()
        shown = display_time(self.now) if self.now else "—"
        time.append(shown, style="bold")
        if self.mode:
            time.append(f" ({self.mode})", style="dim")
        self.query_one("#clock-time", Static).update(time)

    def on_mount(self) -> None:
        self._refresh_text()

    def watch_now(self) -> None:
        self._refresh_text()

    def watch_mode(self) -> None:
        self._refresh_text()
        if self.is_mounted:
            # A real clock cannot be advanced: no buttons that can only fail.
            for button in self.query(Button):
                button.display = self.mode != "real"

    def watch_connected(self) -> None:
        self._refresh_text()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "clock-minute":
            self.post_message(ClockAdvanceRequested(60))
        elif event.button.id == "clock-hour":
            self.post_message(ClockAdvanceRequested(3600))
