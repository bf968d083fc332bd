"""The simulated CPO's OCPI objects in SQLite, through the one :class:`~emulator.store.Store`.

Every object is kept whole as JSON (in its 2.3.0 shape; :mod:`emulator.cpo_sim.catalog`
derives the 2.2.1 one) next to the columns a look-up needs:

* ``key``: the id folded to lower case, because OCPI ids are CiStrings and compare
  case-insensitively (types.asciidoc, CiString);
* ``seq``: creation order, the order of every Sender list (transport_and_format, pagination:
  the same URL returns the same sequence, oldest first);
* ``updated_us``: ``last_updated`` in microseconds since the epoch, for the date filters
  (``date_from`` inclusive, ``date_to`` exclusive). The text form does not sort: a value
  with milliseconds sorts before the same second without.

Every read by key and every page is an index look-up; nothing scans a whole table.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict, cast

from emulator.ocpi.types import format_datetime, parse_datetime
from emulator.store import Store, TableSpec


def _spec(
    name: str,
    extra: dict[str, type] | None = None,
    json: tuple[str, ...] = (),
    indexes: tuple[tuple[str, ...], ...] = (),
) -> TableSpec:
    columns: dict[str, type] = {"key": str, "id": str, "seq": int, "updated_us": int}
    columns.update(extra or {})
    columns["object"] = str
    return TableSpec(
        name=name,
        columns=columns,
        pk="key",
        json_columns=frozenset({"object", *json}),
        indexes=(("seq",), ("updated_us",), *indexes),
    )


LOCATIONS = _spec("cpo_locations")
TARIFFS = _spec("cpo_tariffs")
# ``auth_ref`` is the authorization_reference folded to lower case, for look-ups.
SESSIONS = _spec(
    "cpo_sessions",
    {"status": str, "platform_id": int, "auth_ref": str, "delivery": str, "context": str},
    ("delivery", "context"),
    (("auth_ref",), ("platform_id", "seq")),
)
CDRS = _spec(
    "cpo_cdrs",
    {"session_id": str, "platform_id": int, "auth_ref": str, "delivery": str},
    ("delivery",),
    (("auth_ref",), ("platform_id", "seq")),
)
# ``due_at``: when the charger's CommandResult is due (microseconds), until it is sent; a
# restart schedules what is still due.
COMMANDS = _spec(
    "cpo_commands",
    {
        "command": str,
        "platform_id": int,
        "response": str,
        "result": str,
        "delivery": str,
        "due_at": int,
    },
    ("response", "result", "delivery"),
    (("due_at",),),
)
TOKENS = _spec("cpo_tokens", {"platform_id": int})
TERMINALS = _spec("cpo_terminals", {"platform_id": int, "assignment": str}, ("assignment",))
FACS = _spec("cpo_facs", {"platform_id": int, "auth_ref": str}, (), (("auth_ref",),))

# What each simulated charger is doing (car, faults, the session it runs with its meter, a
# start waiting for the car, a reservation), one row per EVSE, so that a restart resumes it.
CHARGERS = TableSpec(
    name="cpo_chargers",
    columns={"key": str, "state": str},
    pk="key",
    json_columns=frozenset({"state"}),
)

# A running session's charging periods grow with every update; they live one per row so that
# an update appends instead of rewriting the whole Session.
SESSION_PERIODS = TableSpec(
    name="cpo_session_periods",
    columns={"key": str, "session_key": str, "n": int, "period": str},
    pk="key",
    json_columns=frozenset({"period"}),
    indexes=(("session_key", "n"),),
)


def micros(value: datetime | str) -> int:
    when = parse_datetime(value) if isinstance(value, str) else value
    delta = when.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


class ObjectRow(TypedDict):
    """One stored OCPI object of the simulated CPO and the columns its table looks it up by
    (the tables' own columns are there in theirs only)."""

    key: str
    id: str
    seq: int
    updated_us: int
    object: dict[str, Any]
    platform_id: NotRequired[int]
    status: NotRequired[str | None]
    auth_ref: NotRequired[str | None]
    session_id: NotRequired[str | None]
    command: NotRequired[str]
    delivery: NotRequired[dict[str, Any] | None]
    context: NotRequired[dict[str, Any] | None]
    response: NotRequired[dict[str, Any] | None]
    result: NotRequired[dict[str, Any] | None]
    due_at: NotRequired[int | None]  # microseconds; set while a CommandResult is due
    assignment: NotRequired[dict[str, Any] | None]


def key_of(*parts: str) -> str:
    return "/".join(p.casefold() for p in parts)


class Objects:
    """One table of OCPI objects."""

    def __init__(self, store: Store, spec: TableSpec) -> None:
        self.store = store
        self.name = spec.name
        store.register(spec)

    def get(self, key: str) -> ObjectRow | None:
        return cast("ObjectRow | None", self.store.get(self.name, key))

    def object(self, key: str) -> dict[str, Any] | None:
        row = self.get(key)
        return None if row is None else row["object"]

    def save(
        self, key: str, obj: dict[str, Any], *, ident: str | None = None, **columns: Any
    ) -> ObjectRow:
        """Insert or replace ``obj``; the creation order of an existing key is kept."""
        existing = self.store.get(self.name, key)
        row: dict[str, Any] = {
            "key": key,
            "id": ident or str(obj.get("id", key)),
            "updated_us": micros(obj["last_updated"]) if obj.get("last_updated") else 0,
            "object": obj,
            **columns,
        }
        if existing is None:
            row["seq"] = self._next_seq()
            self.store.insert(self.name, row)
        else:
            self.store.update(self.name, key, row)
        return cast("ObjectRow", row)

    def update(self, key: str, **columns: Any) -> None:
        self.store.update(self.name, key, columns)

    def _next_seq(self) -> int:
        rows = self.store.query(f"select max(seq) as n from [{self.name}]")  # noqa: S608
        return int(rows[0]["n"] or 0) + 1 if rows else 1

    def page(
        self,
        *,
        date_from: datetime | None,
        date_to: datetime | None,
        offset: int,
        limit: int,
        platform_id: int | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """(total matching, the objects of this page) in creation order; with
        ``platform_id``, only the objects that belong to that platform."""
        where, params = _window(date_from, date_to)
        if platform_id is not None:
            where = " and ".join(filter(None, ["platform_id = ?", where]))
            params = [platform_id, *params]
        total = self.store.count(self.name, where, params)
        rows = self.store.rows(self.name, where, params, order_by="seq", limit=limit, offset=offset)
        return total, [r["object"] for r in rows]

    def rows(self, where: str | None = None, params: list[Any] | None = None) -> list[ObjectRow]:
        rows = self.store.rows(self.name, where, params or [], order_by="seq")
        return cast("list[ObjectRow]", rows)

    def recent(self, limit: int) -> list[ObjectRow]:
        """The last ``limit`` rows, oldest first."""
        rows = self.store.rows(self.name, order_by="seq desc", limit=limit)
        return cast("list[ObjectRow]", list(reversed(rows)))

    def first(self, where: str, params: list[Any]) -> ObjectRow | None:
        return cast("ObjectRow | None", self.store.first(self.name, where, params, order_by="seq"))


class SessionPeriods:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.register(SESSION_PERIODS)

    def append(self, session_id: str, first: int, periods: list[dict[str, Any]]) -> None:
        session_key = key_of(session_id)
        with self.store.atomic():
            for n, period in enumerate(periods, start=first):
                self.store.insert(
                    SESSION_PERIODS.name,
                    {
                        "key": f"{session_key}#{n:08d}",
                        "session_key": session_key,
                        "n": n,
                        "period": period,
                    },
                )

    def of(self, session_id: str) -> list[dict[str, Any]]:
        rows = self.store.rows(
            SESSION_PERIODS.name, "session_key = ?", [key_of(session_id)], order_by="n"
        )
        return [r["period"] for r in rows]

    def clear(self, session_id: str) -> None:
        self.store.delete_where(SESSION_PERIODS.name, "session_key = ?", [key_of(session_id)])


def _window(date_from: datetime | None, date_to: datetime | None) -> tuple[str | None, list[Any]]:
    # date_from inclusive, date_to exclusive (transport_and_format, pagination).
    clauses, params = [], []
    if date_from is not None:
        clauses.append("updated_us >= ?")
        params.append(micros(date_from))
    if date_to is not None:
        clauses.append("updated_us < ?")
        params.append(micros(date_to))
    return (" and ".join(clauses) or None), params


def stamp(now: datetime) -> str:
    return format_datetime(now)
