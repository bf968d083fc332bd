"""Journey records: one per card payment, persisted so a restart resumes it.

The money state of a journey moves only forwards, and only once out of ``AUTHORIZED``:

    NONE → AUTHORIZED → CAPTURED | VOIDED          (or *_QUEUED while the terminal is offline)

:meth:`JourneyRecords.claim_money` is the single gate: it flips the money state in one SQL
statement guarded by the expected current state, so a second capture or void of the same
pre-authorization can never happen — even if two events race or the emulator restarts between
the decision and the terminal's answer.
"""

from __future__ import annotations

from typing import Any

from emulator.datetimes import format_datetime
from emulator.store import Store, TableSpec

JOURNEYS = TableSpec(
    name="journeys",
    columns={
        "id": str,
        "serial_number": str,
        "terminal_id": str,
        "platform_id": int,
        "version": str,
        "location_id": str,
        "evse_uid": str,
        "connector_id": str,
        "connector_label": str,
        "tariff_id": str,
        "tariff": str,
        "currency": str,
        "language": str,
        "preauth_amount": int,  # minor units
        "card": str,
        "payment_session_id": str,  # the terminal's payment session (the authorization)
        "authorization_reference": str,
        "token": str,
        "start_command_id": str,
        "stop_command_id": str,
        "stop_reason": str,
        "session_id": str,
        "session_status": str,
        "session_cost": int,  # minor units incl. taxes, last known
        "kwh": float,
        "cdr_id": str,
        "cdr_total": int,
        "invoice_reference_id": str,
        "state": str,
        "money": str,  # NONE | AUTHORIZED | CAPTURE_QUEUED | VOID_QUEUED | CAPTURED | VOIDED
        "captured_amount": int,
        "capture_status": str,
        "voided_amount": int,
        "fac_id": str,
        "reason": str,
        "deadline_at": str,
        "deadline_kind": str,
        "created_at": str,
        "updated_at": str,
        "history": str,
    },
    json_columns=frozenset({"tariff", "card", "token", "history"}),
    indexes=(
        ("serial_number",),
        ("authorization_reference",),
        ("payment_session_id",),
        ("state",),
        ("money",),
    ),
)

# Journey states (``state``).
PRESENTING = "PRESENTING"  # waiting for a card
AUTHORIZING = "AUTHORIZING"
DECLINED = "DECLINED"  # final, no money
CARD_TIMEOUT = "CARD_TIMEOUT"  # final, no money
ABANDONED = "ABANDONED"  # final, no money (cancelled, terminal offline before authorization)
STARTING = "STARTING"  # START_SESSION sent
START_FAILED = "START_FAILED"  # final: pre-authorization voided
STARTED = "STARTED"  # CommandResult ACCEPTED, waiting for the Session
CHARGING = "CHARGING"  # Session PENDING/ACTIVE
STOPPING = "STOPPING"  # STOP_SESSION sent
WAITING_CDR = "WAITING_CDR"  # Session COMPLETED (or stopped), waiting for the CDR
CAPTURING = "CAPTURING"  # capture queued on an offline terminal
COMPLETED = "COMPLETED"  # captured (see capture_status); FAC may follow
VOIDED = "VOIDED"  # final: voided after it had started (no session, invalid session)

STATES = (
    PRESENTING,
    AUTHORIZING,
    DECLINED,
    CARD_TIMEOUT,
    ABANDONED,
    STARTING,
    START_FAILED,
    STARTED,
    CHARGING,
    STOPPING,
    WAITING_CDR,
    CAPTURING,
    COMPLETED,
    VOIDED,
)
FINAL = frozenset({DECLINED, CARD_TIMEOUT, ABANDONED, START_FAILED, COMPLETED, VOIDED})
ACTIVE = frozenset({STARTED, CHARGING, STOPPING})
# Money states a pre-authorization ends in (NONE: there never was one).
SETTLED = frozenset({"NONE", "CAPTURED", "VOIDED"})


