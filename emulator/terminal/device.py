"""The virtual terminal: a pure state machine, one per terminal.

No HTTP, no SQLite, no clock: every input carries ``now`` and every output is an effect
(:class:`ScreenChanged`, :class:`CardRead`, :class:`StartTimer`, …) that the host
(:mod:`emulator.terminal.host`) carries out. Both drivers — the CPS REST API and Payter's own
OCPI journey — give the same commands (payter.md §2.1 "OCPI uses the CPS interface").

Terminal states (``state``; the CPS terminal object's ``state`` field, §3.5). Only ``IDLE``,
``READING`` and ``CARD`` are observed in real traffic; the full enum is an image we do not have
(§6.1), so ``AUTHORIZING`` is ours:

``IDLE``
    Not reading cards. The display shows the integrator's last screen, a timed notification,
    the screensaver, or the built-in idle carousel.
``READING``
    Waiting for a card after ``start`` (Payter's "present card" screen unless the reading
    keeps the integrator's screen). Ends with a card, ``stop``, or the card presentation
    timeout.
``CARD``
    A card has been read and waits for ``authorize`` or ``stop``; dropped after the card read
    timeout (§3.8: "Drop the tapped card and return to state Enabled").
``AUTHORIZING``
    Authorization under way: PIN entry for cards that ask for it, or waiting for an acquirer
    that does not answer. Ends approved or declined; back to ``IDLE`` either way.

``online`` is separate: an offline terminal is ``IDLE`` with ``online`` false, as Payter's state
webhook reports it (``{online, state}``, §3.6).

Payment sessions live beside the reading state: several at once per terminal (multi-connector
chargers, §3.9), each ``AUTHORIZED`` until committed, cancelled or expired.

Display (§4.2): while a payment flow owns the display (reading, card, authorizing) a screen sent
by the controller is held and shown once the flow releases the display; afterwards the terminal
"will revert to an idle screen unless otherwise directed".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Literal, TypedDict

from emulator.datetimes import format_datetime
from emulator.terminal.acquirer import (
    CANCELLED_BY_CARDHOLDER,
    PIN_ENTRY_TIMED_OUT,
    TERMINAL_OFFLINE,
    TIMED_OUT,
    Acquirer,
    Authorization,
)
from emulator.terminal.cards import FORCEABLE_OUTCOMES, IFD, Medium, TestCard
from emulator.terminal.screens import (
    OUT_OF_SERVICE,
    PIN_KEYS,
    SCREENSAVER_ID,
    Screen,
    ScreenJson,
    idle_screen,
    notification_screen,
    offline_screen,
    payment_screen,
    reader_screen,
    screensaver_screen,
)

# The Apollo family has a touch screen and runs both Payter's OCPI journey and CPS; the P6X
# family (P66 contactless only, P68 "3in1") has a status display and LEDs, no graphical UI, and
# is CPS-only: "the P6X terminal family do not support OCPI as the solution is reliant on UI
# interaction" (payter.md §2.1, §4.1).
APOLLO_MODELS = ("Apollo", "Apollo Max", "Polar")
P6X_MODELS = ("P66", "P68")
MODELS = APOLLO_MODELS + P6X_MODELS


def has_screen(model: str) -> bool:
    """Whether the model has a graphical screen (CPS /ui, Payter's OCPI journey)."""
    return model in APOLLO_MODELS


def p6x_refusal(model: str, what: str) -> str:
    return (
        f"a {model} is a P6X terminal: it has no graphical UI, so {what} (Payter: the P6X "
        "terminal family does not support OCPI, the solution being reliant on UI interaction)"
    )


class State(StrEnum):
    IDLE = "IDLE"
    READING = "READING"
    CARD = "CARD"
    AUTHORIZING = "AUTHORIZING"


class SessionState(StrEnum):
    AUTHORIZED = "AUTHORIZED"
    COMMITTED = "COMMITTED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


# CPS `supportedPaymentMethods` (§3.4; `QR_CODE` is the value seen). `EMV` is the default, as
# PSP's bit 0x02 "EMV cards"; RFID reads are CPS/PSP only (§4.5).
PAYMENT_METHODS: dict[str, tuple[Medium, ...]] = {
    "EMV": (Medium.CONTACTLESS, Medium.CHIP),
    "CONTACTLESS": (Medium.CONTACTLESS,),
    "CHIP": (Medium.CHIP,),
    "QR_CODE": (Medium.QR,),
    "RFID": (Medium.RFID,),
    "MIFARE": (Medium.RFID,),
}
DEFAULT_METHODS = ("EMV",)

PIN_MIN_DIGITS = 4
PIN_MAX_DIGITS = 12
# Any PIN of that length is the right one (see _pin_key): said to whoever drives the emulator.
PIN_HINT = f"Test PIN: any {PIN_MIN_DIGITS}-{PIN_MAX_DIGITS} digits, then OK"
# Completed sessions kept in the device state (open ones are always kept). The host files
# every completed session in its own table, so this only bounds the state written per input.
COMPLETED_SESSIONS_KEPT = 10
# MyPayter's "screensaver timeout" value that disables it (§4.3).
SCREENSAVER_DISABLED = 2147483647

CARD_PRESENTATION_TIMER = "card_presentation"
CARD_READ_TIMER = "card_read"
AUTHORIZATION_TIMER = "authorization"
PIN_ENTRY_TIMER = "pin_entry"
MESSAGE_TIMER = "message"
SCREENSAVER_TIMER = "screensaver"
EXPIRY_TIMER_PREFIX = "expiry:"


@dataclass(frozen=True)
class Timeouts:
    """Seconds; Payter's defaults (§3.8, DESIGN.md "Timeouts")."""

    card_presentation: float = 60.0  # the Apollo's card-detect-timeout default
    card_read: float = 30.0  # a read card waits this long for authorize/stop
    authorization: float = 210.0  # Apollo's Auth Session; a P6X's is 30 s
    pin_authorization: float = 210.0  # Apollo: 3 min 30 s "allows for 3x PIN entry"
    # No key on the PIN pad for this long declines (journey-screens.md screen 6: 30 s).
    pin_entry: float = 30.0
    commit: float = 60.0  # commit/void; for drivers that wait on a commit result
    screensaver: float | None = 30.0  # None (or 2147483647) disables it
    message: float = 3.0  # a uiMessage without uiMessageTimeout
    # An authorization that is never committed or cancelled lapses at the issuer ("weeks and
    # sometimes months", §3.9); a week is the common pre-authorization validity.
    authorization_validity: float = 7 * 24 * 3600.0

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in _TIMEOUT_FIELDS}  # numbers only: no deep copy

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Timeouts:
        if not data:
            return cls()
        names = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {
            k: float(v) if v is not None else None for k, v in data.items() if k in names
        }
        return cls(**values)


