"""The charger panel: the simulated CPO's EVSEs, and the car's side of the journey."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from tui.messages import ChargerActionRequested
from tui.widgets.fitted_table import Column, FittedTable

# Action, button label, and its key (MainScreen.BINDINGS).
ACTIONS = (
    ("plug_in", "Plug in", "P"),
    ("unplug", "Unplug", "U"),
    ("ev_full", "EV full", "E"),
    ("fault", "Fault", "X"),
    ("repair", "Repair", "R"),
)
COLUMNS = (
    Column("evse", "EVSE", 9, priority=0),
    Column("status", "Status", 10, priority=0),
    Column("car", "Car", 5, priority=1),
    Column("kw", "kW", 4, priority=2),
    Column("session", "Session", 8, priority=3, flex=True),
)


def car_text(car: Any) -> str:
    """The car at the EVSE: nothing, or its state of charge."""
    if not car:
        return ""
    if isinstance(car, dict):
        soc = car.get("soc")
        return f"{float(soc):.0f} %" if soc is not None else "plugged in"
    return str(car)


def evse_uid(charger: dict[str, Any]) -> str:
    return str(charger.get("evse_uid") or charger.get("uid") or charger.get("id") or "?")


class ChargerPanel(Vertical):
    """EVSEs with status; buttons act on the selected one through the simulated CPO."""

    def __init__(self) -> None:
        super().__init__()
        self.chargers: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="charger-note", classes="panel-note")
        yield FittedTable(COLUMNS, id="chargers-table")
        with Horizontal(classes="charger-actions"):
            for action, label, key in ACTIONS:
                yield Button(f"{label} \\[{key}]", id=f"charger-{action}", compact=True)

    @property
    def table(self) -> FittedTable:
        return self.query_one("#chargers-table", FittedTable)

    def set_unavailable(self, reason: str) -> None:
        note = self.query_one("#charger-note", Static)
        note.update(reason)
        note.display = True
        self.set_class(True, "-unavailable")

    def set_chargers(self, chargers: list[dict[str, Any]]) -> None:
        self.set_class(False, "-unavailable")
        self.query_one("#charger-note", Static).display = False
        self.chargers = chargers
        rows = []
        for charger in chargers:
            uid = evse_uid(charger)
            status = str(charger.get("status") or "")
            if charger.get("online") is False:
                status += " (offline)"
            power = charger.get("max_power_kw")
            rows.append(
                (
                    uid,
                    {
                        "evse": uid,
                        "status": status,
                        "car": car_text(charger.get("car")),
                        "kw": "" if power is None else f"{float(power):g}",
                        "session": str(charger.get("session_id") or ""),
                    },
                )
            )
        self.table.set_rows(rows)

    def selected_evse(self) -> str | None:
        if not self.chargers or self.table.row_count == 0:
            return None
        row = min(max(self.table.cursor_row, 0), len(self.chargers) - 1)
        return evse_uid(self.chargers[row])

    def act(self, action: str) -> None:
        uid = self.selected_evse()
        if uid is None:
            self.notify("No charger selected", severity="warning")
            return
        self.post_message(ChargerActionRequested(uid, action))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id and event.button.id.startswith("charger-"):
            self.act(event.button.id.removeprefix("charger-"))