class JourneyRecords:
    def __init__(self, store: Store, now: Any) -> None:
        self.store = store
        self.now = now
        store.register(JOURNEYS)

    def create(self, **fields: Any) -> dict[str, Any]:
        stamp = format_datetime(self.now())
        row = {"created_at": stamp, "updated_at": stamp, "money": "NONE", "history": [], **fields}
        row["history"] = [{"at": stamp, "state": fields.get("state")}]
        self.store.insert("journeys", row)
        created = self.get(fields["id"])
        assert created is not None
        return created

    def get(self, journey_id: str) -> dict[str, Any] | None:
        return self.store.get("journeys", journey_id)

    def update(self, journey_id: str, **changes: Any) -> dict[str, Any]:
        row = self.get(journey_id)
        assert row is not None
        stamp = format_datetime(self.now())
        changes["updated_at"] = stamp
        if "state" in changes and changes["state"] != row["state"]:
            history = list(row.get("history") or [])
            entry = {"at": stamp, "state": changes["state"]}
            if changes.get("reason"):
                entry["reason"] = changes["reason"]
            history.append(entry)
            changes["history"] = history
        self.store.update("journeys", journey_id, changes)
        updated = self.get(journey_id)
        assert updated is not None
        return updated

    def claim_money(self, journey_id: str, expected: tuple[str, ...], new: str) -> bool:
        """Move the money state from one of ``expected`` to ``new``; False if it had moved."""
        placeholders = ", ".join("?" for _ in expected)
        before = self.store.count(
            "journeys", f"id = ? and money in ({placeholders})", [journey_id, *expected]
        )
        if not before:
            return False
        self.store.execute(
            f"update journeys set money = ?, updated_at = ? where id = ? and money in "  # noqa: S608
            f"({placeholders})",
            [new, format_datetime(self.now()), journey_id, *expected],
        )
        return True

    def by_reference(self, reference: str) -> dict[str, Any] | None:
        return self.store.first(
            "journeys", "upper(authorization_reference) = ?", [reference.upper()]
        )

    def by_payment_session(self, session_id: str) -> dict[str, Any] | None:
        return self.store.first("journeys", "payment_session_id = ?", [session_id])

    def by_session(self, platform_id: int, session_id: str) -> dict[str, Any] | None:
        return self.store.first(
            "journeys",
            "platform_id = ? and upper(session_id) = ?",
            [platform_id, session_id.upper()],
        )

    def by_command(self, command_id: str) -> dict[str, Any] | None:
        return self.store.first(
            "journeys", "start_command_id = ? or stop_command_id = ?", [command_id, command_id]
        )

    def for_terminal(
        self, serial: str, states: frozenset[str] | None = None, since: str | None = None
    ) -> list[dict[str, Any]]:
        clauses, params = ["serial_number = ?"], [serial]
        if states:
            clauses.append(f"state in ({', '.join('?' for _ in states)})")
            params.extend(sorted(states))
        if since:
            clauses.append("created_at >= ?")
            params.append(since)
        return self.store.rows("journeys", " and ".join(clauses), params, order_by="created_at")

    def all(
        self, *, serial: str | None = None, state: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        clauses, params = [], []
        if serial:
            clauses.append("serial_number = ?")
            params.append(serial)
        if state:
            clauses.append("state = ?")
            params.append(state)
        return self.store.rows(
            "journeys", " and ".join(clauses) or None, params, order_by="created_at", limit=limit
        )

    def open(self) -> list[dict[str, Any]]:
        """Journeys still under way, or whose money has not reached its final state."""
        states = ", ".join("?" for _ in FINAL)
        settled = ", ".join("?" for _ in SETTLED)
        return self.store.rows(
            "journeys",
            f"state not in ({states}) or money not in ({settled})",
            [*sorted(FINAL), *sorted(SETTLED)],
            order_by="created_at",
        )
