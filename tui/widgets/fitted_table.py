"""A table that keeps the columns that matter most when the pane is narrow.

Each column says how wide its content is and how much it matters (``priority`` 0 first). At
every width the table shows, in their own order, the most important columns that fit whole;
the ``flex`` column (the last one: a path, a message) takes whatever width is left. What a
narrow pane leaves out is one Enter away in the row's detail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from textual import events
from textual.coordinate import Coordinate
from textual.widgets import DataTable

# Cells DataTable adds around each column (cell_padding 1 on each side).
PADDING = 2
# Cells kept free for the vertical scrollbar (scrollbar-size-vertical in tui.tcss).
SCROLLBAR = 1


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int
    priority: int = 0
    flex: bool = False


def fit_columns(columns: Sequence[Column], width: int) -> list[Column]:
    """The columns shown in ``width`` cells: by priority, each one only if it fits whole."""
    chosen: set[str] = set()
    used = 0
    for column in sorted(columns, key=lambda c: c.priority):
        need = max(column.width, len(column.label)) + PADDING
        if used + need <= width:
            chosen.add(column.key)
            used += need
    return [c for c in columns if c.key in chosen]


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
            self.add_row(*self._cells(cells), key=key)

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
        for column in shown:
            width = max(column.width, len(column.label))
            if column.flex and self.size.width:
                width = max(self.size.width - SCROLLBAR - fixed - PADDING, width)
            self.add_column(column.label, width=width, key=column.key)
        for key, cells in self._rows.items():
            self.add_row(*self._cells(cells), key=key)
        if self.row_count:
            self.move_cursor(row=min(max(cursor, 0), self.row_count - 1))

    def _cells(self, cells: dict[str, Any]) -> list[Any]:
        return [cells.get(c.key, "") for c in self.shown]
