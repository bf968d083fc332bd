"""The live traffic log: every OCPI, CPS and webhook exchange, newest at the bottom, and the
injected faults that are active (``/__admin/faults``): listed above the log, and each
exchange a fault changed marked with ``↯``."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tui.messages import ExchangeSelected
from tui.widgets.fitted_table import Column, FittedTable, ellipsis, short_id

MAX_ROWS = 500
# The mark of an injected fault (one cell wide, unlike ⚡).
FAULT_MARK = "↯"
# Faults listed above the log at most (the rest are counted).
MAX_FAULT_LINES = 3
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
    Column("path", "Path", 20, priority=0, flex=True, fit=lambda p, w: fit_path(p, w)),
)
_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")
_ROLES = {"cpo", "emsp", "ptp", "hub", "sender", "receiver"}


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
    return "/".join(short_id(p) for p in parts) or "/"


def fit_path(path: str, width: int) -> str:
    """``path`` in ``width`` cells, leaving out whole segments in the middle ("…") rather than
    cutting its end: ``locations/NL/SIM/…/SIM-AMS-1``, ``commands/START_SESSION/…``.

    As many segments as fit are kept, always the first (the module); the last one before those
    after the first, unless it is an id already shortened (what the command was matters more
    than which one). A path whose first segments alone do not fit ends in "…".
    """
    if len(path) <= width:
        return path
    parts = path.split("/")
    count = len(parts)
    tail_first = not parts[-1].endswith("…")
    for kept in range(count - 1, 1, -1):
        heads = range(1, kept + 1) if tail_first else range(kept, 0, -1)
        for head in heads:
            tail = kept - head
            candidate = "/".join([*parts[:head], "…", *(parts[count - tail :] if tail else [])])
            if len(candidate) <= width:
                return candidate
    return ellipsis(path, width)


def fault_line(owner: str, fault: dict[str, Any]) -> str:
    """``↯ fault #1: http_status 503 · in cdrs POST · fired 0 of 1``."""
    what = str(fault.get("description") or f"fault #{fault.get('id')}")
    scope = " ".join(
        str(fault[name])
        for name in ("direction", "protocol", "module", "method", "path")
        if fault.get(name)
    )
    times = fault.get("times")
    fired = f"fired {fault.get('fired', 0)}" + (f" of {times}" if times else "")
    label = f" ({fault['label']})" if fault.get("label") else ""
    prefix = f"{owner} " if owner else ""
    return f"{FAULT_MARK} {prefix}{what}{label} · {scope} · {fired}"


class TrafficLog(Vertical):
    """Method, path and status per exchange; Enter opens the bodies (tokens redacted)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[int] = set()

    def compose(self) -> ComposeResult:
        yield Static("", id="faults-note", classes="panel-note -faults")
        yield FittedTable(COLUMNS, id="traffic-table", follow=True)

    def on_mount(self) -> None:
        self.query_one("#faults-note").display = False

    def set_faults(self, faults: list[tuple[str, dict[str, Any]]]) -> None:
        """The active faults, each with whose it is (``""`` the emulator's, or ``"CPO"``)."""
        note = self.query_one("#faults-note", Static)
        note.display = bool(faults)
        lines = [fault_line(owner, fault) for owner, fault in faults]
        if len(lines) > MAX_FAULT_LINES:
            more = len(lines) - MAX_FAULT_LINES + 1
            rest = f"{FAULT_MARK} and {more} more: GET /__admin/faults"
            lines = [*lines[: MAX_FAULT_LINES - 1], rest]
        note.update("\n".join(lines))

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
                "path": (f"{FAULT_MARK} " if exchange.get("fault") else "")
                + short_path(str(exchange.get("url") or "")),
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
