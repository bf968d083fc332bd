"""The traffic journal: every exchange in and out (OCPI, CPS, webhooks), redacted on write.

Bounded by ``journal_retention`` rows; pruning is amortised (every 1% of the limit) so a
request costs O(1). Writes are buffered and flushed in batches (:class:`Journal`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from emulator import inbound, jsonio
from emulator.datetimes import format_datetime
from emulator.events import EventBus
from emulator.inbound import clean
from emulator.redact import redact_body, redact_headers, redact_text
from emulator.store import Store, TableSpec

log = structlog.get_logger("emulator.journal")

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
    },
    json_columns=frozenset({"request_headers", "response_headers"}),
    indexes=(("platform_id",), ("protocol",)),
)


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
    ) -> int:
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
        row["request_headers"] = self._headers(_Pairs(entry["request_headers"]))
        row["response_headers"] = self._headers(_Pairs(entry["response_headers"]))
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
        since_id: int = 0,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        self.flush()
        clauses: list[str] = ["id > ?"]
        params: list[Any] = [since_id]
        if platform_id is not None:
            clauses.append("platform_id = ?")
            params.append(platform_id)
        if protocol:
            clauses.append("protocol = ?")
            params.append(protocol)
        if direction:
            clauses.append("direction = ?")
            params.append(direction)
        return self.store.rows("journal", " and ".join(clauses), params, order_by="id", limit=limit)

    def get(self, exchange_id: int) -> dict[str, Any] | None:
        self.flush()
        return self.store.get("journal", exchange_id)


class _Rendered:
    """A body already rendered (redacted, truncated) when it was recorded."""

    __slots__ = ("text",)

    def __init__(self, text: str | None) -> None:
        self.text = text


class _Pairs:
    """Header pairs as copied by :meth:`Journal.record`, with the ``items()`` that
    :func:`~emulator.redact.redact_headers` reads."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs

    def items(self) -> list[tuple[str, Any]]:
        return self.pairs
