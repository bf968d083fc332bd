"""All state in one SQLite file, through sqlite-utils. Every write goes through :class:`Store`.

Each subsystem declares its tables with :class:`TableSpec` and registers them; the store creates
them (and their indexes) once. Columns named in ``json_columns`` hold JSON documents: they are
written with :func:`emulator.jsonio.dumps_compact` and decoded on read, so OCPI objects
keep unknown fields and exact amounts.

sqlite-utils notes: a Database is bound to the thread that made it (the event loop thread
here); nothing awaits inside ``atomic()``; WAL is switched on once, outside any transaction.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils
from sqlite_utils.db import jsonify_if_needed

from emulator import jsonio

# Values written as they are (no JSON, no conversion).
_PLAIN = frozenset({str, int, float, bool, bytes})


class JsonText:
    """A JSON column's value given as the text already written (``dumps_compact``): stored
    as it is, not encoded a second time."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


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
    """Schema through sqlite-utils (tables, columns, indexes, migrations); reads and writes
    through plain parameterised SQL built once per table and shape, so a write never re-reads
    the schema (sqlite3 keeps the prepared statements by their text).

    ``statements`` and ``rows_read`` count the SQL statements run through the store and the
    rows they returned (the complexity guard of the journey tests reads them)."""

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
        self._pks: dict[str, tuple[str, ...]] = {}
        self._sql: dict[tuple[Any, ...], str] = {}
        self.statements = 0
        self.rows_read = 0
        # Called before POST /__admin/reset empties the tables (buffers drop what they hold).
        self.reset_listeners: list[Callable[[], None]] = []

    # --- schema ----------------------------------------------------------------------------

    def register(self, *specs: TableSpec) -> None:
        for spec in specs:
            if spec.name in self._specs:
                continue
            self._specs[spec.name] = spec
            self._pks[spec.name] = (spec.pk,) if isinstance(spec.pk, str) else tuple(spec.pk)
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
        json_columns = self._specs[table].json_columns
        out: dict[str, Any] = {}
        for key, value in row.items():
            if value is None:
                out[key] = None
            elif key in json_columns:
                out[key] = value.text if type(value) is JsonText else jsonio.dumps_compact(value)
            elif type(value) in _PLAIN:
                out[key] = value  # what sqlite-utils' jsonify_if_needed leaves as it is
            else:
                out[key] = jsonify_if_needed(value)
        return out

    def _decode(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        spec = self._specs[table]
        for key in spec.json_columns:
            value = row.get(key)
            if isinstance(value, str):
                row[key] = jsonio.loads(value)
        return row

    # --- plain SQL -------------------------------------------------------------------------

    def _run(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self.statements += 1
        return self.db.execute(sql, params)

    def _where_pk(self, table: str) -> str:
        return " and ".join(f"[{c}] = ?" for c in self._pks[table])

    def _pk_values(self, table: str, pk: Any) -> list[Any]:
        values = list(pk) if isinstance(pk, (list, tuple)) else [pk]
        if len(values) != len(self._pks[table]):
            raise sqlite_utils.db.NotFoundError(f"{table}: need {len(self._pks[table])} key values")
        return values

    def _known(self, table: str, columns: Iterable[str]) -> None:
        """Only declared columns reach the SQL text (built once per shape)."""
        unknown = set(columns) - set(self._specs[table].columns)
        if unknown:
            raise sqlite3.OperationalError(f"table {table} has no column {sorted(unknown)[0]}")

    def _insert_sql(self, table: str, columns: tuple[str, ...]) -> str:
        key = ("insert", table, columns)
        sql = self._sql.get(key)
        if sql is None:
            self._known(table, columns)
            names = ", ".join(f"[{c}]" for c in columns)
            marks = ", ".join("?" for _ in columns)
            sql = self._sql[key] = f"insert into [{table}] ({names}) values ({marks})"  # noqa: S608 - declared names
        return sql

    def _upsert_sql(self, table: str, columns: tuple[str, ...]) -> str:
        key = ("upsert", table, columns)
        sql = self._sql.get(key)
        if sql is None:
            self._known(table, columns)
            pks = self._pks[table]
            names = ", ".join(f"[{c}]" for c in columns)
            marks = ", ".join("?" for _ in columns)
            sets = ", ".join(f"[{c}] = excluded.[{c}]" for c in columns if c not in pks)
            conflict = ", ".join(f"[{c}]" for c in pks)
            action = f"do update set {sets}" if sets else "do nothing"
            head = f"insert into [{table}] ({names}) values ({marks})"  # noqa: S608
            sql = self._sql[key] = f"{head} on conflict ({conflict}) {action}"
        return sql

    # --- writes ----------------------------------------------------------------------------

    def insert(self, table: str, row: dict[str, Any]) -> int | None:
        encoded = self._encode(table, row)
        columns = tuple(encoded)
        cursor = self._run(self._insert_sql(table, columns), list(encoded.values()))
        pks = self._pks[table]
        if len(pks) == 1 and pks[0] in encoded:
            value = encoded[pks[0]]
            return value if isinstance(value, int) else None
        return cursor.lastrowid

    def insert_many(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Rows of one shape (the same keys) in one statement, prepared once."""
        if not rows:
            return
        encoded = [self._encode(table, row) for row in rows]
        columns = tuple(encoded[0])
        self.statements += 1
        self.db.conn.executemany(
            self._insert_sql(table, columns), [[r.get(c) for c in columns] for r in encoded]
        )

    def upsert(self, table: str, row: dict[str, Any]) -> None:
        encoded = self._encode(table, row)
        self._run(self._upsert_sql(table, tuple(encoded)), list(encoded.values()))

    def update(self, table: str, pk: Any, changes: dict[str, Any]) -> None:
        """Change some columns of an existing row (sqlite-utils' NotFoundError if none)."""
        values = self._pk_values(table, pk)
        if not changes:
            if self.get(table, pk) is None:
                raise sqlite_utils.db.NotFoundError
            return
        encoded = self._encode(table, changes)
        key = ("update", table, tuple(encoded))
        sql = self._sql.get(key)
        if sql is None:
            self._known(table, encoded)
            sets = ", ".join(f"[{c}] = ?" for c in encoded)
            where = self._where_pk(table)
            sql = self._sql[key] = f"update [{table}] set {sets} where {where}"  # noqa: S608
        if self._run(sql, [*encoded.values(), *values]).rowcount == 0:
            raise sqlite_utils.db.NotFoundError

    def delete(self, table: str, pk: Any) -> None:
        with contextlib.suppress(sqlite_utils.db.NotFoundError):
            values = self._pk_values(table, pk)
            self._run(f"delete from [{table}] where {self._where_pk(table)}", values)  # noqa: S608

    def delete_where(self, table: str, where: str, params: Iterable[Any] = ()) -> None:
        self._run(f"delete from [{table}] where {where}", list(params))  # noqa: S608

    def execute(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> None:
        self._run(sql, params if isinstance(params, dict) else list(params))

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """A transaction. Never ``await`` inside it."""
        with self.db.atomic():
            yield

    # --- reads -----------------------------------------------------------------------------

    def _dicts(self, cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
        columns = [c[0] for c in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor]
        self.rows_read += len(rows)
        return rows

    def get(self, table: str, pk: Any) -> dict[str, Any] | None:
        try:
            values = self._pk_values(table, pk)
        except sqlite_utils.db.NotFoundError:
            return None
        key = ("get", table)
        sql = self._sql.get(key)
        if sql is None:
            sql = self._sql[key] = f"select * from [{table}] where {self._where_pk(table)}"  # noqa: S608
        rows = self._dicts(self._run(sql, values))
        return self._decode(table, rows[0]) if rows else None

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
        sql = f"select * from [{table}]"  # noqa: S608 - table names are ours
        if where:
            sql += f" where {where}"
        if order_by:
            sql += f" order by {order_by}"
        if limit is not None:
            sql += f" limit {int(limit)}"
        if offset is not None:
            if limit is None:
                sql += " limit -1"
            sql += f" offset {int(offset)}"
        return [self._decode(table, r) for r in self._dicts(self._run(sql, list(params)))]

    def count(self, table: str, where: str | None = None, params: Iterable[Any] = ()) -> int:
        sql = f"select count(*) as n from [{table}]"  # noqa: S608 - table names are ours
        if where:
            sql += f" where {where}"
        row = self._run(sql, list(params)).fetchone()
        self.rows_read += 1
        return int(row[0]) if row else 0

    def query(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        return self._dicts(self._run(sql, params if isinstance(params, dict) else list(params)))

    def tuples(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """:meth:`query` as plain tuples, in the order of the select's columns (a hot path
        that reads a few columns of many rows)."""
        rows = self._run(sql, list(params)).fetchall()
        self.rows_read += len(rows)
        return rows

    # --- lifecycle -------------------------------------------------------------------------

    def reset(self) -> None:
        for listener in list(self.reset_listeners):
            listener()
        with self.atomic():
            for spec in self._specs.values():
                if not spec.keep_on_reset:
                    self.db.execute(f"delete from [{spec.name}]")  # noqa: S608

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.db.close()
