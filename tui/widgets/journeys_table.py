"""Sessions, CDRs and financial advice confirmations: one row per payment journey."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tui.messages import JourneySelected
from tui.money import major_text, minor_text
from tui.widgets.fitted_table import Column, FittedTable

# Where, what state and where the money is come first: that is what a narrow pane shows. The
# rest of the record is one Enter away.
COLUMNS = (
    Column("terminal", "Terminal", 13, priority=7),
    Column("evse", "EVSE", 9, priority=0),
    Column("state", "State", 11, priority=1),
    Column("money", "Money", 17, priority=0),
    Column("authorized", "Authorized", 8, priority=4),
    Column("captured", "Captured", 8, priority=5),
    Column("voided", "Voided", 8, priority=6),
    Column("capture", "Capture", 15, priority=3),
    Column("fac", "FAC", 7, priority=2),
    Column("reference", "Reference", 12, priority=8),
    Column("session", "Session", 10, priority=9),
    Column("cdr", "CDR", 10, priority=9),
)


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
    if isinstance(value, dict):
        return price_text(value, row.get("currency"))
    if isinstance(value, str) and "." in value:
        return major_text(value, row.get("currency"))
    return minor_text(value, row.get("currency"))


def price_text(price: Any, currency: Any = None) -> str:
    """An OCPI Price (2.2.1 ``excl_vat``/``incl_vat``, 2.3.0 ``before_taxes``/``taxes``)."""
    if not isinstance(price, dict):
        return "" if price is None else str(price)
    total = price.get("incl_vat")
    if total is None and price.get("before_taxes") is not None:
        total = Decimal(str(price["before_taxes"]))
        for tax in price.get("taxes") or []:
            if isinstance(tax, dict) and tax.get("amount") is not None:
                total += Decimal(str(tax["amount"]))
    if total is None:
        total = price.get("excl_vat")
    if total is None:
        return ""
    return major_text(total, currency)


def money_text(row: dict[str, Any]) -> str:
    """Where the journey's money is, as the control API says (``money``): a declined card or
    one never presented is "not authorized", whatever amount was asked for."""
    money = row.get("money")
    authorized = _money(row, "preauthorized_amount", "authorized_amount")
    captured = _money(row, "captured_amount")
    if money is None:  # an emulator without journeys: what its CDRs and FACs say
        return f"{captured} captured" if captured else ""
    money = str(money)
    if money == "NONE":
        return "not authorized"
    if money == "AUTHORIZED":
        return f"{authorized} authorized".strip()
    if money == "CAPTURED":
        return f"{captured} captured".strip()
    if money == "VOIDED":
        return f"{_money(row, 'voided_amount') or authorized} voided".strip()
    # On the way: CAPTURING, CAPTURE_QUEUED, VOIDING, VOID_QUEUED.
    return f"{authorized} {money.lower().replace('_', ' ')}".strip()


def journeys_from_ocpi(
    sessions: list[dict[str, Any]], cdrs: list[dict[str, Any]], facs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per ``authorization_reference`` from the OCPI objects the emulator received
    (sessions, CDRs) and sent (financial advice confirmations), for emulators without
    ``/__admin/journeys``."""
    rows: dict[str, dict[str, Any]] = {}

    def object_of(record: dict[str, Any]) -> dict[str, Any]:
        inner = record.get("object")
        return inner if isinstance(inner, dict) else record

    def row_for(obj: dict[str, Any]) -> dict[str, Any]:
        ref = str(obj.get("authorization_reference") or obj.get("id") or len(rows))
        return rows.setdefault(ref, {"id": ref, "authorization_reference": ref})

    for record in sessions:
        obj = object_of(record)
        row = row_for(obj)
        row.update(
            session_id=obj.get("id"),
            state=obj.get("status"),
            evse_uid=obj.get("evse_uid"),
            currency=obj.get("currency"),
            kwh=obj.get("kwh"),
            authorized_amount=None,
        )
    for record in cdrs:
        obj = object_of(record)
        row = row_for(obj)
        row.update(cdr_id=obj.get("id"), currency=row.get("currency") or obj.get("currency"))
        row["captured_amount"] = obj.get("total_cost")
    for record in facs:
        obj = object_of(record)
        row = row_for(obj)
        row["capture_status"] = obj.get("capture_status_code")
        row["captured_amount"] = obj.get("total_costs") or row.get("captured_amount")
        row["currency"] = row.get("currency") or obj.get("currency")
        row["terminal"] = record.get("terminal_id") or obj.get("terminal_id")
        row["fac_delivered"] = bool(record.get("delivered"))
    return list(rows.values())


def _fac(row: dict[str, Any]) -> str:
    """The financial advice confirmation: none (no invoice reference), pending or sent."""
    if "fac_id" in row and not row["fac_id"]:
        return ""
    value = _first(row, "fac_delivered", "financial_advice_confirmation", "fac")
    if isinstance(value, dict):
        value = value.get("delivered", value.get("status"))
    if value is True:
        return "✔ sent"
    if value is False:
        return "pending"
    return "" if value is None else str(value)


class JourneysTable(Vertical):
    """One row per journey: where, its state and its money first (what fits a narrow pane),
    then the references that tie it to the OCPI session, CDR and FAC; Enter shows all of it.

    The fields are those of ``GET /__admin/journeys`` (``serial_number``, ``money``,
    ``preauthorized_amount``, ``captured_amount``, ... in minor units); the other names are
    those of :func:`journeys_from_ocpi`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.journeys: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="journeys-note", classes="panel-note")
        yield FittedTable(COLUMNS, id="journeys-table")

    @property
    def table(self) -> FittedTable:
        return self.query_one("#journeys-table", FittedTable)

    def set_unavailable(self, reason: str) -> None:
        self._note(reason)

    def _note(self, text: str) -> None:
        note = self.query_one("#journeys-note", Static)
        note.update(text)
        note.display = bool(text)

    def set_journeys(self, journeys: list[dict[str, Any]]) -> None:
        self._note("" if journeys else "No payment journeys yet.")
        rows = []
        self.journeys = {}
        for index, row in enumerate(journeys):
            key = str(_first(row, "id", "authorization_reference") or index)
            self.journeys[key] = row
            rows.append((key, journey_cells(row)))
        self.table.set_rows(rows)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        journey = self.journeys.get(str(event.row_key.value))
        if journey is not None:
            self.post_message(JourneySelected(journey))


def journey_cells(row: dict[str, Any]) -> dict[str, str]:
    """Every column of one journey, shown or not."""
    authorized = row.get("money") not in ("NONE",)
    return {
        "terminal": str(_first(row, "serial_number", "terminal") or ""),
        "evse": str(_first(row, "evse_uid") or ""),
        "state": str(_first(row, "state") or ""),
        "money": money_text(row),
        "authorized": (
            _money(row, "preauthorized_amount", "authorized_amount") if authorized else ""
        ),
        "captured": _money(row, "captured_amount"),
        "voided": _money(row, "voided_amount"),
        "capture": str(_first(row, "capture_status") or ""),
        "fac": _fac(row),
        "reference": str(_first(row, "authorization_reference") or ""),
        "session": str(_first(row, "session_id") or ""),
        "cdr": str(_first(row, "cdr_id") or ""),
    }
