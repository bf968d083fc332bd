"""What Payter knows of a CPO: its Locations, Tariffs, Sessions and CDRs, as received.

Objects are stored as the JSON the CPO sent (unknown fields kept, amounts exact), keyed by
the platform and ``COUNTRY/PARTY/ID`` in upper case because OCPI ids are CiStrings (compared
case-insensitively). ``valid`` is cleared when a full crawl of the CPO's Sender no longer
returns the object ("the union of all pages is the new truth", transport_and_format.asciidoc
§Pagination).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict, cast

from emulator import jsonio
from emulator.ocpi.types import format_datetime, sortable_datetime
from emulator.store import Store, TableSpec


class StoredObject(TypedDict):
    """An object a CPO sent (Location, Tariff, Session or CDR) as Payter stores it: ``object``
    is the JSON as received; Sessions and CDRs also carry the columns they are found by."""

    key: str
    platform_id: int | None
    version: str | None
    country_code: str | None
    party_id: str | None
    id: str
    last_updated: str | None
    valid: int
    source: str  # push | poll
    received_at: str
    notified: int | None
    object: dict[str, Any]


def object_key(
    platform_id: int | None, country_code: str | None, party_id: str | None, object_id: str
) -> str:
    """``PLATFORM#COUNTRY/PARTY/ID``: per platform, because two registered platforms may be the
    same party (a CPO's staging and test backends, both NL/CPO): each keeps its own mirror,
    Sessions and CDRs, and neither overwrites the other's."""
    owner = "-" if platform_id is None else str(platform_id)
    return f"{owner}#{country_code or ''}/{party_id or ''}/{object_id}".upper()


def _owned(name: str, *extra: tuple[str, type]) -> TableSpec:
    columns: dict[str, type] = {
        "key": str,
        "platform_id": int,
        "version": str,
        "country_code": str,
        "party_id": str,
        "id": str,
        "last_updated": str,
        "valid": int,
        "source": str,  # push | poll
        "received_at": str,
        # Sessions and CDRs: 0 from when one is stored until the listeners have heard of it
        # (a restart passes on those still at 0: emulator/ptp/recovery.py).
        "notified": int,
        "object": str,
    }
    columns.update(dict(extra))
    return TableSpec(
        name=name,
        columns=columns,
        pk="key",
        json_columns=frozenset({"object"}),
        indexes=(("platform_id",), ("last_updated",)),
    )


# A Location's EVSEs (with their Connectors) are rows of their own (EVSES), so that a status
# PATCH writes one EVSE and the parent's last_updated, not the whole Location; the Location's
# own row keeps ``"evses": []`` where the list stands. ``evses_split``: rows of that shape
# (rows of an older database are split once, on start).
LOCATIONS = _owned("ocpi_locations", ("evses_split", int))
EVSES = TableSpec(
    name="ocpi_evses",
    columns={
        "key": str,  # LOCATION_KEY#position
        "location_key": str,
        "position": int,
        "uid": str,
        "uid_upper": str,
        "status": str,
        "object": str,
    },
    pk="key",
    json_columns=frozenset({"object"}),
    indexes=(("location_key", "uid_upper"), ("uid_upper",)),
)
TARIFFS = _owned("ocpi_tariffs")
# Sessions and CDRs are found by the START_SESSION they belong to: authorization_reference,
# else the uid of the token we issued for it.
SESSIONS = _owned(
    "ocpi_sessions", ("status", str), ("authorization_reference", str), ("token_uid", str)
)
CDRS = _owned(
    "ocpi_cdrs", ("authorization_reference", str), ("session_id", str), ("token_uid", str)
)


class OwnedObjects:
    """Client-owned objects of one kind (locations, tariffs, sessions or CDRs)."""

    def __init__(self, store: Store, spec: TableSpec) -> None:
        self.store = store
        self.table = spec.name
        store.register(spec)
        self._rekey()
        # Objects are found by id alone, case-insensitively (a START_SESSION's location_id,
        # a connector's tariff_ids): indexed, so a look-up does not read every row.
        store.execute(
            f"create index if not exists idx_{spec.name}_upper_id on {spec.name}(upper(id))"
        )
        if "authorization_reference" in spec.columns:
            # The START_SESSION's Sessions and CDRs are looked up by these (CiStrings).
            store.execute(
                f"create index if not exists idx_{spec.name}_upper_ref "
                f"on {spec.name}(upper(authorization_reference))"
            )
            store.execute(
                f"create index if not exists idx_{spec.name}_token_uid on {spec.name}(token_uid)"
            )

    def _rekey(self) -> None:
        """Keys from before they named the platform (``CC/PID/ID``) get its prefix."""
        rows = self.store.query(
            f"select key, platform_id from [{self.table}] "  # noqa: S608
            "where key not like coalesce(cast(platform_id as text), '-') || '#%'"
        )
        for row in rows:
            owner = "-" if row["platform_id"] is None else str(row["platform_id"])
            self._move(row["key"], f"{owner}#{row['key']}")

    def _move(self, old: str, new: str) -> None:
        self.store.execute(f"update [{self.table}] set key = ? where key = ?", [new, old])  # noqa: S608

    def get(
        self,
        platform_id: int | None,
        country_code: str | None,
        party_id: str | None,
        object_id: str,
    ) -> StoredObject | None:
        key = object_key(platform_id, country_code, party_id, object_id)
        return cast("StoredObject | None", self.store.get(self.table, key))

    def object(
        self,
        platform_id: int | None,
        country_code: str | None,
        party_id: str | None,
        object_id: str,
    ) -> dict[str, Any] | None:
        row = self.get(platform_id, country_code, party_id, object_id)
        return row["object"] if row else None

    def find(self, object_id: str, platform_id: int | None = None) -> StoredObject | None:
        """By id alone (as a START_SESSION's location_id): first match, valid ones first."""
        where = "upper(id) = ?"
        params: list[Any] = [object_id.upper()]
        if platform_id is not None:
            where += " and platform_id = ?"
            params.append(platform_id)
        found = self.store.first(self.table, where, params, order_by="valid desc")
        return cast("StoredObject | None", found)

    def save(
        self,
        obj: dict[str, Any],
        *,
        platform_id: int | None,
        version: str | None,
        source: str,
        now: Any,
        country_code: str | None = None,
        party_id: str | None = None,
        **extra: Any,
    ) -> bool:
        """Create or replace; returns True when the object is new."""
        cc = obj.get("country_code", country_code)
        pid = obj.get("party_id", party_id)
        key = object_key(platform_id, cc, pid, str(obj["id"]))
        created = not self.exists(key)
        last = obj.get("last_updated")
        row = {
            "key": key,
            "platform_id": platform_id,
            "version": version,
            "country_code": cc,
            "party_id": pid,
            "id": str(obj["id"]),
            "last_updated": _normalise(last),
            "valid": 1,
            "source": source,
            "received_at": format_datetime(now),
            "object": obj,
            **extra,
        }
        self.store.upsert(self.table, row)
        return created

    def rows(
        self, platform_id: int | None = None, *, valid_only: bool = False
    ) -> list[StoredObject]:
        clauses, params = [], []
        if platform_id is not None:
            clauses.append("platform_id = ?")
            params.append(platform_id)
        if valid_only:
            clauses.append("valid = 1")
        rows = self.store.rows(self.table, " and ".join(clauses) or None, params, order_by="key")
        return cast("list[StoredObject]", rows)

    def invalidate_missing(self, platform_id: int, keep: set[str]) -> list[str]:
        """After a full crawl: objects of this platform not in ``keep`` are no longer valid."""
        gone = [
            r["key"]
            for r in self.store.rows(self.table, "platform_id = ? and valid = 1", [platform_id])
            if r["key"] not in keep
        ]
        for key in gone:
            self.store.update(self.table, key, {"valid": 0})
        return gone

    def exists(self, key: str) -> bool:
        return bool(self.store.count(self.table, "key = ?", [key]))

    def any(self, platform_id: int | None = None) -> bool:
        """Whether any object (of this platform) is known, valid or not."""
        where, params = ("platform_id = ?", [platform_id]) if platform_id is not None else ("1", [])
        return bool(self.store.query(f"select 1 from [{self.table}] where {where} limit 1", params))  # noqa: S608

    def delete(self, key: str) -> None:
        self.store.delete(self.table, key)

    def mark_invalid(self, key: str) -> None:
        self.store.update(self.table, key, {"valid": 0})


class Locations(OwnedObjects):
    """Mirrored Locations, each stored as its own row plus one row per EVSE (:data:`EVSES`).
    Every read gives the whole Location, as it was received; :meth:`evse`,
    :meth:`save_evse` and :meth:`save_head` read and write one EVSE and the Location's own
    fields; :meth:`assigned` finds what a terminal is assigned to through the indexes."""

    def __init__(self, store: Store) -> None:
        store.register(EVSES)  # before the base class re-keys Locations (_move)
        super().__init__(store, LOCATIONS)
        for row in store.rows(self.table, "evses_split is null"):
            with store.atomic():
                self._write(row["key"], row["object"])

    def _move(self, old: str, new: str) -> None:
        super()._move(old, new)
        self.store.execute(
            f"update [{EVSES.name}] set location_key = ?, key = ? || '#' || position "  # noqa: S608
            "where location_key = ?",
            [new, new, old],
        )

    # --- writing ---------------------------------------------------------------------------

    def _write(self, key: str, obj: dict[str, Any]) -> None:
        """Split a row of an older database: its EVSEs to rows of their own."""
        self._write_evses(key, obj.get("evses"))
        self.store.update(self.table, key, {"object": _head(obj), "evses_split": 1})

    def _write_evses(self, key: str, evses: Any) -> None:
        """The EVSE rows of the Location ``key`` become ``evses``."""
        self.store.delete_where(EVSES.name, "location_key = ?", [key])
        if isinstance(evses, list) and evses:
            self.store.insert_many(
                EVSES.name, [self._evse_row(key, i, e) for i, e in enumerate(evses)]
            )

    @staticmethod
    def _evse_row(location_key: str, position: int, evse: Any) -> dict[str, Any]:
        uid = evse.get("uid") if isinstance(evse, dict) else None
        return {
            "key": f"{location_key}#{position}",
            "location_key": location_key,
            "position": position,
            "uid": None if uid is None else str(uid),
            "uid_upper": None if uid is None else str(uid).upper(),
            "status": evse.get("status") if isinstance(evse, dict) else None,
            "object": evse,
        }

    def save(
        self,
        obj: dict[str, Any],
        *,
        platform_id: int | None,
        version: str | None,
        source: str,
        now: Any,
        country_code: str | None = None,
        party_id: str | None = None,
        **extra: Any,
    ) -> bool:
        cc = obj.get("country_code", country_code)
        pid = obj.get("party_id", party_id)
        key = object_key(platform_id, cc, pid, str(obj["id"]))
        with self.store.atomic():
            created = super().save(
                _head(obj),
                platform_id=platform_id,
                version=version,
                source=source,
                now=now,
                country_code=country_code,
                party_id=party_id,
                evses_split=1,
                **extra,
            )
            self._write_evses(key, obj.get("evses"))
        return created

    def head(self, key: str) -> dict[str, Any] | None:
        """The Location's own row: its object without the EVSEs (``"evses": []``)."""
        return self.store.get(self.table, key)

    def save_head(
        self,
        key: str,
        head: dict[str, Any],
        *,
        platform_id: int | None,
        version: str | None,
        source: str,
        now: Any,
    ) -> None:
        """The Location's own fields changed (its last_updated, after a change to an EVSE or
        Connector); the EVSEs stay as they are."""
        self.store.update(
            self.table,
            key,
            {
                "object": head,
                "platform_id": platform_id,
                "version": version,
                "last_updated": _normalise(head.get("last_updated")),
                "valid": 1,
                "source": source,
                "received_at": format_datetime(now),
            },
        )

    def touch(
        self,
        key: str,
        stamp: str,
        *,
        platform_id: int | None,
        version: str | None,
        source: str,
        now: Any,
    ) -> tuple[bool, Any]:
        """One of the Location's EVSEs or Connectors changed at ``stamp``: its last_updated
        becomes ``stamp`` if that is later (as :meth:`save_head` with the later of the two),
        in one statement that neither reads nor rewrites the rest of its fields. Returns
        whether the Location exists, and its id."""
        sortable = _normalise(stamp)
        rows = self.store.query(
            f"update [{self.table}] set "  # noqa: S608 - our table name
            "object = case when ? > coalesce(last_updated, '') "
            "then json_set(object, '$.last_updated', ?) else object end, "
            "last_updated = max(coalesce(last_updated, ''), ?), "
            "platform_id = ?, version = ?, valid = 1, source = ?, received_at = ? "
            "where key = ? returning id",
            [sortable, stamp, sortable, platform_id, version, source, format_datetime(now), key],
        )
        return (True, rows[0]["id"]) if rows else (False, None)

    def evse(self, location_key: str, uid: str) -> dict[str, Any] | None:
        """The first EVSE of the Location with this uid (CiString)."""
        row = self.store.first(
            EVSES.name,
            "location_key = ? and uid_upper = ?",
            [location_key, uid.upper()],
            order_by="position",
        )
        return row["object"] if row else None

    def evse_slot(self, location_key: str, uid: str) -> EvseSlot:
        """The first EVSE of the Location with this uid (CiString), its position, and the
        uid and status of every EVSE of the Location, in one read (an EVSE PATCH)."""
        wanted = uid.upper()
        rows = self.store.tuples(
            "select position, uid, status, "  # noqa: S608
            "case when uid_upper = ? then object end "
            f"from [{EVSES.name}] where location_key = ? order by position",
            [wanted, location_key],
        )
        slot = EvseSlot(statuses=[(r[1], r[2]) for r in rows])
        for index, (position, _, _, evse) in enumerate(rows):
            if evse is not None:
                slot.evse = jsonio.loads(evse)
                slot.position = int(position)
                slot.index = index
                break
        return slot

    def save_evse(
        self, location_key: str, evse: dict[str, Any], position: int | None = None
    ) -> None:
        """Replace the EVSE with this uid (at ``position`` when the caller read it), or add
        it at the end."""
        uid = str(evse.get("uid")).upper()
        found = (
            [{"position": position}]
            if position is not None
            else self.store.query(
                f"select position from [{EVSES.name}] where location_key = ? and uid_upper = ? "  # noqa: S608
                "order by position limit 1",
                [location_key, uid],
            )
        )
        if found:
            position = int(found[0]["position"])
        else:
            last = self.store.query(
                f"select max(position) as last from [{EVSES.name}] where location_key = ?",  # noqa: S608
                [location_key],
            )
            position = int(last[0]["last"]) + 1 if last and last[0]["last"] is not None else 0
        self.store.upsert(EVSES.name, self._evse_row(location_key, position, evse))

    def statuses(self, location_key: str) -> dict[str, Any]:
        """uid → status of the Location's EVSEs, in order."""
        rows = self.store.query(
            f"select uid, status from [{EVSES.name}] where location_key = ? order by position",  # noqa: S608
            [location_key],
        )
        return {r["uid"]: r["status"] for r in rows}

    def has_evse(self, platform_id: int, uid: str) -> bool:
        """Whether a valid Location of the platform has an EVSE with this uid."""
        return bool(
            self.store.query(
                f"select 1 from [{EVSES.name}] e join [{self.table}] l on l.key = e.location_key "  # noqa: S608
                "where e.uid_upper = ? and l.platform_id = ? and l.valid = 1 limit 1",
                [uid.upper(), platform_id],
            )
        )

    def assigned(
        self, platform_id: int | None, location_ids: set[str], evse_uids: set[str]
    ) -> list[StoredObject]:
        """The valid Locations (whole, ordered by key) that are among ``location_ids`` or
        hold one of ``evse_uids`` (both upper case): what a terminal is assigned to, found
        through the indexes whatever the number of mirrored Locations."""
        if not location_ids and not evse_uids:
            return []
        clauses = ["valid = 1"]
        params: list[Any] = []
        if platform_id is not None:
            clauses.append("platform_id = ?")
            params.append(platform_id)
        either = []
        if location_ids:
            either.append(f"upper(id) in ({', '.join('?' for _ in location_ids)})")
            params.extend(sorted(location_ids))
        if evse_uids:
            either.append(
                f"key in (select location_key from [{EVSES.name}] "  # noqa: S608
                f"where uid_upper in ({', '.join('?' for _ in evse_uids)}))"
            )
            params.extend(sorted(evse_uids))
        clauses.append("(" + " or ".join(either) + ")")
        return self.rows_where(" and ".join(clauses), params)

    # --- reading whole Locations -----------------------------------------------------------

    def rows_where(self, where: str, params: list[Any]) -> list[StoredObject]:
        rows = self.store.rows(self.table, where, params, order_by="key")
        return self._assemble(cast("list[StoredObject]", rows))

    def _assemble(self, rows: list[StoredObject]) -> list[StoredObject]:
        """Put each Location's EVSEs back in its ``evses`` (one query for all of them)."""
        wanted = [r for r in rows if isinstance(r["object"], dict) and "evses" in r["object"]]
        if not wanted:
            return rows
        found: dict[str, list[Any]] = {r["key"]: [] for r in wanted}
        keys = list(found)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            for evse in self.store.rows(
                EVSES.name,
                f"location_key in ({', '.join('?' for _ in chunk)})",
                chunk,
                order_by="location_key, position",
            ):
                found[evse["location_key"]].append(evse["object"])
        for r in wanted:
            r["object"]["evses"] = found[r["key"]]
        return rows

    def get(
        self,
        platform_id: int | None,
        country_code: str | None,
        party_id: str | None,
        object_id: str,
    ) -> StoredObject | None:
        row = super().get(platform_id, country_code, party_id, object_id)
        return self._assemble([row])[0] if row else None

    def find(self, object_id: str, platform_id: int | None = None) -> StoredObject | None:
        row = super().find(object_id, platform_id)
        return self._assemble([row])[0] if row else None

    def find_head(self, object_id: str, platform_id: int | None = None) -> StoredObject | None:
        """:meth:`find` without reading the EVSEs: the row and the Location's own fields (its
        ``evses`` is the stored placeholder, ``[]``), for a caller that needs no more."""
        return super().find(object_id, platform_id)

    def rows(
        self, platform_id: int | None = None, *, valid_only: bool = False
    ) -> list[StoredObject]:
        return self._assemble(super().rows(platform_id, valid_only=valid_only))

    def delete(self, key: str) -> None:
        with self.store.atomic():
            self.store.delete_where(EVSES.name, "location_key = ?", [key])
            super().delete(key)


@dataclass
class EvseSlot:
    """What :meth:`Locations.evse_slot` read: the EVSE (None if the Location has none with
    that uid), its position, and (uid, status) of every EVSE of the Location in order."""

    statuses: list[tuple[Any, Any]]
    evse: dict[str, Any] | None = None
    position: int | None = None
    index: int | None = None

    def statuses_after(self, evse: dict[str, Any]) -> dict[Any, Any]:
        """uid → status once ``evse`` is written in its place (as :meth:`Locations.statuses`
        would read them then)."""
        pairs = list(self.statuses)
        if self.index is not None:
            uid = evse.get("uid")
            pairs[self.index] = (None if uid is None else str(uid), evse.get("status"))
        return dict(pairs)


def _head(location: dict[str, Any]) -> dict[str, Any]:
    """The Location without its EVSEs; ``"evses": []`` keeps the list's place."""
    return {k: ([] if k == "evses" else v) for k, v in location.items()}


def _normalise(value: Any) -> str | None:
    """last_updated as text that sorts in time order."""
    return sortable_datetime(value)