_TIMEOUT_FIELDS = tuple(f.name for f in dataclasses.fields(Timeouts))


# --- errors -------------------------------------------------------------------------------------


class ErrorKind(StrEnum):
    """How a driver should answer: CPS maps ``conflict`` to 409 (§3.7), and so on."""

    INVALID = "invalid"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    UNAVAILABLE = "unavailable"


class TerminalError(Exception):
    def __init__(self, kind: ErrorKind, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
        self.details = details

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


# --- effects ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Effect:
    kind: ClassVar[str] = "effect"

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ScreenChanged(Effect):
    kind: ClassVar[str] = "screen"
    screen: Screen

    def as_json(self) -> dict[str, Any]:
        return {"screen": self.screen.as_json()}


@dataclass(frozen=True)
class StateChanged(Effect):
    """``online`` and/or ``state`` changed: what Payter's state webhook reports (§3.6)."""

    kind: ClassVar[str] = "state"
    online: bool
    state: str
    previous_online: bool | None = None
    previous_state: str | None = None


@dataclass(frozen=True)
class CardRead(Effect):
    """A card was read while reading; the CPS card object (§3.5) plus what tests need."""

    kind: ClassVar[str] = "card"
    serial_number: str
    medium: str
    ifd: str
    aid: str
    card_id: str
    masked_pan: str | None
    card_ref: str
    brand: str | None = None
    # Open sessions of this card on this terminal (Tap to Stop matches on cardId, §4.4).
    sessions: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "serialNumber": self.serial_number,
            "ifd": self.ifd,
            "aid": self.aid,
            "cardId": self.card_id,
        }
        if self.masked_pan:
            data["maskedPan"] = self.masked_pan
        data["sessions"] = list(self.sessions)
        data["medium"] = self.medium
        data["card"] = self.card_ref
        data["brand"] = self.brand
        return data


@dataclass(frozen=True)
class CardIgnored(Effect):
    """A card presented when the terminal was not reading (or not for this medium)."""

    kind: ClassVar[str] = "card_ignored"
    medium: str
    card_ref: str
    card_id: str
    reason: Literal["not_reading", "offline", "medium_not_accepted"]
    message: str = ""


@dataclass(frozen=True)
class UiEvent(Effect):
    """A key of an integrator's screen was pressed: the UI callback ``{screenId, response}``."""

    kind: ClassVar[str] = "ui_event"
    screen_id: str
    response: str

    def as_json(self) -> dict[str, Any]:
        return {"screenId": self.screen_id, "response": self.response}


@dataclass(frozen=True)
class ReadingStopped(Effect):
    kind: ClassVar[str] = "reading"
    reason: Literal["stopped", "timeout", "card_timeout", "offline"]


PaymentStepName = Literal[
    "pin_required",
    "authorizing",
    "authorized",
    "declined",
    "committed",
    "commit_queued",
    "cancelled",
    "cancel_queued",
    "incremented",
    "increment_declined",
    "expired",
]


@dataclass(frozen=True)
class PaymentStep(Effect):
    kind: ClassVar[str] = "payment"
    step: PaymentStepName
    session_id: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"step": self.step, "session_id": self.session_id, **self.data}


@dataclass(frozen=True)
class StartTimer(Effect):
    """(Re)start timer ``name``; a running timer of that name is replaced."""

    kind: ClassVar[str] = "timer"
    name: str
    seconds: float


@dataclass(frozen=True)
class CancelTimer(Effect):
    kind: ClassVar[str] = "timer"
    name: str


# --- state records ------------------------------------------------------------------------------


class SessionJson(TypedDict):
    """A payment session as the control API, the CPS service and the journey read it (and as
    it is filed once completed)."""

    session_id: str
    serial_number: str
    state: str  # AUTHORIZED | COMMITTED | CANCELLED
    authorized_amount: int
    currency: str
    card_id: str
    card: str
    masked_pan: str | None
    brand: str | None
    aid: str | None
    medium: str
    auth_code: str | None
    response_code: str
    increments: list[int]
    commit_amount: int | None
    captured_amount: int | None
    capture_status: str | None
    queued: str | None  # "commit" / "cancel" held while offline
    eft_data: list[str]
    created_at: str
    updated_at: str
    completed_at: str | None


class PendingJson(TypedDict):
    session_id: str
    phase: str
    amount: int
    currency: str


class DeviceJson(TypedDict):
    """A terminal as its device reports it (``GET /__admin/terminals/{serial}`` adds the
    host's ``mode``, ``created_at``, ``controller``)."""

    serial_number: str
    model: str
    has_screen: bool
    test_firmware: bool
    currency: str
    online: bool
    state: str
    out_of_service: str | None
    screen: ScreenJson
    reader: ScreenJson | None
    held_screen: ScreenJson | None
    reading: dict[str, Any] | None
    card: dict[str, Any] | None
    pending_authorization: PendingJson | None
    sessions: list[SessionJson]
    queued: list[dict[str, Any]]
    forced_outcome: str | None
    timers: dict[str, str]


