"""The journey as a typed record: one card payment, from the tariff the driver accepted to the
capture or void of its pre-authorization.

A :class:`Journey` is immutable: :func:`emulator.journey.step.step` returns a new one, and
:class:`emulator.journey.records.JourneyRecords` is the only way in and out of the store.
The enums are ``StrEnum`` s: their values are what the store, the events and the control API
have always carried (``"CHARGING"``, ``"AUTHORIZED"``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class JourneyState(StrEnum):
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
    CAPTURING = "CAPTURING"  # capture under way (or queued on an offline terminal)
    COMPLETED = "COMPLETED"  # captured (see capture_status); FAC may follow
    VOIDED = "VOIDED"  # final: voided after it had started (no session, invalid session)


class Money(StrEnum):
    """Where the pre-authorization stands. It moves forwards only, and only once out of
    ``AUTHORIZED``: NONE → AUTHORIZED → CAPTURING/VOIDING (→ *_QUEUED) → CAPTURED | VOIDED.
    A refused capture or void goes back to AUTHORIZED, to be tried again."""

    NONE = "NONE"
    AUTHORIZED = "AUTHORIZED"
    CAPTURING = "CAPTURING"
    CAPTURE_QUEUED = "CAPTURE_QUEUED"  # the terminal is offline: it captures when back
    CAPTURED = "CAPTURED"
    VOIDING = "VOIDING"
    VOID_QUEUED = "VOID_QUEUED"
    VOIDED = "VOIDED"


class Deadline(StrEnum):
    """What a journey waits for, each watched by the journey alone."""

    SESSION = "session"  # a Session after START_SESSION was ACCEPTED (OCPI-46)
    CDR = "cdr"  # the CDR after the Session COMPLETED
    UPDATE = "update"  # any Session update while charging (payter.md §3.9)


FINAL = frozenset(
    {
        JourneyState.DECLINED,
        JourneyState.CARD_TIMEOUT,
        JourneyState.ABANDONED,
        JourneyState.START_FAILED,
        JourneyState.COMPLETED,
        JourneyState.VOIDED,
    }
)
ACTIVE = frozenset({JourneyState.STARTED, JourneyState.CHARGING, JourneyState.STOPPING})
# Money states a pre-authorization ends in (NONE: there never was one).
SETTLED = frozenset({Money.NONE, Money.CAPTURED, Money.VOIDED})
VOIDING_OR_VOIDED = frozenset({Money.VOIDING, Money.VOID_QUEUED, Money.VOIDED})
# A capture or void decided and not yet confirmed by the terminal.
UNDER_WAY = frozenset({Money.CAPTURING, Money.CAPTURE_QUEUED, Money.VOIDING, Money.VOID_QUEUED})


@dataclass(frozen=True)
class Card:
    """The card that paid (no PAN: the masked one, as the terminal reports it)."""

    card_id: str | None = None
    masked_pan: str | None = None
    brand: str | None = None
    medium: str | None = None

    @classmethod
    def from_row(cls, value: Mapping[str, Any] | None) -> Card | None:
        if not value:
            return None
        return cls(
            card_id=value.get("card_id"),
            masked_pan=value.get("masked_pan"),
            brand=value.get("brand"),
            medium=value.get("medium"),
        )


@dataclass(frozen=True)
class Journey:
    id: str
    serial_number: str  # the terminal
    state: JourneyState
    preauth_amount: int  # minor units
    currency: str
    created_at: str
    updated_at: str
    money: Money = Money.NONE
    terminal_id: str | None = None  # its OCPI Terminal object
    platform_id: int | None = None
    version: str | None = None
    location_id: str | None = None
    evse_uid: str | None = None
    connector_id: str | None = None
    connector_label: str | None = None
    tariff_id: str | None = None
    tariff: Mapping[str, Any] | None = None  # the OCPI Tariff the driver accepted
    language: str | None = None
    card: Card | None = None
    payment_session_id: str | None = None  # the terminal's payment session (the authorization)
    authorization_reference: str | None = None
    token: Mapping[str, Any] | None = None  # the AD_HOC_USER token of the START_SESSION
    start_command_id: str | None = None
    stop_command_id: str | None = None
    stop_reason: str | None = None
    session_id: str | None = None
    session_status: str | None = None
    session_cost: int | None = None  # minor units incl. taxes, last known
    kwh: float | None = None
    cdr_id: str | None = None
    cdr_total: int | None = None
    invoice_reference_id: str | None = None
    captured_amount: int | None = None
    capture_status: str | None = None
    voided_amount: int | None = None
    # A FAC is owed to the CPO for the capture (decided with it, in the same write); fac_id
    # names it once made. Owed and not made after a restart: it is made then (exactly one).
    fac_due: bool = False
    fac_id: str | None = None
    reason: str | None = None
    deadline_at: str | None = None
    deadline_kind: Deadline | None = None
    history: tuple[Mapping[str, Any], ...] = field(default=())

    @property
    def label(self) -> str:
        """The charger as the driver knows it (its number on the list, else the EVSE uid)."""
        return self.connector_label or self.evse_uid or ""

    def replace(self, **changes: Any) -> Journey:
        # dataclasses.replace, without its per-field walk: the copy is made field by field
        # from this one's (the class has no __post_init__ and no InitVar), names checked.
        unknown = changes.keys() - _JOURNEY_FIELDS_SET
        if unknown:
            raise TypeError(f"Journey has no field {sorted(unknown)[0]!r}")
        return Journey(**{**{f: getattr(self, f) for f in _JOURNEY_FIELDS}, **changes})

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Journey:
        values = {k: v for k, v in row.items() if k in _JOURNEY_FIELDS_SET}
        values["state"] = JourneyState(row["state"])
        values["money"] = Money(row.get("money") or "NONE")
        values["card"] = Card.from_row(row.get("card"))
        values["history"] = tuple(row.get("history") or ())
        values["fac_due"] = bool(row.get("fac_due"))
        kind = row.get("deadline_kind")
        values["deadline_kind"] = Deadline(kind) if kind else None
        return cls(**values)

    def to_row(self) -> dict[str, Any]:
        row = {f: getattr(self, f) for f in _JOURNEY_FIELDS}
        row["state"] = str(self.state)
        row["money"] = str(self.money)
        card = self.card
        row["card"] = {f: getattr(card, f) for f in _CARD_FIELDS} if card else None
        row["history"] = list(self.history)
        row["deadline_kind"] = str(self.deadline_kind) if self.deadline_kind else None
        return row


# Every field of a Card is a scalar: copied by name, as dataclasses.asdict would.
_CARD_FIELDS = tuple(f.name for f in dataclasses.fields(Card))
_JOURNEY_FIELDS = tuple(f.name for f in dataclasses.fields(Journey))
_JOURNEY_FIELDS_SET = frozenset(_JOURNEY_FIELDS)
