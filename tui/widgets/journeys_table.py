"""Sessions, CDRs and financial advice confirmations: one row per payment journey."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tui.apollo import format_minor


def _first(row: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = row.get(name)
        if value not in (None, ""):
            return value
    return None


def _money(row: dict[str, Any], *names: str) -> str:
    value = _first(row, *names)
    if value is None:
        return ""
    return format_minor(value, row.get("currency"))


def _fac(row: dict[str, Any]) -> str:
    value = _first(row, "fac_delivered", "financial_advice_confirmation", "fac")
    if isinstance(value, dict):
        value = value.get("delivered", value.get("status"))
    if value is True:
        return "✔ sent"
    if value is False:
        return "pending"
    return "" if value is None else str(value)


class JourneysTable(Vertical):
    """Terminal, EVSE, authorization reference, state, money, OCPI session / CDR, FAC."""

    def compose(self) -> ComposeResult:
        yield Static("", id="journeys-note", classes="panel-note")
        table: DataTable[str] = DataTable(
            cursor_type="row", zebra_stripes=True, id="journeys-table"
        )
        table.add_columns(
            "Terminal",
            "EVSE",
            "Reference",
            "State",
            "Authorized",
            "Captured",
            "Voided",
            "Capture",
            "Session",
            "CDR",
            "FAC",
        )
        yield table

    @property
    def table(self) -> DataTable[str]:
        return self.query_one("#journeys-table", DataTable)

    def set_unavailable(self, reason: str) -> None:
        self._note(reason)

    def _note(self, text: str) -> None:
        note = self.query_one("#journeys-note", Static)
        note.update(text)
        note.display = bool(text)

    def set_journeys(self, journeys: list[dict[str, Any]]) -> None:
        self._note("" if journeys else "No payment journeys yet.")
        table = self.table
        table.clear()
        for index, row in enumerate(journeys):
            key = str(_first(row, "id", "authorization_reference") or index)
            table.add_row(
                str(_first(row, "terminal", "serial_number", "terminal_serial") or ""),
                str(_first(row, "evse_uid", "evse") or ""),
                str(_first(row, "authorization_reference") or ""),
                str(_first(row, "state", "status") or ""),
                _money(row, "authorized_amount", "preauthorized_amount", "pre_authorized_amount"),
                _money(row, "captured_amount"),
                _money(row, "voided_amount"),
                str(_first(row, "capture_status") or ""),
                str(_first(row, "session_id", "ocpi_session_id") or ""),
                str(_first(row, "cdr_id", "ocpi_cdr_id") or ""),
                _fac(row),
                key=key,
            )
