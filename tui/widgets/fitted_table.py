"""A table that keeps the columns that matter most when the pane is narrow.

Each column says how wide its content is and how much it matters (``priority`` 0 first). At
every width the table shows, in their own order, the most important columns that fit whole;
the ``flex`` column (a label, a path, a message) takes whatever width is left, down to its
``least`` width. A cell wider than its column is never cut silently: it wraps (``wrap``: the
row grows), is shortened by the column's own ``fit`` (a path keeps its ends), or ends in "…".
What a narrow pane leaves out is one Enter away in the row's detail.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual import events
from textual.coordinate import Coordinate
from textual.widgets import DataTable

# Cells DataTable adds around each column (cell_padding 1 on each side).
PADDING = 2
# Cells kept free for the vertical scrollbar (scrollbar-size-vertical in tui.tcss).
SCROLLBAR = 1
# Long opaque ids (UUIDs, hex tokens) are shown by their first characters.
_LONG_ID = re.compile(r"^[0-9A-Za-z-]{20,}$")


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int
    priority: int = 0
    flex: bool = False
    # The flex column's narrowest width (default: ``width``, which it gets when it can).
    least: int | None = None
    # A cell wider than the column wraps onto more lines (the row grows) ...
    wrap: bool = False
    # ... or is shortened by this (text, width) -> text; else it ends in "…".
    fit: Callable[[str, int], str] | None = None

    @property
    def narrowest(self) -> int:
        least = self.width if self.least is None or not self.flex else self.least
        return max(least, len(self.label))


def fit_columns(columns: Sequence[Column], width: int) -> list[Column]:
    """The columns shown in ``width`` cells: by priority, each one only if it fits whole (a
    flex column: at its ``least`` width at worst)."""
    chosen: set[str] = set()
    used = 0
    for column in sorted(columns, key=lambda c: c.priority):
        room = width - used
        most = max(column.width, len(column.label)) + PADDING
        if most <= room:
            chosen.add(column.key)
            used += most
        elif column.flex and column.narrowest + PADDING <= room:
            chosen.add(column.key)
            used = width
    return [c for c in columns if c.key in chosen]


def ellipsis(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells: cut with "…" when it is longer."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    return set_cell_size(text, width - 1) + "…"


def short_id(value: str) -> str:
    """A long opaque id (a UUID, a hex token) as its first characters: ``8f6d0558…``; the
    whole id is in the row's detail."""
    if _LONG_ID.match(value) and any(c.isdigit() for c in value):
        return f"{value[:8]}…"
    return value


def wrapped(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` cells, broken between words where it can."""
    if cell_len(text) <= width or width < 1:
        return [text]
    return textwrap.wrap(text, width, break_on_hyphens=False) or [text]


class FittedTable(DataTable[Any]):
    """A row-cursor table whose columns follow :func:`fit_columns` at its current width."""

    def __init__(
        self, columns: Sequence[Column], *, id: str | None = None, follow: bool = False
    ) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id)
        # ``follow``: a log, whose cursor stays on the newest row unless moved up.
        self.follow = follow
        self.spec = list(columns)
        self.shown: list[Column] = []
        self.widths: dict[str, int] = {}
        self._laid_out_at = 0
        self._rows: dict[str, dict[str, Any]] = {}

    # --- rows --------------------------------------------------------------------------------

    def set_rows(self, rows: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Replace every row; the cursor stays on the same row number."""
        cursor = self.cursor_row
        self._rows = dict(rows)
        self._rebuild(cursor)

    def append_row(self, key: str, cells: dict[str, Any]) -> None:
        self._rows[key] = cells
        if self.shown:
            shown, height = self._cells(cells)
            self.add_row(*shown, key=key, height=height)

    def drop_row(self, key: str) -> None:
        if self._rows.pop(key, None) is not None and self.shown:
            self.remove_row(key)

    def row_cells(self, key: str) -> dict[str, Any] | None:
        """Every column of a row, shown at this width or not."""
        return self._rows.get(key)

    def cells_at(self, index: int) -> dict[str, Any]:
        """Every column of the row at ``index`` (in the table's order)."""
        key = self.coordinate_to_cell_key(Coordinate(index, 0)).row_key.value
        return self._rows.get(str(key), {})

    # --- columns -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        # Every column until the table is laid out (a pane not shown yet has no width): rows
        # are in the table from the start.
        self._rebuild(0)

    def _on_resize(self, event: events.Resize) -> None:
        super()._on_resize(event)
        columns_change = [c.key for c in self._fit()] != [c.key for c in self.shown]
        flex_changes = any(c.flex for c in self.shown) and self.size.width != self._laid_out_at
        if columns_change or flex_changes:
            self._rebuild(self.cursor_row)

    def _fit(self) -> list[Column]:
        return fit_columns(self.spec, max(self.size.width - SCROLLBAR, 0))

    def _rebuild(self, cursor: int) -> None:
        if self.follow and (not self.shown or cursor >= self.row_count - 1):
            cursor = len(self._rows) - 1
        shown = self._fit() if self.size.width else list(self.spec)
        self.clear(columns=True)
        self.shown = shown
        self._laid_out_at = self.size.width
        fixed = sum(max(c.width, len(c.label)) + PADDING for c in shown if not c.flex)
        self.widths = {}
        for column in shown:
            width = max(column.width, len(column.label))
            if column.flex and self.size.width:
                width = max(self.size.width - SCROLLBAR - fixed - PADDING, column.narrowest)
            self.widths[column.key] = width
            self.add_column(column.label, width=width, key=column.key)
        for key, cells in self._rows.items():
            shown_cells, height = self._cells(cells)
            self.add_row(*shown_cells, key=key, height=height)
        if self.row_count:
            self.move_cursor(row=min(max(cursor, 0), self.row_count - 1))

    def _cells(self, cells: dict[str, Any]) -> tuple[list[Any], int]:
        """The shown columns' cells, each fitted to its width, and the row's height."""
        out: list[Any] = []
        height = 1
        for column in self.shown:
            value = cells.get(column.key, "")
            width = self.widths.get(column.key) if self.size.width else None
            if width is None or not isinstance(value, str | Text):
                out.append(value)
                continue
            text = value.plain if isinstance(value, Text) else value
            if cell_len(text) <= width:
                out.append(value)
            elif column.wrap:
                lines = wrapped(text, width)
                height = max(height, len(lines))
                out.append("\n".join(lines))
            elif column.fit is not None:
                out.append(column.fit(text, width))
            elif isinstance(value, Text):
                cut = value.copy()
                cut.truncate(width, overflow="ellipsis")
                out.append(cut)
            else:
                out.append(ellipsis(text, width))
        return out, height
