"""The live traffic log: every OCPI, CPS and webhook exchange, newest at the bottom."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable

from tui.messages import ExchangeSelected

MAX_ROWS = 500


def status_text(status: Any, error: Any = None) -> Text:
    if error and not status:
        return Text("ERR", style="bold red")
    if status is None:
        return Text("…", style="dim")
    code = int(status)
    style = "green" if code < 300 else "yellow" if code < 400 else "bold red"
    return Text(str(code), style=style)


class TrafficLog(Vertical):
    """Method, path and status per exchange; Enter opens the bodies (tokens redacted)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[int] = set()

    def compose(self) -> ComposeResult:
        table: DataTable[Any] = DataTable(cursor_type="row", zebra_stripes=True, id="traffic-table")
        # Status before the path: a long path is cut off at the pane's edge, the status is not.
        table.add_columns("#", "Time", "", "Proto", "Method", "Status", "Path")
        yield table

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#traffic-table", DataTable)

    def add(self, exchange: dict[str, Any]) -> None:
        exchange_id = exchange.get("id")
        if not isinstance(exchange_id, int) or exchange_id in self.seen:
            return
        self.seen.add(exchange_id)
        table = self.table
        at = str(exchange.get("at") or "")
        direction = "→" if exchange.get("direction") == "out" else "←"
        url = str(exchange.get("url") or "")
        path = urlsplit(url).path or url
        follow = table.row_count == 0 or table.cursor_row >= table.row_count - 1
        table.add_row(
            str(exchange_id),
            at[11:19] if len(at) >= 19 else at,
            direction,
            str(exchange.get("protocol") or ""),
            str(exchange.get("method") or ""),
            status_text(exchange.get("status"), exchange.get("error")),
            path,
            key=str(exchange_id),
        )
        if table.row_count > MAX_ROWS:
            oldest = next(iter(table.rows))
            table.remove_row(oldest)
            self.seen.discard(int(oldest.value or 0))
        if follow:
            table.move_cursor(row=table.row_count - 1)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(ExchangeSelected(int(event.row_key.value)))
