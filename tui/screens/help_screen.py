"""The help screen: every key of the TUI."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Terminal screen",
        (
            ("1 … 9", "press the numbered item or button"),
            ("click / Enter", "press the item or button under the mouse / with focus"),
            ("0 … 9, Enter, Backspace, Esc", "PIN pad: digits, OK, clear, cancel"),
            ("Space", "touch the screen (wakes the screensaver)"),
            ("PgDn / PgUp", "a screen taller than the frame: its QR code whole / back"),
            ("o", "take the terminal offline / bring it online"),
            ("[ / ]", "previous / next terminal"),
        ),
    ),
    (
        "Card wallet",
        (
            ("t", "tap the selected card (contactless)"),
            ("i", "insert the selected card (chip)"),
            ("q", "show a QR code to the camera"),
            ("r", "present an RFID card"),
        ),
    ),
    (
        "Charger (simulated CPO)",
        (
            ("P", "plug the car in"),
            ("U", "unplug"),
            ("E", "the car is full"),
            ("X", "fault: the EVSE goes out of order"),
            ("R", "repair: the EVSE is back in service"),
        ),
    ),
    (
        "Time and views",
        (
            ("m / h", "advance the virtual clock by a minute / an hour"),
            ("w c l s f", "wallet, charger, traffic log, sessions, findings"),
            ("Enter on a row", "traffic or finding: the exchange; session: the journey"),
            ("g", "reload everything from the emulator"),
            ("? / F1", "this help"),
            ("Ctrl+Q", "quit"),
        ),
    ),
)


def keys_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for section, rows in KEYS:
        table.add_row(f"[bold underline]{section}[/]", "")
        for key, what in rows:
            table.add_row(key, what)
        table.add_row("", "")
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body") as body:
            body.border_title = "Keys"
            body.border_subtitle = "Esc to close"
            yield Static(keys_table())
