"""The traffic journal: every exchange in and out (OCPI, CPS, webhooks), redacted on write.

Bounded by ``journal_retention`` rows; pruning is amortised (every 1% of the limit) so a
request costs O(1).
"""

from __future__ import annotations

import builtins
import fnmatch
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

from emulator import inbound, jsonio
from emulator.datetimes import format_datetime
from emulator.events import EventBus
from emulator.inbound import clean
from emulator.redact import redact_body, redact_headers, redact_text
from emulator.store import Store, TableSpec

JOURNAL = TableSpec(
    name="journal",
    columns={
        "id": int,
        "at": str,
        "direction": str,  # "in" (peer called us) or "out" (we called the peer)
        "protocol": str,  # ocpi | cps | webhook | admin
        "platform_id": int,
        "module": str,
        "method": str,
        "url": str,
        "request_headers": str,
        "request_body": str,
        "status": int,
        "ocpi_status": int,
        "response_headers": str,
        "response_body": str,
        "duration_ms": float,
        "error": str,
        # The injected fault (emulator/faults.py) that changed this exchange, if any.
        "fault": str,
    },
    json_columns=frozenset({"request_headers", "response_headers"}),
    indexes=(("platform_id",), ("protocol",)),
)

# Set by the fault middleware while a request it faulted is handled: the inbound exchange
# recorded meanwhile names the fault.
INBOUND_FAULT: ContextVar[str | None] = ContextVar("inbound_fault", default=None)

# Filters of :meth:`Journal.list` and ``GET /__admin/journal`` besides ``since``/``limit``.
FILTERS = (
    "platform_id",
    "protocol",
    "direction",
    "module",
    "method",
    "path",
    "status",
    "ocpi_status",
    "contains",
    "fault",
)


def url_path(url: str) -> str:
    """The path of a journal URL (inbound rows hold path + query, outbound the full URL)."""
    return urlsplit(url).path


def mismatches(row: dict[str, Any], filters: dict[str, Any]) -> dict[str, Any]:
    """Which of ``filters`` the exchange ``row`` fails, with the value it has instead."""
    out: dict[str, Any] = {}
    for name, wanted in filters.items():
        if wanted is None:
            continue
        if name == "path":
            have: Any = url_path(row.get("url") or "")
            ok = fnmatch.fnmatchcase(have, wanted)
        elif name == "method":
            have = row.get("method")
            ok = (have or "").upper() == str(wanted).upper()
        elif name == "module":
            have = row.get("module")
            ok = (have or "").lower() == str(wanted).lower()
        elif name == "contains":
            have = None
            ok = str(wanted) in (row.get("request_body") or "")
        elif name == "fault":
            have = row.get("fault")
            ok = bool(have) == bool(wanted)
        else:
            have = row.get(name)
            ok = have == wanted
        if not ok:
            out[name] = have
    return out


