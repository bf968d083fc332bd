"""The traffic journal: every exchange in and out (OCPI, CPS, webhooks), redacted on write.

Bounded by ``journal_retention`` rows; pruning is amortised (every 1% of the limit) so a
request costs O(1).
"""

from __future__ import annotations

from typing import Any

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
    },
    json_columns=frozenset({"request_headers", "response_headers"}),
    indexes=(("platform_id",), ("protocol",)),
)


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
    ) -> int:
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
        since_id: int = 0,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
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
        return self.store.get("journal", exchange_id)
