"""Switch between the emulator's terminals: ◀ serial (n/N) ▶."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Static

from tui.messages import TerminalSwitchRequested


class TerminalSwitcher(Horizontal):
    def compose(self) -> ComposeResult:
        yield Button("◀", id="terminal-prev", compact=True)
        yield Static("no terminal", id="terminal-label")
        yield Button("▶", id="terminal-next", compact=True)

    def show(self, serials: list[str], current: str | None) -> None:
        if not serials or current is None:
            label = "no terminal"
        else:
            index = serials.index(current) + 1 if current in serials else 0
            label = f"{current} ({index}/{len(serials)})"
        self.query_one("#terminal-label", Static).update(label)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "terminal-prev":
            self.post_message(TerminalSwitchRequested(-1))
        elif event.button.id == "terminal-next":
            self.post_message(TerminalSwitchRequested(1))