class Journal:
    def __init__(self, store: Store, bus: EventBus, now: Any, *, retention: int, body_bytes: int):
        self.store = store
        self.bus = bus
        self.now = now
        self.retention = retention
        self.body_bytes = body_bytes
        self._since_prune = 0
        store.register(JOURNAL)

    def _body(self, body: Any) -> str | None:
        if body is None or body == b"" or body == "":
            return None
        if isinstance(body, (bytes, str)):
            try:
                text = jsonio.dumps(redact_body(inbound.loads(body)))
            except ValueError:
                # Not JSON, or refused JSON (bad text, too deep): kept as text, secrets cut.
                raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
                text = redact_text(raw)
        else:
            text = jsonio.dumps(redact_body(jsonio.plain(body)))
        if len(text) > self.body_bytes:
            text = text[: self.body_bytes] + f"… [truncated, {len(text)} characters]"
        # What was refused for not being valid text is still recorded, escaped.
        return clean(text)

    @staticmethod
    def _headers(headers: Any) -> dict[str, str]:
        return {clean(k): clean(v) for k, v in redact_headers(headers or {}).items()}

    def record(
        self,
        *,
        direction: str,
        protocol: str,
        method: str,
        url: str,
        request_headers: Any = None,
        request_body: Any = None,
        status: int | None = None,
        ocpi_status: int | None = None,
        response_headers: Any = None,
        response_body: Any = None,
        duration_ms: float | None = None,
        platform_id: int | None = None,
        module: str | None = None,
        error: str | None = None,
        fault: str | None = None,
    ) -> int:
        if fault is None and direction == "in":
            fault = INBOUND_FAULT.get()
        url = clean(url)
        error = clean(error) if error is not None else None
        row = {
            "at": format_datetime(self.now()),
            "direction": direction,
            "protocol": protocol,
            "platform_id": platform_id,
            "module": module,
            "method": method,
            "url": url,
            "request_headers": self._headers(request_headers),
            "request_body": self._body(request_body),
            "status": status,
            "ocpi_status": ocpi_status,
            "response_headers": self._headers(response_headers),
            "response_body": self._body(response_body),
            "duration_ms": round(duration_ms, 3) if duration_ms is not None else None,
            "error": error,
            "fault": fault,
        }
        exchange_id = self.store.insert("journal", row)
        assert exchange_id is not None
        self.bus.publish(
            "traffic",
            id=exchange_id,
            direction=direction,
            protocol=protocol,
            method=method,
            url=url,
            status=status,
            ocpi_status=ocpi_status,
            platform_id=platform_id,
            module=module,
            error=error,
            fault=fault,
        )
        self._since_prune += 1
        if self._since_prune >= max(1, self.retention // 100):
            self._since_prune = 0
            self.store.execute("delete from journal where id <= ?", [exchange_id - self.retention])
        return exchange_id

    def last_id(self) -> int:
        """Id of the latest exchange (0 when the journal is empty)."""
        rows = self.store.query("select max(id) as last from journal")
        return int(rows[0]["last"] or 0) if rows else 0

    def list(
        self,
        *,
        platform_id: int | None = None,
        protocol: str | None = None,
        direction: str | None = None,
        module: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        ocpi_status: int | None = None,
        contains: str | None = None,
        fault: bool | None = None,
        since_id: int = 0,
        limit: int = 200,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        clauses: list[str] = ["id > ?"]
        params: list[Any] = [since_id]
        for column, value in (
            ("platform_id", platform_id),
            ("protocol", protocol),
            ("direction", direction),
            ("status", status),
            ("ocpi_status", ocpi_status),
        ):
            if value is not None and value != "":
                clauses.append(f"{column} = ?")
                params.append(value)
        if module:
            clauses.append("lower(module) = ?")
            params.append(module.lower())
        if method:
            clauses.append("upper(method) = ?")
            params.append(method.upper())
        if contains:
            clauses.append("instr(request_body, ?) > 0")
            params.append(contains)
        if fault is not None:
            clauses.append("fault is not null" if fault else "fault is null")
        where = " and ".join(clauses)
        order = "id desc" if newest_first else "id"
        if not path:
            return self.store.rows("journal", where, params, order_by=order, limit=limit)
        # The path is a glob over the URL's path: filtered here, the rest in SQL.
        out = []
        for row in self.store.rows("journal", where, params, order_by=order):
            if fnmatch.fnmatchcase(url_path(row.get("url") or ""), path):
                out.append(row)
                if len(out) >= limit:
                    break
        return out

    def nearest_misses(
        self, filters: dict[str, Any], *, since_id: int = 0, limit: int = 5, window: int = 500
    ) -> builtins.list[dict[str, Any]]:
        """The exchanges after ``since_id`` (the latest ``window``) that come closest to
        ``filters``: most filters met first, then the newest; each with what it missed."""
        given = {k: v for k, v in filters.items() if v is not None and v != ""}
        if not given:
            return []
        rows = self.store.rows("journal", "id > ?", [since_id], order_by="id desc", limit=window)
        scored = []
        for row in rows:
            missed = mismatches(row, given)
            if len(missed) < len(given):
                scored.append((len(missed), -int(row["id"]), row, missed))
        scored.sort(key=lambda item: (item[0], item[1]))
        return [
            {
                "id": row["id"],
                "at": row["at"],
                "direction": row["direction"],
                "protocol": row["protocol"],
                "module": row["module"],
                "method": row["method"],
                "url": row["url"],
                "status": row["status"],
                "ocpi_status": row["ocpi_status"],
                "mismatched": missed,
            }
            for _, _, row, missed in scored[:limit]
        ]

    def get(self, exchange_id: int) -> dict[str, Any] | None:
        return self.store.get("journal", exchange_id)