@dataclass(frozen=True)
class ReadingRequest:
    """What ``start`` asked for (CPS ``/start`` query parameters, §3.4)."""

    amount: int | None
    currency: str
    message: str | None = None
    title: str | None = None
    hide_amount: bool = False
    methods: tuple[str, ...] = DEFAULT_METHODS
    language: str | None = None
    # Keep the integrator's screen while reading (Tap to Stop on a selection screen, receipt
    # look-up) instead of Payter's present-card screen.
    keep_screen: bool = False
    timeout: float | None = 30.0  # None: read until stopped ("always reading", §3.8)

    @property
    def media(self) -> tuple[Medium, ...]:
        found: dict[Medium, None] = {}
        for method in self.methods:
            for medium in PAYMENT_METHODS[method]:
                found.setdefault(medium, None)
        return tuple(found)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["methods"] = list(self.methods)  # the one field that is not a scalar
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReadingRequest:
        values = dict(data)
        values["methods"] = tuple(values.get("methods") or DEFAULT_METHODS)
        values["timeout"] = _seconds(values.get("timeout"))
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PresentedCard:
    card: TestCard
    medium: Medium

    def to_dict(self) -> dict[str, Any]:
        return {"card": self.card.as_stored(), "medium": self.medium.value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PresentedCard:
        return cls(TestCard.from_json(data["card"]), Medium(data["medium"]))


@dataclass
class PendingAuthorization:
    authorization: Authorization  # status pin_required or no_response
    phase: Literal["pin", "acquirer"]
    message: str | None = None
    message_timeout: float | None = None
    pin_digits: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "authorization": self.authorization.to_dict(),
            "phase": self.phase,
            "message": self.message,
            "message_timeout": self.message_timeout,
            "pin_digits": self.pin_digits,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PendingAuthorization:
        return cls(
            authorization=Authorization.from_dict(data["authorization"]),
            phase=data["phase"],
            message=data.get("message"),
            message_timeout=_seconds(data.get("message_timeout")),
            pin_digits=int(data.get("pin_digits") or 0),
        )


@dataclass
class PaymentSession:
    session_id: str
    authorization: Authorization
    medium: str
    state: SessionState = SessionState.AUTHORIZED
    created_at: str = ""
    updated_at: str = ""
    completed_at: str | None = None
    commit_amount: int | None = None
    captured_amount: int | None = None
    capture_status: str | None = None
    capture: dict[str, Any] | None = None
    void: dict[str, Any] | None = None
    # "commit" or "cancel" accepted while offline and not yet carried out (§3.7).
    queued: str | None = None

    @property
    def authorized_amount(self) -> int:
        return self.authorization.amount

    @property
    def is_open(self) -> bool:
        return self.state is SessionState.AUTHORIZED

    def as_json(self, serial_number: str) -> SessionJson:
        auth = self.authorization
        return {
            "session_id": self.session_id,
            "serial_number": serial_number,
            "state": self.state.value,
            "authorized_amount": auth.amount,
            "currency": auth.currency,
            "card_id": auth.card_id,
            "card": auth.card_ref,
            "masked_pan": auth.masked_pan,
            "brand": auth.brand,
            "aid": auth.aid,
            "medium": self.medium,
            "auth_code": auth.auth_code,
            "response_code": auth.response_code,
            "increments": list(auth.increments),
            "commit_amount": self.commit_amount,
            "captured_amount": self.captured_amount,
            "capture_status": self.capture_status,
            "queued": self.queued,
            "eft_data": list((self.capture or {}).get("eft_data") or auth.eft_data),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "completed_at": self.completed_at,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "authorization": self.authorization.to_dict(),
            "medium": self.medium,
            "state": self.state.value,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "completed_at": self.completed_at,
            "commit_amount": self.commit_amount,
            "captured_amount": self.captured_amount,
            "capture_status": self.capture_status,
            "capture": self.capture,
            "void": self.void,
            "queued": self.queued,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PaymentSession:
        values = dict(data)
        values["authorization"] = Authorization.from_dict(values["authorization"])
        values["state"] = SessionState(values["state"])
        return cls(**values)  # type: ignore[arg-type]


# --- the device -----------------------------------------------------------------------------------


class _Batch:
    """What one input changed: state before, and the domain effects produced."""

    def __init__(self, device: Device) -> None:
        self.online = device.online
        self.state = device.state
        self.timers = dict(device.timers)
        self.effects: list[Effect] = []
        self.activity = False

    def add(self, effect: Effect) -> None:
        self.effects.append(effect)


class Device:
    def __init__(
        self,
        serial_number: str,
        model: str = "Apollo",
        *,
        acquirer: Acquirer,
        currency: str = "EUR",
        timeouts: Timeouts | None = None,
        test_firmware: bool = False,
    ) -> None:
        if model not in MODELS:
            raise TerminalError(
                ErrorKind.INVALID,
                "invalid_model",
                f"model must be one of {', '.join(MODELS)} (got {model!r})",
            )
        self.serial_number = serial_number
        self.model = model
        # Payter's test terminals report a QR code read by the camera with ifd UNKNOWN.
        self.test_firmware = test_firmware
        self.currency = currency.upper()
        self.acquirer = acquirer
        self.timeouts = timeouts or Timeouts()
        self.online = True
        self.state = State.IDLE
        self.screen: Screen = idle_screen()
        self.app_screen: Screen | None = None  # the controller's last screen
        self.app_screensaver = True  # the screensaver may replace app_screen after a while
        self.held = False  # app_screen arrived while a payment flow owned the display
        self.message: Screen | None = None  # timed notification (uiMessage, decline)
        self.message_timeout: float | None = None
        self.screensaver = False
        self.reading: ReadingRequest | None = None
        self.card: PresentedCard | None = None
        self.pending: PendingAuthorization | None = None
        self.sessions: dict[str, PaymentSession] = {}
        self.queue: list[dict[str, Any]] = []  # commits/cancels accepted while offline
        self.forced_outcome: str | None = None
        self.timers: dict[str, str] = {}  # name -> due time (ISO), so a restart re-arms them

    # --- derived views ----------------------------------------------------------------------

    @property
    def flow_owns_display(self) -> bool:
        if self.state is State.AUTHORIZING:
            return True
        if self.state in (State.READING, State.CARD):
            return not (self.reading and self.reading.keep_screen)
        return False

    @property
    def held_screen(self) -> Screen | None:
        return self.app_screen if self.held else None

    def open_sessions(self) -> list[PaymentSession]:
        return [s for s in self.sessions.values() if s.is_open]

    def ifd(self, medium: Medium) -> str:
        """The card object's ``ifd`` for a read with ``medium``: on test firmware a QR code
        read by the camera is ``UNKNOWN`` (payter.md §3.5, seen from Payter's test terminals)."""
        if self.test_firmware and medium is Medium.QR:
            return "UNKNOWN"
        return IFD[medium]

    def timer_due(self, name: str) -> datetime | None:
        due = self.timers.get(name)
        return datetime.fromisoformat(due) if due else None

    def as_json(self) -> DeviceJson:
        """What the control API shows (``GET /__admin/terminals/{serial}``)."""
        return {
            "serial_number": self.serial_number,
            "model": self.model,
            "has_screen": has_screen(self.model),
            "test_firmware": self.test_firmware,
            "currency": self.currency,
            "online": self.online,
            "state": self.state.value,
            # Why the terminal is out of service (no CPO, no chargers, offline), else None.
            "out_of_service": self.screen.properties.get(OUT_OF_SERVICE) or None,
            "screen": self.screen.as_json(),
            # A terminal without a display: what its reader shows (drawn in place of a screen).
            "reader": (
                None
                if has_screen(self.model)
                else reader_screen(self.model, self.online, self.state.value, self.screen)
            ),
            "held_screen": self.held_screen.as_json() if self.held_screen else None,
            "reading": self.reading.to_dict() if self.reading else None,
            "card": self.card.to_dict() if self.card else None,
            "pending_authorization": (
                {
                    "session_id": self.pending.authorization.session_id,
                    "phase": self.pending.phase,
                    "amount": self.pending.authorization.amount,
                    "currency": self.pending.authorization.currency,
                }
                if self.pending
                else None
            ),
            "sessions": [s.as_json(self.serial_number) for s in self.open_sessions()],
            "queued": list(self.queue),
            "forced_outcome": self.forced_outcome,
            "timers": dict(self.timers),
        }

    # --- inputs from the driver (a person, a test) --------------------------------------

    def boot(self, *, now: datetime) -> list[Effect]:
        """First start: idle, online; announces the state like the state webhook does."""
        batch = _Batch(self)
        batch.online, batch.state = None, None  # type: ignore[assignment]
        batch.activity = True
        return self._end(batch, now, force_screen=True)

    def present_card(self, presented: PresentedCard, *, now: datetime) -> list[Effect]:
        batch = _Batch(self)
        batch.activity = True
        self.screensaver = False  # a card wakes the screensaver (journey-screens.md #2)
        card, medium = presented.card, presented.medium
        reason: Literal["not_reading", "offline", "medium_not_accepted"] | None = None
        message = ""
        if not self.online:
            reason, message = "offline", "the terminal is offline"
        elif self.state is not State.READING or self.reading is None:
            reason = "not_reading"
            message = f"the terminal is not reading cards (screen {self.screen.id!r})"
        elif medium not in self.reading.media:
            reason = "medium_not_accepted"
            accepted = ", ".join(m.value for m in self.reading.media)
            message = f"the terminal reads {accepted} now, not {medium.value}"
        if reason is not None:
            batch.add(CardIgnored(medium.value, card.id, card.card_id, reason, message))
            return self._end(batch, now)
        self.card = presented
        self.state = State.CARD
        self.timers.pop(CARD_PRESENTATION_TIMER, None)
        self._set_timer(CARD_READ_TIMER, self.timeouts.card_read, now)
        batch.add(
            CardRead(
                serial_number=self.serial_number,
                medium=medium.value,
                ifd=self.ifd(medium),
                aid=card.aid or "",
                card_id=card.card_id,
                masked_pan=card.masked_pan,
                card_ref=card.id,
                brand=card.brand,
                sessions=tuple(
                    s.session_id
                    for s in self.open_sessions()
                    if s.authorization.card_id == card.card_id
                ),
            )
        )
        return self._end(batch, now)

    def press(self, key: str, *, now: datetime) -> list[Effect]:
        screen = self.screen
        if key not in screen.keys:
            raise TerminalError(
                ErrorKind.INVALID,
                "unknown_key",
                f"{key!r} cannot be pressed on screen {screen.id!r}",
                accepted=screen.keys,
            )
        batch = _Batch(self)
        batch.activity = True
        if screen.id == SCREENSAVER_ID:
            self.screensaver = False
        elif screen.type == "payment" and self.pending is not None and key in PIN_KEYS:
            self._pin_key(key, batch, now)
        else:
            batch.add(UiEvent(screen.id, key))
        return self._end(batch, now)

    def go_offline(self, *, now: datetime) -> list[Effect]:
        if not self.online:
            return []
        batch = _Batch(self)
        self.online = False
        if self.state is State.AUTHORIZING and self.pending is not None:
            auth = self.acquirer.decline(self.pending.authorization, TERMINAL_OFFLINE)
            self._finish_authorization(auth, batch, now)
        elif self.state in (State.READING, State.CARD):
            self._end_reading("offline", batch)
        self.message = None
        self.screensaver = False
        self.held = False
        return self._end(batch, now)

    def go_online(self, *, now: datetime) -> list[Effect]:
        if self.online:
            return []
        batch = _Batch(self)
        batch.activity = True
        self.online = True
        self.state = State.IDLE
        # "Commits will [be] stored and automatically attempted when communication is
        # restored" (§3.7).
        queue, self.queue = self.queue, []
        for entry in queue:
            session = self.sessions.get(entry["session_id"])
            if session is None:
                continue
            session.queued = None
            if entry["op"] == "commit":
                self._capture(session, int(entry["amount"]), batch, now)
            else:
                self._void(session, batch, now)
        return self._end(batch, now)

    # --- commands from the controller -----------------------------------------------------

    def start_reading(
        self,
        *,
        now: datetime,
        amount: int | None = None,
        currency: str | None = None,
        message: str | None = None,
        title: str | None = None,
        hide_amount: bool = False,
        methods: list[str] | tuple[str, ...] | None = None,
        language: str | None = None,
        keep_screen: bool = False,
        timeout: float | None = None,
    ) -> list[Effect]:
        """Start reading cards (CPS ``/start``).

        ``timeout`` None takes the card presentation default (30 s); 0 reads until stopped.
        Starting again while a card waits drops that card and reads anew.
        """
        self._require_online()
        if self.state is State.AUTHORIZING:
            raise self._busy("start reading")
        if amount is not None and amount <= 0:
            raise TerminalError(
                ErrorKind.INVALID, "invalid_amount", "the amount must be positive (minor units)"
            )
        chosen = tuple(m.upper() for m in (methods or DEFAULT_METHODS))
        unknown = [m for m in chosen if m not in PAYMENT_METHODS]
        if unknown:
            raise TerminalError(
                ErrorKind.INVALID,
                "invalid_payment_method",
                f"unknown payment method(s) {', '.join(unknown)}",
                accepted=list(PAYMENT_METHODS),
            )
        seconds = self.timeouts.card_presentation if timeout is None else timeout
        batch = _Batch(self)
        batch.activity = True
        self.card = None
        self.timers.pop(CARD_READ_TIMER, None)
        self.reading = ReadingRequest(
            amount=amount,
            currency=(currency or self.currency).upper(),
            message=message,
            title=title,
            hide_amount=hide_amount,
            methods=chosen,
            language=language,
            keep_screen=keep_screen,
            timeout=seconds or None,
        )
        self.state = State.READING
        self.message = None
        self.screensaver = False
        if seconds:
            self._set_timer(CARD_PRESENTATION_TIMER, seconds, now)
        else:
            self.timers.pop(CARD_PRESENTATION_TIMER, None)
        return self._end(batch, now)

    def stop_reading(
        self,
        *,
        now: datetime,
        message: str | None = None,
        message_timeout: float | None = None,
    ) -> list[Effect]:
        """Stop reading or ignore the read card, back to idle (CPS ``/stop``)."""
        self._require_online()
        if self.state is State.AUTHORIZING:
            raise self._busy("stop reading")
        batch = _Batch(self)
        if self.state in (State.READING, State.CARD):
            self._end_reading("stopped", batch)
        if message:
            self._show_message(notification_screen(message), message_timeout)
        return self._end(batch, now)

    def show(self, screen: Screen, *, now: datetime, screensaver: bool = True) -> list[Effect]:
        """Show an integrator's screen (CPS ``/ui``); held while a payment flow runs (§4.2).

        Without ``screensaver`` the screen stays up however long nobody touches it: a
        controller with its own timeout per screen (Payter's OCPI journey, where only Home
        gives way to the screensaver) uses that.
        """
        self._require_online()
        batch = _Batch(self)
        batch.activity = True
        self.app_screen = screen
        self.app_screensaver = screensaver
        self.held = self.flow_owns_display
        self.message = None
        self.screensaver = False
        return self._end(batch, now)

    def authorize(
        self,
        *,
        now: datetime,
        amount: int | None = None,
        currency: str | None = None,
        message: str | None = None,
        message_timeout: float | None = None,
    ) -> list[Effect]:
        """Authorize on the card that was read (CPS ``/authorize``).

        The amount defaults to the one given when reading started ("only used if authorize is
        called after card read", §3.4). The result is a :class:`PaymentStep` ``authorized`` or
        ``declined`` — at once, or after PIN entry / the authorization timeout, announced by a
        ``pin_required`` / ``authorizing`` step.
        """
        self._require_online()
        if self.state is State.AUTHORIZING:
            raise self._busy("authorize")
        if self.state is not State.CARD or self.card is None or self.reading is None:
            raise TerminalError(
                ErrorKind.CONFLICT,
                "no_card",
                "no card has been read; start reading and present a card first",
                state=self.state.value,
            )
        amount = amount if amount is not None else self.reading.amount
        if amount is None:
            raise TerminalError(
                ErrorKind.INVALID,
                "no_amount",
                "no amount to authorize: give one here or when reading starts",
            )
        if amount <= 0:
            raise TerminalError(
                ErrorKind.INVALID, "invalid_amount", "the amount must be positive (minor units)"
            )
        currency = (currency or self.reading.currency or self.currency).upper()
        batch = _Batch(self)
        self.timers.pop(CARD_READ_TIMER, None)
        auth = self.acquirer.authorize(self.card.card, amount, currency, forced=self.forced_outcome)
        if auth.status in ("pin_required", "no_response"):
            pin = auth.status == "pin_required"
            self.pending = PendingAuthorization(
                auth, "pin" if pin else "acquirer", message, message_timeout
            )
            self.state = State.AUTHORIZING
            limit = self.timeouts.pin_authorization if pin else self.timeouts.authorization
            self._set_timer(AUTHORIZATION_TIMER, limit, now)
            if pin:
                self._set_timer(PIN_ENTRY_TIMER, self.timeouts.pin_entry, now)
            batch.add(
                PaymentStep(
                    "pin_required" if pin else "authorizing",
                    auth.session_id,
                    {"amount": amount, "currency": currency},
                )
            )
        else:
            self.pending = PendingAuthorization(auth, "acquirer", message, message_timeout)
            self._finish_authorization(auth, batch, now)
        return self._end(batch, now)

    def commit(
        self,
        session_id: str,
        amount: int,
        *,
        now: datetime,
        cap_at_authorized: bool = False,
        message: str | None = None,
        message_timeout: float | None = None,
    ) -> list[Effect]:
        """Commit a session for its final amount (CPS ``…/commit``).

        Above the authorized amount is refused, unless ``cap_at_authorized`` (Payter's OCPI
        journey captures the CDR cost capped at the reservation, DESIGN.md "Captured amount").
        While offline the commit is confirmed and carried out once back online (§3.7).
        """
        session = self._open_session(session_id, "commit")
        if amount < 0:
            raise TerminalError(
                ErrorKind.INVALID, "invalid_amount", "the amount must not be negative"
            )
        if amount > session.authorized_amount and not cap_at_authorized:
            raise TerminalError(
                ErrorKind.INVALID,
                "amount_exceeds_authorization",
                f"cannot commit {amount}: only {session.authorized_amount} was authorized",
                authorized_amount=session.authorized_amount,
            )
        batch = _Batch(self)
        self._complete(session, SessionState.COMMITTED, now)
        session.commit_amount = amount
        if self.online:
            self._capture(session, amount, batch, now)
        else:
            session.queued = "commit"
            self.queue.append({"op": "commit", "session_id": session_id, "amount": amount})
            batch.add(PaymentStep("commit_queued", session_id, {"amount": amount}))
        if message and self.online:
            self._show_message(notification_screen(message), message_timeout)
        return self._end(batch, now)

    def cancel(
        self,
        session_id: str,
        *,
        now: datetime,
        message: str | None = None,
        message_timeout: float | None = None,
    ) -> list[Effect]:
        """Cancel (void) a session (CPS ``…/cancel``); queued while offline like a commit."""
        session = self._open_session(session_id, "cancel")
        batch = _Batch(self)
        self._complete(session, SessionState.CANCELLED, now)
        if self.online:
            self._void(session, batch, now)
        else:
            session.queued = "cancel"
            self.queue.append({"op": "cancel", "session_id": session_id})
            batch.add(PaymentStep("cancel_queued", session_id))
        if message and self.online:
            self._show_message(notification_screen(message), message_timeout)
        return self._end(batch, now)

    def increment(self, session_id: str, extra: int, *, now: datetime) -> list[Effect]:
        """Incremental authorization (top-up during the session, §3.9 strategy 1)."""
        session = self._open_session(session_id, "increment")
        self._require_online()
        if extra <= 0:
            raise TerminalError(
                ErrorKind.INVALID, "invalid_amount", "the increment must be positive"
            )
        batch = _Batch(self)
        updated, result = self.acquirer.increment(
            session.authorization, extra, forced=self.forced_outcome
        )
        session.authorization = updated
        session.updated_at = format_datetime(now)
        batch.add(
            PaymentStep(
                "incremented" if result.approved else "increment_declined",
                session_id,
                result.to_dict(),
            )
        )
        return self._end(batch, now)

    def force_outcome(self, outcome: str | None) -> None:
        """Every later payment step behaves as if the card had this outcome (None: the card's)."""
        if outcome is not None and outcome not in FORCEABLE_OUTCOMES:
            raise TerminalError(
                ErrorKind.INVALID,
                "invalid_outcome",
                f"outcome must be one of {', '.join(FORCEABLE_OUTCOMES)} or null",
                accepted=list(FORCEABLE_OUTCOMES),
            )
        self.forced_outcome = outcome

    def set_timeouts(self, timeouts: Timeouts) -> None:
        """New timeouts apply from the next timer started."""
        self.timeouts = timeouts

    def timer_fired(self, name: str, *, now: datetime) -> list[Effect]:
        if name not in self.timers:
            return []  # cancelled or replaced in the meantime
        del self.timers[name]
        batch = _Batch(self)
        if name == CARD_PRESENTATION_TIMER and self.state is State.READING:
            self._end_reading("timeout", batch)
        elif name == CARD_READ_TIMER and self.state is State.CARD:
            self._end_reading("card_timeout", batch)
        elif name == AUTHORIZATION_TIMER and self.pending is not None:
            auth = self.acquirer.decline(self.pending.authorization, TIMED_OUT)
            self._finish_authorization(auth, batch, now)
        elif name == PIN_ENTRY_TIMER and self.pending is not None and self.pending.phase == "pin":
            auth = self.acquirer.decline(self.pending.authorization, PIN_ENTRY_TIMED_OUT)
            self._finish_authorization(auth, batch, now)
        elif name == MESSAGE_TIMER:
            self.message = None
            self.message_timeout = None
        elif name == SCREENSAVER_TIMER:
            self.screensaver = self._screensaver_allowed()
        elif name.startswith(EXPIRY_TIMER_PREFIX):
            session = self.sessions.get(name[len(EXPIRY_TIMER_PREFIX) :])
            if session is not None and session.is_open:
                self._complete(session, SessionState.EXPIRED, now)
                batch.add(PaymentStep("expired", session.session_id, self._session_data(session)))
        return self._end(batch, now)

    # --- internals ---------------------------------------------------------------------------

    def _require_online(self) -> None:
        if not self.online:
            raise TerminalError(
                ErrorKind.UNAVAILABLE,
                "terminal_offline",
                f"terminal {self.serial_number} is offline",
            )

    def _busy(self, what: str) -> TerminalError:
        return TerminalError(
            ErrorKind.CONFLICT,
            "busy",
            f"cannot {what} while an authorization is under way",
            state=self.state.value,
        )

    def _open_session(self, session_id: str, what: str) -> PaymentSession:
        session = self.sessions.get(session_id)
        if session is None:
            raise TerminalError(
                ErrorKind.NOT_FOUND,
                "unknown_session",
                f"no session {session_id!r} on terminal {self.serial_number}",
            )
        if not session.is_open:
            raise TerminalError(
                ErrorKind.CONFLICT,
                "session_completed",
                f"cannot {what} session {session_id}: it is already {session.state.value}",
                session_state=session.state.value,
            )
        return session

    def _set_timer(self, name: str, seconds: float, now: datetime) -> None:
        self.timers[name] = (now + timedelta(seconds=float(seconds))).isoformat()

    def _show_message(self, screen: Screen, timeout: float | None) -> None:
        self.message = screen
        self.screensaver = False
        self.message_timeout = timeout if timeout and timeout > 0 else self.timeouts.message
        self.timers.pop(MESSAGE_TIMER, None)  # restarted when it reaches the display

    def _end_reading(self, reason: Any, batch: _Batch) -> None:
        self.state = State.IDLE
        self.card = None
        self.reading = None
        self.timers.pop(CARD_PRESENTATION_TIMER, None)
        self.timers.pop(CARD_READ_TIMER, None)
        batch.add(ReadingStopped(reason))

    def _pin_key(self, key: str, batch: _Batch, now: datetime) -> None:
        pending = self.pending
        assert pending is not None and self.card is not None
        self._set_timer(PIN_ENTRY_TIMER, self.timeouts.pin_entry, now)
        if key.isdigit():
            pending.pin_digits = min(pending.pin_digits + 1, PIN_MAX_DIGITS)
        elif key == "clear":
            pending.pin_digits = 0
        elif key == "cancel":
            auth = self.acquirer.decline(pending.authorization, CANCELLED_BY_CARDHOLDER)
            self._finish_authorization(auth, batch, now)
        elif key == "ok" and pending.pin_digits >= PIN_MIN_DIGITS:
            # Any PIN of 4 to 12 digits is the right one: the emulator does not model PIN tries.
            auth = pending.authorization
            result = self.acquirer.authorize(
                self.card.card,
                auth.amount,
                auth.currency,
                forced=self.forced_outcome,
                pin_verified=True,
                session_id=auth.session_id,
            )
            self._finish_authorization(result, batch, now)

    def _finish_authorization(self, auth: Authorization, batch: _Batch, now: datetime) -> None:
        pending = self.pending
        message = pending.message if pending else None
        message_timeout = pending.message_timeout if pending else None
        medium = self.card.medium.value if self.card else ""
        self.pending = None
        self.timers.pop(AUTHORIZATION_TIMER, None)
        self.timers.pop(PIN_ENTRY_TIMER, None)
        self.state = State.IDLE
        self.card = None
        self.reading = None
        stamp = format_datetime(now)
        if auth.approved:
            session = PaymentSession(
                session_id=auth.session_id,
                authorization=auth,
                medium=medium,
                created_at=stamp,
                updated_at=stamp,
            )
            self.sessions[auth.session_id] = session
            self._set_timer(
                EXPIRY_TIMER_PREFIX + auth.session_id, self.timeouts.authorization_validity, now
            )
            batch.add(PaymentStep("authorized", auth.session_id, self._session_data(session)))
            if message:
                self._show_message(notification_screen(message, icon="approved"), message_timeout)
        else:
            batch.add(
                PaymentStep(
                    "declined",
                    auth.session_id,
                    {
                        "amount": auth.amount,
                        "currency": auth.currency,
                        "response_code": auth.response_code,
                        "response_text": auth.response_text,
                        "card_id": auth.card_id,
                        "masked_pan": auth.masked_pan,
                        "eft_data": list(auth.eft_data),
                    },
                )
            )
            # Payter's certified payment screens tell the driver about a decline even when the
            # integrator gave no message (the payment interface is Payter's, §4.2).
            self._show_message(
                notification_screen(message or auth.response_text, icon="declined"),
                message_timeout,
            )

    def _complete(self, session: PaymentSession, state: SessionState, now: datetime) -> None:
        session.state = state
        session.completed_at = session.updated_at = format_datetime(now)
        self.timers.pop(EXPIRY_TIMER_PREFIX + session.session_id, None)
        # Forget the oldest completed sessions beyond the limit, never one still queued.
        completed = sorted(
            (
                s
                for s in self.sessions.values()
                if not s.is_open and not s.queued and s is not session
            ),
            key=lambda s: s.completed_at or "",
        )
        for old in completed[: max(0, len(completed) + 1 - COMPLETED_SESSIONS_KEPT)]:
            del self.sessions[old.session_id]

    def _capture(self, session: PaymentSession, amount: int, batch: _Batch, now: datetime) -> None:
        capture = self.acquirer.capture(session.authorization, amount, forced=self.forced_outcome)
        session.capture = capture.to_dict()
        session.captured_amount = capture.captured
        session.capture_status = capture.status
        session.updated_at = format_datetime(now)
        batch.add(PaymentStep("committed", session.session_id, self._session_data(session)))

    def _void(self, session: PaymentSession, batch: _Batch, now: datetime) -> None:
        session.void = self.acquirer.void(session.authorization).to_dict()
        session.updated_at = format_datetime(now)
        batch.add(PaymentStep("cancelled", session.session_id, self._session_data(session)))

    def _session_data(self, session: PaymentSession) -> dict[str, Any]:
        data = session.as_json(self.serial_number)
        return {key: value for key, value in data.items() if key != "session_id"}

    def _screensaver_allowed(self) -> bool:
        seconds = self.timeouts.screensaver
        return (
            bool(seconds)
            and seconds != SCREENSAVER_DISABLED
            and self.online
            and not self.flow_owns_display
            and self.message is None
            and (self.app_screen is None or self.app_screensaver)
        )

    def _desired_screen(self) -> Screen:
        if not self.online:
            return offline_screen()
        if self.flow_owns_display:
            return self._payment_screen()
        if self.message is not None:
            return self.message
        if self.screensaver:
            return screensaver_screen()
        return self.app_screen or idle_screen()

    def _payment_screen(self) -> Screen:
        reading = self.reading
        pending = self.pending
        media = tuple(m.value for m in reading.media) if reading else ()
        language = reading.language if reading else None
        if self.state is State.AUTHORIZING and pending is not None:
            auth = pending.authorization
            if pending.phase == "pin":
                return payment_screen(
                    "pin",
                    amount=auth.amount,
                    currency=auth.currency,
                    pin_digits=pending.pin_digits,
                    language=language,
                    hint=PIN_HINT,
                )
            return payment_screen(
                "processing", amount=auth.amount, currency=auth.currency, language=language
            )
        assert reading is not None
        amount = None if reading.hide_amount else reading.amount
        if self.state is State.CARD:
            return payment_screen(
                "processing",
                amount=amount,
                currency=reading.currency if amount is not None else None,
                message="Card read",
                language=language,
            )
        return payment_screen(
            "present_card",
            amount=amount,
            currency=reading.currency if amount is not None else None,
            media=media,
            title=reading.title,
            message=reading.message,
            language=language,
        )

    def _end(self, batch: _Batch, now: datetime, *, force_screen: bool = False) -> list[Effect]:
        if not self.flow_owns_display:
            self.held = False
        head: list[Effect] = []
        if (self.online, self.state) != (batch.online, batch.state):
            head.append(StateChanged(self.online, self.state.value, batch.online, batch.state))
        screen = self._desired_screen()
        if force_screen or screen != self.screen:
            self.screen = screen
            head.append(ScreenChanged(screen))
            batch.activity = True
        # A notification stays up for its timeout once it is on the display.
        if self.message is not None and self.screen == self.message:
            if MESSAGE_TIMER not in self.timers:
                self._set_timer(MESSAGE_TIMER, self.message_timeout or self.timeouts.message, now)
        else:
            self.timers.pop(MESSAGE_TIMER, None)
        # Screensaver after inactivity (§4.3 "By default this is after 30 second[s]").
        if self._screensaver_allowed() and not self.screensaver:
            if batch.activity or SCREENSAVER_TIMER not in self.timers:
                self._set_timer(SCREENSAVER_TIMER, float(self.timeouts.screensaver or 0), now)
        else:
            self.timers.pop(SCREENSAVER_TIMER, None)
        timers: list[Effect] = [CancelTimer(n) for n in batch.timers if n not in self.timers]
        for name, due in self.timers.items():
            if batch.timers.get(name) != due:
                seconds = (datetime.fromisoformat(due) - now).total_seconds()
                timers.append(StartTimer(name, max(seconds, 0.0)))
        return head + batch.effects + timers

    # --- persistence ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "serial_number": self.serial_number,
            "model": self.model,
            "test_firmware": self.test_firmware,
            "currency": self.currency,
            "timeouts": self.timeouts.to_dict(),
            "online": self.online,
            "state": self.state.value,
            "screen": self.screen.to_dict(),
            "app_screen": self.app_screen.to_dict() if self.app_screen else None,
            "app_screensaver": self.app_screensaver,
            "held": self.held,
            "message": self.message.to_dict() if self.message else None,
            "message_timeout": self.message_timeout,
            "screensaver": self.screensaver,
            "reading": self.reading.to_dict() if self.reading else None,
            "card": self.card.to_dict() if self.card else None,
            "pending": self.pending.to_dict() if self.pending else None,
            "sessions": [s.to_dict() for s in self.sessions.values()],
            "queue": list(self.queue),
            "forced_outcome": self.forced_outcome,
            "timers": dict(self.timers),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, acquirer: Acquirer) -> Device:
        device = cls(
            data["serial_number"],
            data["model"],
            acquirer=acquirer,
            currency=data.get("currency") or "EUR",
            timeouts=Timeouts.from_dict(data.get("timeouts")),
            test_firmware=bool(data.get("test_firmware")),
        )
        device.online = bool(data["online"])
        device.state = State(data["state"])
        device.screen = Screen.from_dict(data["screen"])
        device.app_screen = Screen.from_dict(data["app_screen"]) if data.get("app_screen") else None
        device.app_screensaver = bool(data.get("app_screensaver", True))
        device.held = bool(data.get("held"))
        device.message = Screen.from_dict(data["message"]) if data.get("message") else None
        device.message_timeout = _seconds(data.get("message_timeout"))
        device.screensaver = bool(data.get("screensaver"))
        device.reading = ReadingRequest.from_dict(data["reading"]) if data.get("reading") else None
        device.card = PresentedCard.from_dict(data["card"]) if data.get("card") else None
        device.pending = (
            PendingAuthorization.from_dict(data["pending"]) if data.get("pending") else None
        )
        device.sessions = {
            s["session_id"]: PaymentSession.from_dict(s) for s in data.get("sessions") or []
        }
        device.queue = [dict(e) for e in data.get("queue") or []]
        device.forced_outcome = data.get("forced_outcome")
        device.timers = dict(data.get("timers") or {})
        return device


def _seconds(value: Any) -> float | None:
    """Stored JSON gives numbers back as Decimal (emulator.jsonio); timers want floats."""
    return float(value) if value is not None else None
