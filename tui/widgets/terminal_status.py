"""The line under the terminal: why it is out of service, or what the keys do right now.

Nothing the person at the keyboard types is dropped without a sign: this line says, for the
screen shown, which keys do something (the PIN keys and the test PIN, Space on the
screensaver, the card keys on the present-card screen) and when the screen moves on by itself.
It only renders what the terminal reports (``out_of_service``, the screen's ``hint``).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from tui.apollo import ApolloScreen


def status_text(screen: ApolloScreen, terminal: dict[str, Any] | None = None) -> Text:
    """The status line for ``screen`` on ``terminal`` (as ``GET /__admin/terminals/{serial}``).

    Short enough for the narrowest frame (35 cells) except an out-of-service reason, which
    wraps onto a second line."""
    terminal = terminal or {}
    why = terminal.get("out_of_service") or screen.out_of_service
    if why:
        return Text.assemble(("Out of service: ", "bold"), str(why))
    phase = screen.phase
    if phase == "pin":
        return Text(screen.hint or "0-9, Enter OK, Backspace, Esc")
    if phase == "present_card" or terminal.get("state") == "READING":
        # Also behind a "Declined, try another card" notice: the terminal reads the next card.
        return Text("Reading cards: t tap, i insert")
    if phase == "processing":
        return Text("Processing: wait for the acquirer")
    if screen.type == "screensaver":
        return Text("Space (or a number) wakes it")
    shortcuts = screen.shortcut_keys
    if shortcuts:
        last = len(shortcuts)
        return Text("1 presses the button" if last == 1 else f"1-{last} press an item or button")
    if not screen.keys:
        return Text("No keys: the screen moves on itself")
    return Text("")


class TerminalStatus(Static):
    """One line under the terminal frame."""

    def show(self, screen: ApolloScreen, terminal: dict[str, Any] | None = None) -> None:
        text = status_text(screen, terminal)
        self.set_class(
            bool((terminal or {}).get("out_of_service") or screen.out_of_service), "-out"
        )
        self.update(text)
