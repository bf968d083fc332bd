"""What Payter knows of a CPO: its Locations, Tariffs, Sessions and CDRs, as received.

Objects are stored as the JSON the CPO sent (unknown fields kept, amounts exact), keyed by
the platform and ``COUNTRY/PARTY/ID`` in upper case because OCPI ids are CiStrings (compared
case-insensitively). ``valid`` is cleared when a full crawl of the CPO's Sender no longer
returns the object ("the union of all pages is the new truth", transport_and_format.asciidoc
§Pagination).
"""

from __future__ import annotations

from typing import Any

from emulator.ocpi.types import format_datetime, sortable_datetime
from emulator.store import Store, TableSpec


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


LOCATIONS = _owned("ocpi_locations")
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
        # Keys from before they named the platform ("CC/PID/ID") get its prefix.
        store.execute(
            f"update {spec.name} set key = coalesce(cast(platform_id as text), '-') || '#' || key "  # noqa: S608
            f"where key not like coalesce(cast(platform_id as text), '-') || '#%'"
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

    def get(
        self,
        platform_id: int | None,
        country_code: str | None,
        party_id: str | None,
        object_id: str,
    ) -> dict[str, Any] | None:
        return self.store.get(
            self.table, object_key(platform_id, country_code, party_id, object_id)
        )

    def object(
        self,
        platform_id: int | None,
        country_code: str | None,
        party_id: str | None,
        object_id: str,
    ) -> dict[str, Any] | None:
        row = self.get(platform_id, country_code, party_id, object_id)
        return row["object"] if row else None

    def find(self, object_id: str, platform_id: int | None = None) -> dict[str, Any] | None:
        """By id alone (as a START_SESSION's location_id): first match, valid ones first."""
        where = "upper(id) = ?"
        params: list[Any] = [object_id.upper()]
        if platform_id is not None:
            where += " and platform_id = ?"
            params.append(platform_id)
        return self.store.first(self.table, where, params, order_by="valid desc")

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
        created = self.store.get(self.table, key) is None
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
    ) -> list[dict[str, Any]]:
        clauses, params = [], []
        if platform_id is not None:
            clauses.append("platform_id = ?")
            params.append(platform_id)
        if valid_only:
            clauses.append("valid = 1")
        return self.store.rows(self.table, " and ".join(clauses) or None, params, order_by="key")

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

    def delete(self, key: str) -> None:
        self.store.delete(self.table, key)

    def mark_invalid(self, key: str) -> None:
        self.store.update(self.table, key, {"valid": 0})


def _normalise(value: Any) -> str | None:
    """last_updated as text that sorts in time order."""
    return sortable_datetime(value)
