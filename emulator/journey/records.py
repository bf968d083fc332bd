"""Journey records: one per card payment, persisted so a restart resumes it. The only way a
:class:`~emulator.journey.model.Journey` is read from or written to the store.

The money state of a journey moves only forwards, and only once out of ``AUTHORIZED``:

    NONE → AUTHORIZED → CAPTURED | VOIDED          (or *_QUEUED while the terminal is offline)

:meth:`JourneyRecords.save` is the single gate: a change of the money state is written only if
the stored money state is still the one the change was decided from, so a second capture or
void of the same pre-authorization can never happen — even if two events race or the emulator
restarts between the decision and the terminal's answer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from emulator.datetimes import format_datetime
from emulator.journey.model import (
    ACTIVE,
    FINAL,
    SETTLED,
    Journey,
    JourneyState,
)
from emulator.store import Store, TableSpec

__all__ = ["ACTIVE", "FINAL", "SETTLED", "JourneyRecords"]

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
        "fac_due": bool,
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

# The states and money states, as the rest of the code base names them (see model.py).
PRESENTING = JourneyState.PRESENTING
AUTHORIZING = JourneyState.AUTHORIZING
DECLINED = JourneyState.DECLINED
CARD_TIMEOUT = JourneyState.CARD_TIMEOUT
ABANDONED = JourneyState.ABANDONED
STARTING = JourneyState.STARTING
START_FAILED = JourneyState.START_FAILED
STARTED = JourneyState.STARTED
CHARGING = JourneyState.CHARGING
STOPPING = JourneyState.STOPPING
WAITING_CDR = JourneyState.WAITING_CDR
CAPTURING = JourneyState.CAPTURING
COMPLETED = JourneyState.COMPLETED
VOIDED = JourneyState.VOIDED
STATES = tuple(JourneyState)


class JourneyRecords:
    """Journeys are read far more often than written (every event of a journey reads it, and
    :meth:`save` reads the stored money state): the last :attr:`KEEP` journeys read or
    written are kept decoded, as the store holds them. Every write goes through here and
    puts what the store then holds in their place (a :class:`Journey` is frozen, so a copy
    handed out cannot change); a reset of the store forgets them."""

    KEEP = 2048

    def __init__(self, store: Store, now: Callable[[], datetime]) -> None:
        self.store = store
        self.now = now
        self._kept: dict[str, Journey] = {}
        store.register(JOURNEYS)
        store.reset_listeners.append(self._kept.clear)
        # Sessions and commands name a journey by CiStrings, compared in upper case: indexed
        # as compared, so a look-up does not read every journey ever made.
        store.execute(
            "create index if not exists idx_journeys_upper_ref "
            "on journeys(upper(authorization_reference))"
        )
        store.execute(
            "create index if not exists idx_journeys_upper_session "
            "on journeys(platform_id, upper(session_id))"
        )
        store.execute(
            "create index if not exists idx_journeys_commands on journeys(start_command_id)"
        )
        store.execute(
            "create index if not exists idx_journeys_stop_command on journeys(stop_command_id)"
        )

    def _read(self, journey_id: str) -> Journey | None:
        """The journey as stored (read from the store), kept for the next reads."""
        row = self.store.get("journeys", journey_id)
        if row is None:
            self._kept.pop(journey_id, None)
            return None
        journey = Journey.from_row(row)
        kept = self._kept
        kept.pop(journey_id, None)
        kept[journey_id] = journey
        if len(kept) > self.KEEP:
            del kept[next(iter(kept))]
        return journey

    def create(self, journey: Journey) -> Journey:
        stamp = format_datetime(self.now())
        entry = {"at": stamp, "state": str(journey.state)}
        journey = journey.replace(created_at=stamp, updated_at=stamp, history=(entry,))
        self.store.insert("journeys", journey.to_row())
        created = self._read(journey.id)
        assert created is not None
        return created

    def get(self, journey_id: str) -> Journey | None:
        kept = self._kept.get(journey_id)
        return kept if kept is not None else self._read(journey_id)

    def save(self, before: Journey, after: Journey) -> Journey | None:
        """Write what changed from ``before`` to ``after``; None (nothing written) if the
        money state was to change but the stored one is no longer ``before.money``."""
        current = self.get(before.id)
        assert current is not None
        if after.money != before.money and current.money != before.money:
            return None
        old, new = before.to_row(), after.to_row()
        changes = {key: value for key, value in new.items() if old[key] != value}
        if not changes:
            return current
        return self._write(current, changes)

    def update(self, journey_id: str, **changes: Any) -> Journey:
        current = self.get(journey_id)
        assert current is not None
        row = current.replace(**changes).to_row()
        return self._write(current, {key: row[key] for key in changes})

    def _write(self, current: Journey, changes: dict[str, Any]) -> Journey:
        stamp = format_datetime(self.now())
        changes["updated_at"] = stamp
        if "state" in changes and changes["state"] != current.state:
            entry = {"at": stamp, "state": changes["state"]}
            if changes.get("reason"):
                entry["reason"] = changes["reason"]
            changes["history"] = [*current.history, entry]
        try:
            self.store.update("journeys", current.id, changes)
        finally:
            self._kept.pop(current.id, None)
        updated = self._read(current.id)
        assert updated is not None
        return updated

    def _one(self, where: str, params: list[Any]) -> Journey | None:
        # Its id only: the journey itself is most often kept decoded already (get).
        rows = self.store.query(f"select id from journeys where {where} limit 1", params)  # noqa: S608 - our clauses
        return self.get(rows[0]["id"]) if rows else None

    def _many(self, rows: list[dict[str, Any]]) -> list[Journey]:
        return [Journey.from_row(row) for row in rows]

    def by_reference(self, reference: str) -> Journey | None:
        return self._one("upper(authorization_reference) = ?", [reference.upper()])

    def by_payment_session(self, session_id: str) -> Journey | None:
        return self._one("payment_session_id = ?", [session_id])

    def by_session(self, platform_id: int, session_id: str) -> Journey | None:
        return self._one(
            "platform_id = ? and upper(session_id) = ?", [platform_id, session_id.upper()]
        )

    def by_command(self, command_id: str) -> Journey | None:
        return self._one("start_command_id = ? or stop_command_id = ?", [command_id, command_id])

    def for_terminal(
        self, serial: str, states: frozenset[JourneyState] | None = None, since: str | None = None
    ) -> list[Journey]:
        clauses, params = ["serial_number = ?"], [serial]
        if states:
            clauses.append(f"state in ({', '.join('?' for _ in states)})")
            params.extend(sorted(str(s) for s in states))
        if since:
            clauses.append("created_at >= ?")
            params.append(since)
        return self._many(
            self.store.rows("journeys", " and ".join(clauses), params, order_by="created_at")
        )

    def all(
        self, *, serial: str | None = None, state: str | None = None, limit: int = 500
    ) -> list[Journey]:
        clauses, params = [], []
        if serial:
            clauses.append("serial_number = ?")
            params.append(serial)
        if state:
            clauses.append("state = ?")
            params.append(state)
        return self._many(
            self.store.rows(
                "journeys",
                " and ".join(clauses) or None,
                params,
                # Journeys created at one instant (a decline and the next card's) in the
                # order they were made.
                order_by="created_at, rowid",
                limit=limit,
            )
        )

    def open(self, serial: str | None = None) -> list[Journey]:
        """Journeys still under way, whose money has not reached its final state, or that owe
        a FAC not yet made (the emulator stopped between the capture and the FAC); of the
        terminal ``serial`` only, if given."""
        states = ", ".join("?" for _ in FINAL)
        settled = ", ".join("?" for _ in SETTLED)
        where = (
            f"(state not in ({states}) or money not in ({settled})"
            " or (fac_due = 1 and fac_id is null))"
        )
        params: list[Any] = [*sorted(str(s) for s in FINAL), *sorted(str(m) for m in SETTLED)]
        if serial is not None:
            where += " and serial_number = ?"
            params.append(serial)
        return self._many(self.store.rows("journeys", where, params, order_by="created_at"))
