"""The findings: the verdict per axis (OCPI spec, Payter) and every finding."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tui.messages import ExchangeSelected
from tui.widgets.fitted_table import Column, FittedTable

COLUMNS = (
    Column("id", "#", 3, priority=4),
    Column("severity", "Severity", 7, priority=0),
    Column("axis", "Axis", 6, priority=2),
    Column("rule", "Rule", 9, priority=0),
    Column("message", "Message", 16, priority=1, flex=True),
)

# The report's three verdicts: INCOMPLETE (nothing failed, but the flows Payter needs were not
# all exercised) is neither green nor red.
COLOURS = {"PASS": "green", "FAIL": "red", "INCOMPLETE": "yellow"}


def verdict_text(report: dict[str, Any]) -> Text:
    verdict = str(report.get("verdict") or "?")
    text = Text("Verdict ")
    ink = "black" if verdict == "INCOMPLETE" else "white"
    text.append(f" {verdict} ", style=f"bold {ink} on {COLOURS.get(verdict, 'red')}")
    for axis, label in (("spec", "OCPI spec"), ("payter", "Payter")):
        part = (report.get("axes") or {}).get(axis)
        if not isinstance(part, dict):
            continue
        style = COLOURS.get(str(part.get("verdict")), "red")
        # One line per axis: the two verdicts stay readable in a narrow pane.
        text.append(f"\n{label}: ")
        text.append(str(part.get("verdict")), style=f"bold {style}")
        errors, warnings = part.get("errors", 0), part.get("warnings", 0)
        text.append(f" ({_count(errors, 'error')}, {_count(warnings, 'warning')})")
    return text


def _count(number: object, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


class FindingsPanel(Vertical):
    """Verdict line over a table of findings; Enter opens the exchange that caused one."""

    def __init__(self) -> None:
        super().__init__()
        self.findings: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Static("Verdict: …", id="verdict")
        yield FittedTable(COLUMNS, id="findings-table")

    @property
    def table(self) -> FittedTable:
        return self.query_one("#findings-table", FittedTable)

    def set_report(self, report: dict[str, Any]) -> None:
        self.query_one("#verdict", Static).update(verdict_text(report))

    def set_findings(self, findings: list[dict[str, Any]]) -> None:
        self.findings = findings
        rows = []
        for finding in findings:
            severity = str(finding.get("severity") or "")
            rows.append(
                (
                    str(finding.get("id")),
                    {
                        "id": str(finding.get("id", "")),
                        "severity": Text(
                            severity, style="bold red" if severity == "error" else "yellow"
                        ),
                        "axis": str(finding.get("axis") or ""),
                        "rule": str(finding.get("rule") or ""),
                        "message": str(finding.get("message") or ""),
                    },
                )
            )
        self.table.set_rows(rows)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        for finding in self.findings:
            if str(finding.get("id")) == event.row_key.value and finding.get("exchange_id"):
                self.post_message(ExchangeSelected(int(finding["exchange_id"])))
