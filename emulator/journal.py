"""The traffic journal: every exchange in and out (OCPI, CPS, webhooks), redacted on write.

Bounded by ``journal_retention`` rows; pruning is amortised (every 1% of the limit) so a
request costs O(1). Writes are buffered and flushed in batches (:class:`Journal`).
"""

from __future__ import annotations

import asyncio
import builtins
import fnmatch
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

from emulator import inbound, jsonio, logs
from emulator.datetimes import format_datetime
from emulator.events import EventBus
from emulator.inbound import clean
from emulator.redact import redact_body, redact_headers, redact_json_text, redact_text
from emulator.store import Store, TableSpec

log = logs.get_logger("emulator.journal")

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
    """Exchanges are numbered and published at once, and written in batches off the request
    path: a flush runs ``FLUSH_DELAY`` seconds after the first unwritten exchange (on the
    event loop), when ``FLUSH_ROWS`` are waiting, before any read, and on a clean stop. A
    process that is killed loses at most the exchanges of the last ``FLUSH_DELAY`` (see the
    README, "Traffic journal")."""

    FLUSH_DELAY = 0.05
    FLUSH_ROWS = 500

    def __init__(self, store: Store, bus: EventBus, now: Any, *, retention: int, body_bytes: int):
        self.store = store
        self.bus = bus
        self.now = now
        self.retention = retention
        self.body_bytes = body_bytes
        self._since_prune = 0
        store.register(JOURNAL)
        store.reset_listeners.append(self._on_reset)
        self._next_id: int | None = None
        # Unwritten exchanges by id, in order: what record() was given, redacted on write.
        self._pending: dict[int, dict[str, Any]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def _body(self, body: Any) -> str | None:
        if body is None or body == b"" or body == "":
            return None
        if isinstance(body, (bytes, str)):
            # The text as it was sent or received, with the values of secret-named members
            # cut short; only text whose members the text alone cannot tell (non-ASCII,
            # escapes) is parsed for them.
            found = redact_json_text(body)
            if found is not None:
                text = found
            else:
                text = self._redacted(body)
        else:
            text = jsonio.dumps(redact_body(jsonio.plain(body)))
        if len(text) > self.body_bytes:
            text = text[: self.body_bytes] + f"… [truncated, {len(text)} characters]"
        # What was refused for not being valid text is still recorded, escaped.
        return clean(text)

    @staticmethod
    def _redacted(body: bytes | str) -> str:
        raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        try:
            value = inbound.loads(body)
        except ValueError:
            # Not JSON, or refused JSON (bad text, too deep): kept as text, secrets cut.
            return redact_text(raw)
        redacted = redact_body(value)
        # Nothing cut: the text as it came; else the value written again without them.
        return raw if redacted == value else jsonio.dumps(redacted)

    @staticmethod
    def _headers(pairs: list[tuple[str, Any]]) -> dict[str, str]:
        out = redact_headers(pairs)
        if all(k.isascii() and v.isascii() for k, v in out.items()):
            return out
        return {clean(k): clean(v) for k, v in out.items()}

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
        if self._next_id is None:
            rows = self.store.query("select max(id) as last from journal")
            self._next_id = int(rows[0]["last"] or 0) + 1 if rows else 1
        exchange_id = self._next_id
        self._next_id += 1
        self._pending[exchange_id] = {
            "id": exchange_id,
            "at": format_datetime(self.now()),
            "direction": direction,
            "protocol": protocol,
            "platform_id": platform_id,
            "module": module,
            "method": method,
            "url": url,
            # Headers are copied now (a response's change as it is sent); bodies are bytes,
            # text or values the caller no longer changes.
            "request_headers": list((request_headers or {}).items()),
            "request_body": self._keep(request_body),
            "status": status,
            "ocpi_status": ocpi_status,
            "response_headers": list((response_headers or {}).items()),
            "response_body": self._keep(response_body),
            "duration_ms": round(duration_ms, 3) if duration_ms is not None else None,
            "error": error,
            "fault": fault,
        }
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
        self._schedule_flush()
        return exchange_id

    def _keep(self, body: Any) -> Any:
        """Bytes and text are kept as they are until the flush; any other value (a dict the
        caller may change later) is rendered now."""
        if body is None or isinstance(body, (bytes, str)):
            return body
        return _Rendered(self._body(body))

    # --- writing ---------------------------------------------------------------------------

    def _schedule_flush(self) -> None:
        if len(self._pending) >= self.FLUSH_ROWS:
            self.flush()
            return
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()  # no event loop (a script, a synchronous test): write at once
            return
        self._timer = loop.call_later(self.FLUSH_DELAY, self._flush_later)

    def _flush_later(self) -> None:
        self._timer = None
        try:
            self.flush()
        except Exception:  # pragma: no cover - a closed or broken database file
            log.exception("journal flush failed")

    def flush(self) -> None:
        """Write the waiting exchanges (redacted) in one transaction, then prune."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        rows = [self._row(entry) for entry in pending.values()]
        with self.store.atomic():
            self.store.insert_many("journal", rows)
            self._since_prune += len(rows)
            if self._since_prune >= max(1, self.retention // 100):
                self._since_prune = 0
                last = rows[-1]["id"]
                self.store.execute("delete from journal where id <= ?", [last - self.retention])

    def _row(self, entry: dict[str, Any]) -> dict[str, Any]:
        row = dict(entry)
        row["request_headers"] = self._headers(entry["request_headers"])
        row["response_headers"] = self._headers(entry["response_headers"])
        for key in ("request_body", "response_body"):
            body = entry[key]
            row[key] = body.text if isinstance(body, _Rendered) else self._body(body)
        return row

    def close(self) -> None:
        """A clean stop: nothing recorded is lost."""
        self.flush()

    def _on_reset(self) -> None:
        # The tables are about to be emptied: what waits goes with them, and the numbering
        # starts again from the (empty) table, as it always did.
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending.clear()
        self._next_id = None
        self._since_prune = 0

    # --- reading ---------------------------------------------------------------------------

    def last_id(self) -> int:
        """Id of the latest exchange (0 when the journal is empty)."""
        self.flush()
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
        self.flush()
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
        self.flush()
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
        self.flush()
        return self.store.get("journal", exchange_id)


class _Rendered:
    """A body already rendered (redacted, truncated) when it was recorded."""

    __slots__ = ("text",)

    def __init__(self, text: str | None) -> None:
        self.text = text
