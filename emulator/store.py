"""All state in one SQLite file, through sqlite-utils. Every write goes through :class:`Store`.

Each subsystem declares its tables with :class:`TableSpec` and registers them; the store creates
them (and their indexes) once. Columns named in ``json_columns`` hold JSON documents: they are
written with :mod:`emulator.jsonio` (Decimals stay exact) and decoded on read, so OCPI objects
keep unknown fields and exact amounts.

sqlite-utils notes: a Database is bound to the thread that made it (the event loop thread
here); nothing awaits inside ``atomic()``; WAL is switched on once, outside any transaction.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from emulator import jsonio


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: dict[str, type]
    pk: str | tuple[str, ...] = "id"
    json_columns: frozenset[str] = field(default_factory=frozenset)
    indexes: tuple[tuple[str, ...], ...] = ()
    unique_indexes: tuple[tuple[str, ...], ...] = ()
    # Tables whose rows survive POST /__admin/reset (none by default).
    keep_on_reset: bool = False


class Store:
    def __init__(self, path: str) -> None:
        self.path = path
        if path == ":memory:":
            self.db = sqlite_utils.Database(memory=True)
        else:
            self.db = sqlite_utils.Database(path)
            with contextlib.suppress(sqlite3.OperationalError):
                self.db.enable_wal()
        self.db.execute("PRAGMA foreign_keys=OFF")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._specs: dict[str, TableSpec] = {}

    # --- schema ----------------------------------------------------------------------------

    def register(self, *specs: TableSpec) -> None:
        for spec in specs:
            if spec.name in self._specs:
                continue
            self._specs[spec.name] = spec
            table = self.db.table(spec.name)
            if not table.exists():
                table.create(spec.columns, pk=spec.pk, not_null=None)
            else:
                missing = {c: t for c, t in spec.columns.items() if c not in table.columns_dict}
                for column, coltype in missing.items():
                    table.add_column(column, coltype)
            existing = {tuple(ix.columns) for ix in table.indexes}
            for cols in spec.indexes:
                if tuple(cols) not in existing:
                    table.create_index(list(cols), if_not_exists=True)
            for cols in spec.unique_indexes:
                if tuple(cols) not in existing:
                    table.create_index(list(cols), unique=True, if_not_exists=True)

    def spec(self, name: str) -> TableSpec:
        return self._specs[name]

    # --- encoding --------------------------------------------------------------------------

    def _encode(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        spec = self._specs[table]
        out: dict[str, Any] = {}
        for key, value in row.items():
            if key in spec.json_columns and value is not None:
                out[key] = jsonio.dumps(value)
            else:
                out[key] = value
        return out

    def _decode(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        spec = self._specs[table]
        for key in spec.json_columns:
            value = row.get(key)
            if isinstance(value, str):
                row[key] = jsonio.loads(value)
        return row

    # --- writes ----------------------------------------------------------------------------

    def insert(self, table: str, row: dict[str, Any]) -> int | None:
        spec = self._specs[table]
        t = self.db.table(table)
        t.insert(self._encode(table, row), pk=spec.pk)
        return t.last_pk if isinstance(t.last_pk, int) else None

    def upsert(self, table: str, row: dict[str, Any]) -> None:
        spec = self._specs[table]
        self.db.table(table).upsert(self._encode(table, row), pk=spec.pk)

    def update(self, table: str, pk: Any, changes: dict[str, Any]) -> None:
        self.db.table(table).update(pk, self._encode(table, changes))

    def delete(self, table: str, pk: Any) -> None:
        with contextlib.suppress(sqlite_utils.db.NotFoundError):
            self.db.table(table).delete(pk)

    def delete_where(self, table: str, where: str, params: Iterable[Any] = ()) -> None:
        self.db.table(table).delete_where(where, list(params))

    def execute(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> None:
        self.db.execute(sql, params if isinstance(params, dict) else list(params))

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """A transaction. Never ``await`` inside it."""
        with self.db.atomic():
            yield

    # --- reads -----------------------------------------------------------------------------

    def get(self, table: str, pk: Any) -> dict[str, Any] | None:
        try:
            row = self.db.table(table).get(pk)
        except sqlite_utils.db.NotFoundError:
            return None
        return self._decode(table, dict(row))

    def first(
        self, table: str, where: str, params: Iterable[Any] = (), order_by: str | None = None
    ) -> dict[str, Any] | None:
        for row in self.rows(table, where, params, order_by=order_by, limit=1):
            return row
        return None

    def rows(
        self,
        table: str,
        where: str | None = None,
        params: Iterable[Any] = (),
        *,
        order_by: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[dict[str, Any]]:
        found = self.db.table(table).rows_where(
            where, list(params), order_by=order_by, limit=limit, offset=offset
        )
        return [self._decode(table, dict(r)) for r in found]

    def count(self, table: str, where: str | None = None, params: Iterable[Any] = ()) -> int:
        sql = f"select count(*) as n from [{table}]"  # noqa: S608 - table names are ours
        if where:
            sql += f" where {where}"
        for row in self.db.query(sql, list(params)):
            return int(row["n"])
        return 0

    def query(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        return list(self.db.query(sql, params if isinstance(params, dict) else list(params)))

    # --- lifecycle -------------------------------------------------------------------------

    def reset(self) -> None:
        with self.atomic():
            for spec in self._specs.values():
                if not spec.keep_on_reset:
                    self.db.execute(f"delete from [{spec.name}]")  # noqa: S608

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.db.close()
