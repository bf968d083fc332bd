"""The live traffic log: every OCPI, CPS and webhook exchange, newest at the bottom."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable

from tui.messages import ExchangeSelected
from tui.widgets.fitted_table import Column, FittedTable

MAX_ROWS = 500
# Status and path come first: what was asked for and how it went. The path is shortened (no
# "/ocpi", role or version) so that the part that tells exchanges apart is what shows:
# "commands/START_SESSION", "sessions/NL/SIM/8f6d0558…". Enter shows the whole URL.
COLUMNS = (
    Column("id", "#", 4, priority=5),
    Column("time", "Time", 8, priority=3),
    Column("direction", "", 1, priority=1),
    Column("protocol", "Proto", 5, priority=6),
    Column("method", "Method", 6, priority=2),
    Column("status", "HTTP", 3, priority=0),
    Column("path", "Path", 20, priority=0, flex=True),
)
_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")
_ROLES = {"cpo", "emsp", "ptp", "hub", "sender", "receiver"}
# Long opaque ids (UUIDs, hex tokens) are cut to their first characters.
_LONG_ID = re.compile(r"^[0-9A-Za-z-]{20,}$")


def status_text(status: Any, error: Any = None) -> Text:
    if error and not status:
        return Text("ERR", style="bold red")
    if status is None:
        return Text("…", style="dim")
    code = int(status)
    style = "green" if code < 300 else "yellow" if code < 400 else "bold red"
    return Text(str(code), style=style)


def short_path(url: str) -> str:
    """``http://h/ocpi/cpo/2.3.0/commands/START_SESSION`` → ``commands/START_SESSION``."""
    path = urlsplit(url).path or url
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "ocpi":
        parts = parts[1:]
        while parts[:-1] and (parts[0] in _ROLES or _VERSION.match(parts[0])):
            parts = parts[1:]
    parts = [f"{p[:8]}…" if _LONG_ID.match(p) and any(c.isdigit() for c in p) else p for p in parts]
    return "/".join(parts) or "/"


class TrafficLog(Vertical):
    """Method, path and status per exchange; Enter opens the bodies (tokens redacted)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[int] = set()

    def compose(self) -> ComposeResult:
        yield FittedTable(COLUMNS, id="traffic-table", follow=True)

    @property
    def table(self) -> FittedTable:
        return self.query_one("#traffic-table", FittedTable)

    def add(self, exchange: dict[str, Any]) -> None:
        exchange_id = exchange.get("id")
        if not isinstance(exchange_id, int) or exchange_id in self.seen:
            return
        self.seen.add(exchange_id)
        table = self.table
        at = str(exchange.get("at") or "")
        follow = table.row_count == 0 or table.cursor_row >= table.row_count - 1
        table.append_row(
            str(exchange_id),
            {
                "id": str(exchange_id),
                "time": at[11:19] if len(at) >= 19 else at,
                "direction": "→" if exchange.get("direction") == "out" else "←",
                "protocol": str(exchange.get("protocol") or ""),
                "method": str(exchange.get("method") or ""),
                "status": status_text(exchange.get("status"), exchange.get("error")),
                "path": short_path(str(exchange.get("url") or "")),
            },
        )
        if table.row_count > MAX_ROWS:
            oldest = next(iter(table.rows))
            table.drop_row(str(oldest.value))
            self.seen.discard(int(oldest.value or 0))
        if follow and table.row_count:
            table.move_cursor(row=table.row_count - 1)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(ExchangeSelected(int(event.row_key.value)))
